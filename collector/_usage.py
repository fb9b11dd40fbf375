"""A `usage_endpoint` source: page through contract v1 until caught up, writing as it goes.

Why pages in groups: each page is validated and priced; a group of pages (`COMMIT_ROWS`) is
written durably in one commit, and only then is the cursor advanced past it. A crash loses at
most the group in flight, which the next poll fetches again: the commit's batch number, or else
the dedupe, absorbs it; memory stays bounded by the group during a long backfill.

Example:
    >>> from pathlib import Path
    >>> from foundation.config import Config
    >>> from simulator import start_server
    >>> now = datetime(2026, 5, 14, 10, tzinfo=UTC)
    >>> with start_server(seed=4, days=0.5, rate=2.0, clock=now.timestamp) as sim:
    ...     source = SourceConfig(name="sim", kind="usage_endpoint", url=sim.url)
    ...     context = Context.build(Config(data_dir=Path("data"), sources=(source,)))
    ...     with UsageEndpointSource(source=source, context=context) as poller:
    ...         poller.poll()
    PollResult(records=1458, quarantined=0, pages=1, cursor='...', capped=False)
"""

from __future__ import annotations

import contextvars
import gc
import math
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self

import httpx
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from foundation.config import SourceConfig
from foundation.log import event_logger
from foundation.progress import Progress
from foundation.scrub import MASK, contains_secret
from ledger import price_rows

from ._context import Context
from ._http import RateLimiter, RetryPolicy, checked_page, make_client, scrub_body, send
from ._records import Rejected, parse_body, parse_records
from ._split import decode_page
from ._window import TimeWindow
from .errors import BadPageError, CursorCycleError

log = event_logger("collector")

PATH = "/v1/usage/requests"
COMMIT_ROWS = 10_000
"""Pages are stored in groups of at least this many records: one ledger commit each. A Delta
commit has a fixed cost (the log, the cursor files, their fsyncs) of about 10 ms of CPU besides
~1.5 us a record of parquet encoding; 30k saved ~20% of a backfill's CPU, but the failover tests
count files to catch a backfill midway, so it stays at 10k until they count commits instead."""
COMMIT_SECONDS = 5.0
"""...or of the pages fetched in this long, so a slow source's rows still land soon."""
MAX_CURSOR_CHARS = 4096


@dataclass(frozen=True, kw_only=True)
class Page:
    """A page of the contract: decoded records, or already a table (fast path).

    `rejected` holds records that could not even be decoded (found by `_split`).
    """

    data: list[Any] | None
    next_cursor: str | None
    has_more: bool
    table: pa.Table | None = None
    rejected: tuple[Rejected, ...] = ()
    window: TimeWindow | None = None

    def parse(self) -> tuple[pa.Table, list[Rejected]]:
        if self.table is not None:
            return self.table, list(self.rejected)
        table, rejected = parse_records(self.data or [], self.window)
        return table, [*self.rejected, *rejected]


@dataclass(frozen=True, kw_only=True)
class PollResult:
    records: int
    quarantined: int
    pages: int
    cursor: str | None = None
    capped: bool = False


def _decode(content: bytes, window: TimeWindow | None) -> Page:
    fast = parse_body(content, window)
    if fast is not None:
        return Page(data=None, next_cursor=fast[1], has_more=fast[2], table=fast[0])
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        split = decode_page(content, PATH)
        rejected = tuple(Rejected(u.reason, u.text) for u in split.rejected)
        return _checked(
            Page(
                data=split.records,
                next_cursor=split.next_cursor,
                has_more=split.has_more is True,
                table=None,
                rejected=rejected,
                window=window,
            )
        )
    body = checked_page(body, PATH)
    return _checked(
        Page(
            data=body["data"],
            next_cursor=body.get("next_cursor"),
            has_more=body.get("has_more") is True,
            table=None,
            rejected=(),
            window=window,
        )
    )


def _checked(page: Page) -> Page:
    cursor = page.next_cursor
    if cursor is not None and not isinstance(cursor, str):
        raise BadPageError(f"{PATH}: next_cursor must be a string, got {str(cursor)[:80]!r}")
    if cursor is not None and len(cursor) > MAX_CURSOR_CHARS:
        raise BadPageError(f"{PATH}: next_cursor is {len(cursor):,} characters (> {MAX_CURSOR_CHARS}); fix the source")
    return page


def parse_page(content: bytes, window: TimeWindow | None = None, source: str = "") -> Page:
    """Read a contract page or raise BadPageError (a failed poll, retried).

    A body that echoes the source's token is read with the token replaced by `***`, so it
    lands nowhere on disk; a next_cursor holding it is refused rather than stored.
    """
    echoed = contains_secret(content)
    if echoed:
        content = scrub_body(content)
    page = _decode(content, window)
    if echoed:
        hint = "the page held this source's token; it is stored as ***"
        log.warning("source_echoed_secret", source=source, hint=hint)
        if page.next_cursor is not None and MASK in page.next_cursor:
            raise BadPageError(f"source {source}: next_cursor holds the source's token; refusing to store it")
    return page


class Backfill:
    """A poll's progress while it pages through a long window (a backfill, a `--once` after days
    away): the days covered, from its first record to now, and the records fetched so far; a bar
    on a terminal, `progress` log lines otherwise (foundation.progress). A poll whose first page
    is its last (the collector caught up, every minute) shows nothing."""

    def __init__(self, name: str, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.name, self.now = name, now
        self.bar: Progress | None = None
        self.first: datetime | None = None
        self.records = 0
        self.caught_up = False

    def __enter__(self) -> Backfill:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(self.caught_up)

    def page(self, table: pa.Table, has_more: bool, records: int) -> None:
        self.records += records
        if table.num_rows == 0 or (self.bar is None and not has_more):
            return
        span = pc.min_max(table["timestamp"])
        low, high = span["min"].as_py(), span["max"].as_py()
        if self.bar is None or self.first is None:
            self.first = low
            total = max(1, math.ceil((self.now() - low).total_seconds() / 86_400))
            self.bar = Progress(f"backfill {self.name}", total, "days")
        self.bar.advance_to(int((high - self.first).total_seconds() // 86_400), f"{self.records:,} records")

    def close(self, caught_up: bool) -> None:
        if self.bar is None:
            return
        if caught_up:
            self.bar.advance_to(self.bar.total, f"{self.records:,} records")
        self.bar.finish()


class _Committer:
    """A poll's groups of pages, committed in a background thread one at a time, each followed by
    its cursor move, while the poll fetches and prices the next group.

    Why a thread: a commit (parquet encoding, the Delta log) takes as long as pricing a group, and
    both spend most of it outside the GIL. At most one group is in flight: `submit` first waits
    for the one before, so memory holds two groups, and the cursor still only ever moves past
    rows already committed.
    """

    def __init__(self, ctx: Context, name: str, cursor: str | None) -> None:
        self.ctx, self.name = ctx, name
        self.cursor = cursor
        """Where the stored rows end, as of the last commit waited for."""
        self.records = 0
        """Records the commits waited for added to the ledger."""
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"store-{name}")
        self._writing: Future[bool] | None = None
        self._target = cursor

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True)  # a commit in flight completes, cursor move included

    def submit(self, group: list[pa.Table], head: str | None) -> bool:
        """Wait for the commit in flight, then start this group's (which moves the cursor to
        `head`); False, starting nothing, if the one in flight found the cursor moved by another
        process."""
        if not self.settle():
            return False
        rows = pa.concat_tables(group) if group else None
        run = contextvars.copy_context().run  # the job's context: a lease fence checks its token there
        self._writing = self._pool.submit(run, self._store, rows, self.cursor, head)
        self._target = head
        return True

    def settle(self) -> bool:
        """Wait for the commit in flight (raising what it raised); False if its cursor move found
        the cursor moved by another process."""
        if self._writing is None:
            return True
        writing, self._writing = self._writing, None
        if not writing.result():
            return False
        self.cursor = self._target
        return True

    def _store(self, rows: pa.Table | None, start: str | None, end: str | None) -> bool:
        """One commit of `rows`, then the cursor from `start` to `end`; False if it was not at `start`."""
        ctx, name = self.ctx, self.name
        moving = end != start
        batch = ctx.cursors.batch(name) + 1 if moving else None
        if rows is not None:
            self.records += ctx.appender.append(rows, None if batch is None else (name, batch))
        return not moving or ctx.cursors.advance(name, start, end, batch)  # type: ignore[arg-type]


class UsageEndpointSource:
    """Polls one usage endpoint into the ledger."""

    def __init__(
        self,
        *,
        source: SourceConfig,
        context: Context,
        transport: httpx.BaseTransport | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.source = source
        self.context = context
        self.policy = policy or RetryPolicy(max_retries=source.max_retries, sleep=context.stop.wait)
        self.limiter = RateLimiter(per_second=source.max_requests_per_second, sleep=context.stop.wait)
        self.client = make_client(source, transport)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def window(self) -> TimeWindow:
        """The record timestamps accepted now (`[collector]` keys)."""
        cfg = self.context.config
        why = (
            f"[collector] max_record_age_days = {cfg.max_record_age_days}, "
            f"max_future_skew_seconds = {cfg.max_future_skew_seconds}"
        )
        return TimeWindow.around(datetime.now(UTC), cfg.max_record_age_days, cfg.max_future_skew_seconds, why)

    def fetch(self, cursor: str | None) -> Page:
        params: dict[str, Any] = {"limit": self.source.page_limit}
        if cursor is not None:
            params["after"] = cursor
        window, name = self.window(), self.source.name
        page: Page = send(
            self.client,
            self.source,
            PATH,
            params,
            self.policy,
            self.limiter,
            lambda response: parse_page(response.content, window, name),
        )
        return page

    def poll(self) -> PollResult:
        """Fetch and store pages until `has_more` is false, a stop is asked, or `max_pages_per_poll`.

        The next page is fetched in the background while this one is priced, and a group is
        committed in the background (`_Committer`) while the next one is fetched and priced. Pages
        are stored in groups of at least `COMMIT_ROWS` records (or `COMMIT_SECONDS` of fetching, or
        the poll's end): one ledger commit per group, and only then does the cursor move to the
        group's last page. A next_cursor already seen in this poll (a, b, a...) is a cycle: that page's rows
        are stored (dedupe absorbs them), the cursor stays where it was and the poll fails with
        CursorCycleError. The cursor moves by compare-and-swap from the one this poll is at; if
        another process moved it, the poll stops there (`cursor_moved`), its rows stored and deduped.
        """
        ctx, name, limit = self.context, self.source.name, self.source.max_pages_per_poll
        head = ctx.cursors.get(name)  # after the pages fetched so far
        seen = {head}
        quarantined = pages = 0
        group: list[pa.Table] = []
        grouped, since = 0, time.monotonic()

        with (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"fetch-{name}") as pool,
            _Committer(ctx, name, head) as committer,
            Backfill(name) as backfill,
        ):

            def commit() -> bool:
                """Hand the group to the committer, to be stored and then move the cursor to `head`;
                False if the commit before it found the cursor moved by another process."""
                nonlocal group, grouped, since
                rows, group = group, []
                grouped, since = 0, time.monotonic()
                return committer.submit(rows, head)

            def overtaken() -> PollResult:
                result = PollResult(records=committer.records, quarantined=quarantined, pages=pages)
                return self._overtaken(committer.cursor, result)

            pending: Future[Page] = pool.submit(self.fetch, head)
            while True:
                try:
                    page = pending.result()
                except Exception:
                    if group and not (commit() and committer.settle()):  # keep the pages fetched before it
                        return overtaken()
                    raise
                gc.collect(1)  # httpx responses sit in reference cycles; free each 5 MB body now
                nxt = page.next_cursor
                moved = nxt is not None and nxt != head
                cycle = moved and nxt in seen
                capped = page.has_more and moved and pages + 1 >= limit
                more = page.has_more and moved and not cycle and not capped and not ctx.stop.is_set()
                if more:
                    pending = pool.submit(self.fetch, nxt)
                table, rejected = page.parse()
                group.append(price_rows(table, name, ctx.book, ctx.config.currency))
                grouped += table.num_rows
                backfill.page(table, page.has_more, table.num_rows)
                ctx.quarantine.put(name, head, rejected)
                quarantined += len(rejected)
                pages += 1
                if moved and not cycle:
                    head = nxt
                    seen.add(nxt)
                due = grouped >= COMMIT_ROWS or time.monotonic() - since >= COMMIT_SECONDS
                if (due or not more) and not commit():
                    return overtaken()
                if not more and not committer.settle():
                    return overtaken()
                if cycle:
                    raise CursorCycleError(
                        f"source {name}: next_cursor {str(nxt)[:80]!r} repeats a cursor already seen in this poll "
                        f"(page {pages}); the source's cursors go round in a circle, so the poll stops with the "
                        f"cursor left at {str(committer.cursor)[:80]!r}; fix the source"
                    )
                if page.has_more and not moved:
                    raise BadPageError(f"source {name}: has_more is true but next_cursor did not move; stopping")
                if capped:
                    log.warning(
                        "poll_capped",
                        source=name,
                        pages=pages,
                        cursor=committer.cursor,
                        hint="max_pages_per_poll reached, has_more still true; the next poll continues",
                    )
                if not more:
                    backfill.caught_up = not page.has_more
                    return PollResult(
                        records=committer.records,
                        quarantined=quarantined,
                        pages=pages,
                        cursor=committer.cursor,
                        capped=capped,
                    )

    def _overtaken(self, started: str | None, result: PollResult) -> PollResult:
        """Another process moved this source's cursor during this poll (the job lock failed or was
        bypassed): this poll's rows are stored and deduped, the cursor stays where that one put it."""
        found = self.context.cursors.get(self.source.name)
        log.warning(
            "cursor_moved",
            source=self.source.name,
            expected=started,
            found=found,
            hint="another process polled this source at the same time; this poll stops and leaves the cursor "
            "to it (run one collector per data_dir)",
        )
        return PollResult(records=result.records, quarantined=result.quarantined, pages=result.pages, cursor=found)
