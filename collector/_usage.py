"""A `usage_endpoint` source: page through contract v1 until caught up, writing as it goes.

Why one page at a time: each page is validated, priced, written durably, and only then is the
cursor advanced. A crash loses at most the page in flight, which the next poll fetches again
and dedupe absorbs; memory stays bounded by the page size during a long backfill.

Example:
    >>> UsageEndpointSource(source_config, context).poll()
    PollResult(records=10000, quarantined=0, pages=1)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from ledger import price_rows

from ._context import Context
from ._http import RateLimiter, RetryPolicy, make_client, send
from ._records import parse_records
from .config import SourceConfig
from .errors import BadPageError

PATH = "/v1/usage/requests"


@dataclass(frozen=True)
class Page:
    data: list[Any]
    next_cursor: str | None
    has_more: bool


@dataclass(frozen=True)
class PollResult:
    records: int
    quarantined: int
    pages: int
    cursor: str | None = None


def parse_page(response: httpx.Response) -> Page:
    """Read a contract page or raise BadPageError (a failed poll, retried)."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise BadPageError(f"{PATH}: body is not JSON ({exc}); is the url a usage endpoint?") from None
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise BadPageError(f"{PATH}: expected an object with a 'data' list, got {str(body)[:80]!r}")
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
        """Fetch and store pages until `has_more` is false (or a stop is asked)."""
        ctx, name = self.context, self.source.name
        cursor = ctx.cursors.get(name)
        records = quarantined = pages = 0
        while True:
            page = self.fetch(cursor)
            table, rejected = parse_records(page.data)
            records += ctx.appender.append(price_rows(table, name, ctx.book, ctx.config.currency))
            ctx.quarantine.put(name, cursor, rejected)
            quarantined += len(rejected)
            pages += 1
            moved = page.next_cursor is not None and page.next_cursor != cursor
            if moved:
                ctx.cursors.set(name, page.next_cursor)  # type: ignore[arg-type]
                cursor = page.next_cursor
            if not page.has_more or ctx.stop.is_set():
                return PollResult(records, quarantined, pages, cursor)
            if not moved:
                raise BadPageError(f"source {name}: has_more is true but next_cursor did not move; stopping this poll")
