"""A `usage_endpoint` source: page through contract v1 until caught up, writing as it goes.

Why one page at a time: each page is validated, priced, written durably, and only then is the
cursor advanced. A crash loses at most the page in flight, which the next poll fetches again
and dedupe absorbs; memory stays bounded by the page size during a long backfill.

Example:
    >>> UsageEndpointSource(source_config, context).poll()
    PollResult(records=10000, quarantined=0, pages=1)
"""

from __future__ import annotations

import gc
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pyarrow as pa

from ledger import price_rows

from ._context import Context
from ._http import RateLimiter, RetryPolicy, data_page, make_client, send
from ._records import Rejected, parse_body, parse_records
from .config import SourceConfig
from .errors import BadPageError

PATH = "/v1/usage/requests"


@dataclass(frozen=True)
class Page:
    """A page of the contract: decoded records, or already a table (fast path)."""

    data: list[Any] | None
    next_cursor: str | None
    has_more: bool
    table: pa.Table | None = None

    def parse(self) -> tuple[pa.Table, list[Rejected]]:
        if self.table is not None:
            return self.table, []
        return parse_records(self.data or [])


@dataclass(frozen=True)
class PollResult:
    records: int
    quarantined: int
    pages: int
    cursor: str | None = None


def parse_page(response: httpx.Response) -> Page:
    """Read a contract page or raise BadPageError (a failed poll, retried)."""
    fast = parse_body(response.content)
    if fast is not None:
        return Page(None, fast[1], fast[2], fast[0])
    body = data_page(response)
    cursor = body.get("next_cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise BadPageError(f"{PATH}: next_cursor must be a string, got {cursor!r}")
    return Page(body["data"], cursor, body.get("has_more") is True)


class UsageEndpointSource:
    """Polls one usage endpoint into the ledger."""

    def __init__(self, source: SourceConfig, context: Context, transport: httpx.BaseTransport | None = None,
                 policy: RetryPolicy | None = None) -> None:  # fmt: skip
        self.source = source
        self.context = context
        self.policy = policy or RetryPolicy(max_retries=source.max_retries, sleep=context.stop.wait)
        self.limiter = RateLimiter(source.max_requests_per_second, sleep=context.stop.wait)
        self.client = make_client(source, transport)

    def close(self) -> None:
        self.client.close()

    def fetch(self, cursor: str | None) -> Page:
        params: dict[str, Any] = {"limit": self.source.page_limit}
        if cursor is not None:
            params["after"] = cursor
        return send(self.client, self.source, PATH, params, self.policy, self.limiter, parse_page)  # type: ignore[no-any-return]

    def poll(self) -> PollResult:
        """Fetch and store pages until `has_more` is false (or a stop is asked).

        The next page is fetched in the background while this one is written; the cursor
        still moves only after this page's rows are durable.
        """
        ctx, name = self.context, self.source.name
        cursor = ctx.cursors.get(name)
        records = quarantined = pages = 0
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"fetch-{name}") as pool:
            pending: Future[Page] = pool.submit(self.fetch, cursor)
            while True:
                page = pending.result()
                gc.collect(1)  # httpx responses sit in reference cycles; free each 5 MB body now
                moved = page.next_cursor is not None and page.next_cursor != cursor
                more = page.has_more and moved and not ctx.stop.is_set()
                if more:
                    pending = pool.submit(self.fetch, page.next_cursor)
                table, rejected = page.parse()
                records += ctx.appender.append(price_rows(table, name, ctx.book, ctx.config.currency))
                ctx.quarantine.put(name, cursor, rejected)
                quarantined += len(rejected)
                pages += 1
                if moved:
                    ctx.cursors.set(name, page.next_cursor)  # type: ignore[arg-type]
                    cursor = page.next_cursor
                if page.has_more and not moved:
                    raise BadPageError(f"source {name}: has_more is true but next_cursor did not move; stopping")
                if not more:
                    return PollResult(records, quarantined, pages, cursor)
