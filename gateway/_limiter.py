"""Enforce the budgets file's limits before a request goes upstream.

Why this split: the request path does one in-memory spend comparison and, only when a rate
limit matches, one short SQLite transaction on the shared state file (so replicas enforce one
limit together). Everything slow happens on a worker thread every `sync_seconds`: finished
records are priced with the ledger's own PriceBook (the same `cost_columns`, so the gateway's
cost of a request is the ledger's) in a pricing process, their spend and tokens are added to the shared state, and
the spend of every limit's current period is read back into memory. So a spend limit reacts
within `sync_seconds` of the answer that crossed it, and a request already in flight when it was
crossed still completes. If the state cannot be read or written, the request passes (fail
open: logged, `gateway_limit_state_failures_total`) unless `limits_fail_closed` is set (503).

Time is `clock()` (seconds since the epoch), injectable so a test can cross midnight.

Example:
    >>> limits = [Limit(name="search-rpm", project="search", requests_per_minute=1)]
    >>> settings = LimitSettings(state_path=Path("limits.sqlite3"))
    >>> limiter = Limiter(limits=limits, settings=settings, metrics=Metrics(), clock=lambda: 1_764_000_000.0)
    >>> limiter.check("search", "key-0123456789abcdef", "mistral-small-latest").refused is None   # passes
    True
    >>> verdict = limiter.check("search", "key-0123456789abcdef", "mistral-small-latest")
    >>> verdict.status, verdict.refused.name, verdict.retry_after     # the minute's one request is taken
    (429, 'search-rpm', 60)
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from foundation.limit_rules import Limit, LimitBook, LimitRuleError, Projects, limit_projects, load_book, normal_name
from foundation.log import event_logger
from ledger.pricing.aliases import AliasHistory, read_aliases

from ._limit_ledger import Refresher
from ._limit_periods import PeriodCache, minute_of
from ._limit_prices import load_pricer, price_records
from ._limit_state import LimitState
from ._metrics import Metrics
from .errors import GatewayError

log = event_logger("gateway")

Record = dict[str, Any]


class PricingUnavailable(GatewayError):
    """The pricing process failed for this batch; its records are kept for the next sync."""


Pricer = Callable[[list[Record]], list[float]]
_MAX_QUEUED = 100_000
PRICING_TIMEOUT_S = 120
"""Off the request path; the pricing process's first start (numpy, pyarrow, the price table) can
take tens of seconds on a loaded machine, and a timeout counts that batch at 0."""
PRICING_RETRIES = 5
"""Batches whose pricing failed are kept and tried again (a new pricing process each time) this
many times in a row before they count at 0 (logged and counted), so rate limits keep working."""


@dataclass(frozen=True, kw_only=True)
class LimitSettings:
    state_path: Path
    timezone: str = "UTC"
    currency: str = "USD"
    fail_closed: bool = False
    state_timeout: float = 0.1
    sync_seconds: float = 0.2
    ledger_refresh_seconds: float = 60.0


@dataclass(kw_only=True)
class Verdict:
    """What the limits say about one request: refused (429 or 503) and/or soft warnings."""

    refused: Limit | None = None
    status: int = 200
    message: str = ""
    retry_after: int = 0
    warnings: list[str] = field(default_factory=list)


class Limiter:
    def __init__(
        self,
        *,
        limits: list[Limit],
        settings: LimitSettings,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
        pricer: Pricer | None = None,
        refresher: Refresher | None = None,
        ledger: Callable[[], Refresher] | None = None,
        source: Path | None = None,
        projects: Projects | None = None,
        aliases: AliasHistory | None = None,
    ) -> None:
        """`ledger` builds the refresher once a spend limit exists (so a gateway without one never loads pyarrow)."""
        self.limits = limits
        self.projects = projects or Projects(known=limit_projects(limits))
        self.aliases = aliases or AliasHistory(read_aliases())
        self.ledger = ledger
        self.source = source
        self.source_stamp = _stamp(source)
        self.last_reload = 0.0
        self.settings = settings
        self.metrics = metrics
        self.clock = clock
        self.pricer = pricer
        self.refresher = refresher
        self.periods = PeriodCache(settings.timezone)
        self.matching: dict[tuple[str, str | None, str | None], list[Limit]] = {}
        self.matching_day = date.min
        self.day_span = (0.0, 0.0)
        """The UTC day the `matching` cache holds (what an alias means changes at midnight UTC)."""
        self.spent: dict[tuple[str, str], float] = {}
        self.spend_ok = False
        self.queued: list[tuple[Record, float]] = []
        self.hot: LimitState | None = None
        self.worker_state: LimitState | None = None
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="gateway-limits")
        self.pricing: ProcessPoolExecutor | None = None
        self.price_retries = 0
        self.task: asyncio.Task[None] | None = None
        self.last_ledger = -math.inf
        self.last_purge = 0.0
        self.last_checkpoint = 0.0

    @property
    def active(self) -> bool:
        return bool(self.limits) or self.source is not None

    async def start(self) -> None:
        if not self.active:
            return
        self.hot = self._open(hot=True)
        if self.pricer is None and self.source is not None:
            self._pool().submit(price_records, [])  # loads the price book now, in the other process
        await asyncio.get_running_loop().run_in_executor(self.executor, self._sync, [])
        self.task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            await asyncio.get_running_loop().run_in_executor(self.executor, self._sync, self._take())
        self.executor.shutdown(wait=True)
        if self.pricing is not None:
            self.pricing.shutdown(wait=True, cancel_futures=True)
        for state in (self.hot, self.worker_state):
            if state is not None:
                state.close()

    def _open(self, hot: bool) -> LimitState | None:
        try:
            return LimitState(self.settings.state_path, self.settings.state_timeout, hot=hot)
        except (sqlite3.Error, OSError) as exc:
            self._failed("open", exc)
            return None

    def project_of(self, sent: str | None, key_id: str | None) -> str | None:
        """The request's project: its key's binding, else the header's value normalised."""
        return self.projects.project_of(sent, key_id)

    def bound(self, key_id: str | None) -> bool:
        return key_id is not None and key_id in self.projects.bound

    def check(self, project: str | None, key_id: str | None, model: str | None) -> Verdict | None:
        """None when no limit applies; else the verdict (refused, or warnings to add).

        `project` is the request's (`project_of`); `model` as the client sent it.
        """
        if not self.limits:
            return None
        now = self.clock()
        found = self._matching(project, key_id, model, now)
        if not found:
            return None
        verdict = Verdict()
        spend = [limit for limit in found if limit.amount is not None]
        if spend and not self.spend_ok:
            return self._unavailable(verdict, "spend")
        for limit in spend:
            period = self.periods.of(limit, now)
            used = self.spent.get((limit.name, period.id), 0.0)
            if used >= (limit.amount or 0.0):
                message = (
                    f"{limit.name}: spend limit reached; it resets at {period.end_label}"
                    if limit.wide
                    else f"{limit.name}: spend limit of {self.settings.currency} {limit.amount:,.2f} per "
                    f"{limit.period} for {limit.scope_label()} reached ({self.settings.currency} {used:,.2f} "
                    f"spent); it resets at {period.end_label}"
                )
                if self._verdict(verdict, limit, message, period.end - now):
                    return verdict
        rates = [limit for limit in found if limit.requests_per_minute or limit.tokens_per_minute]
        return self._rates(verdict, rates, now) if rates else verdict

    def _rates(self, verdict: Verdict, rates: list[Limit], now: float) -> Verdict:
        minute = minute_of(now)
        hot = self.hot or self._reopen()
        if hot is None:
            return self._unavailable(verdict, "rate")
        try:
            full = hot.take_requests(
                [(lim.name, lim.requests_per_minute, lim.tokens_per_minute, lim.hard) for lim in rates], minute
            )
        except sqlite3.Error as exc:
            self._failed("rate", exc)
            return self._unavailable(verdict, "rate")
        for limit in (lim for lim in rates if lim.name in full):
            what = full[limit.name]
            per = limit.requests_per_minute if what == "requests" else limit.tokens_per_minute
            reset = (minute + 1) * 60
            message = (
                f"{limit.name}: rate limit of {per:,} {what} per minute for {limit.scope_label()} reached; "
                f"it resets at {time.strftime('%H:%M:%S', time.gmtime(reset))} UTC"
            )
            if self._verdict(verdict, limit, message, reset - now):
                return verdict
        return verdict

    def _verdict(self, verdict: Verdict, limit: Limit, message: str, wait: float) -> bool:
        """Refuse for a hard limit (True), else note a warning."""
        if limit.hard:
            verdict.refused, verdict.status, verdict.message = limit, 429, message
            verdict.retry_after = max(1, math.ceil(wait))
            self.metrics.limit_refusals[limit.name] += 1
            return True
        verdict.warnings.append(message)
        if self.metrics.limit_warnings[limit.name] % 1000 == 0:
            log.warning("soft_limit_exceeded", limit=limit.name, message=message)
        self.metrics.limit_warnings[limit.name] += 1
        return False

    def _unavailable(self, verdict: Verdict, what: str) -> Verdict:
        self.metrics.limit_state_failures += 1
        if self.settings.fail_closed:
            verdict.status, verdict.retry_after = 503, 1
            verdict.message = (
                f"the gateway's limits state ({what}) is unavailable and limits_fail_closed is set; retry shortly"
            )
        return verdict

    def _reopen(self) -> LimitState | None:
        self.hot = self._open(hot=True)
        return self.hot

    def _matching(self, project: str | None, key_id: str | None, model: str | None, now: float) -> list[Limit]:
        """The limits a request falls under; cached per UTC day (what an alias means changes at midnight UTC)."""
        if not self.day_span[0] <= now < self.day_span[1]:
            start = now - now % 86_400
            self.matching, self.day_span = {}, (start, start + 86_400.0)
            self.matching_day = datetime.fromtimestamp(start, UTC).date()
        day = self.matching_day
        scope = self.projects.scope_of(project)
        key = (scope, key_id, model)
        found = self.matching.get(key)
        if found is None:
            if len(self.matching) > 10_000:
                self.matching.clear()
            models = self._models(model, day)
            resolve = self._resolver(day)
            found = self.matching[key] = [lim for lim in self.limits if lim.matches(scope, key_id, models, resolve)]
        return found

    def _models(self, model: str | None, day: date) -> frozenset[str]:
        """The request's model normalised, and the concrete model it meant on `day`."""
        name = normal_name(model)
        if name is None:
            return frozenset()
        return frozenset(n for n in (name, self.aliases.resolve(name, day)) if n is not None)

    def _resolver(self, day: date) -> Callable[[str], str | None]:
        return lambda model: self.aliases.resolve(model, day)

    def observe(self, record: Record) -> None:
        """Queue a finished record for pricing and token counting (worker thread, not awaited)."""
        if self.limits and len(self.queued) < _MAX_QUEUED:
            self.queued.append((record, self.clock()))

    def _take(self) -> list[tuple[Record, float]]:
        taken, self.queued = self.queued, []
        return taken

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.settings.sync_seconds)
            await loop.run_in_executor(self.executor, self._sync, self._take())

    def _sync(self, records: list[tuple[Record, float]]) -> None:
        """Worker thread: add the records' usage, refresh the ledger's figures when due, read spend back."""
        try:
            state = self.worker_state = self.worker_state or LimitState(
                self.settings.state_path, self.settings.state_timeout
            )
            if records:
                try:
                    state.add_usage(*self._usage(records))
                    self.price_retries = 0
                except PricingUnavailable:
                    self.queued[:0] = records[: _MAX_QUEUED - len(self.queued)]
            now = self.clock()
            self._maybe_reload()
            if self.refresher is None and self.ledger is not None and any(lim.amount for lim in self.limits):
                self.refresher = self.ledger()
            if self.refresher is not None and now - self.last_ledger >= self.settings.ledger_refresh_seconds:
                self.last_ledger = now
                self._refresh_ledger(state, now)
            if now - self.last_purge > 3_600:
                self.last_purge = now
                state.purge(minute_of(now) - 2)
            if time.monotonic() - self.last_checkpoint >= 1.0:
                self.last_checkpoint = time.monotonic()
                state.checkpoint()
            self.spent = state.spent(
                (lim.name, self.periods.of(lim, now).id) for lim in self.limits if lim.amount is not None
            )
            self.spend_ok = True
        except sqlite3.Error as exc:
            self.spend_ok = False
            self._failed("sync", exc)
            self.queued[:0] = records[: _MAX_QUEUED - len(self.queued)]

    def _usage(self, records: list[tuple[Record, float]]) -> tuple[list[Any], list[Any]]:
        """Token and spend rows for the limits each record matches; only records under a spend limit are priced."""
        matched = [
            (rec, at, self._matching(rec.get("project"), rec.get("api_key_id"), rec.get("model"), at))
            for rec, at in records
        ]
        priced = [rec for rec, _, found in matched if any(lim.amount is not None for lim in found)]
        costs = iter(self._costs(priced))
        tokens, spend = [], []
        for rec, at, found in matched:
            used = int(rec.get("prompt_tokens") or 0) + int(rec.get("completion_tokens") or 0)
            cost = next(costs) if any(lim.amount is not None for lim in found) else 0.0
            for limit in found:
                if limit.tokens_per_minute and used:
                    tokens.append((limit.name, minute_of(at), used))
                if limit.amount is not None and cost:
                    spend.append((limit.name, self.periods.of(limit, at).id, minute_of(at), cost))
        return tokens, spend

    def _costs(self, records: list[Record]) -> list[float]:
        """Costs from the injected pricer, else from the pricing process (the ledger's PriceBook)."""
        if not records:
            return []
        try:
            if self.pricer is not None:
                return self.pricer(records)
            return self._pool().submit(price_records, records).result(timeout=PRICING_TIMEOUT_S)
        except Exception as exc:  # pricing must never stop enforcement of the rate limits
            self._failed("price", exc)
            self._drop_pool()
            if self.price_retries < PRICING_RETRIES:
                self.price_retries += 1
                raise PricingUnavailable(str(exc)) from exc
            return [0.0] * len(records)

    def _drop_pool(self) -> None:
        """A broken or stuck pricing process is replaced on the next batch, never reused."""
        if self.pricing is not None:
            self.pricing.shutdown(wait=False, cancel_futures=True)
            self.pricing = None

    def _pool(self) -> ProcessPoolExecutor:
        """One process prices records, so numpy and pyarrow never hold this process's GIL (or memory)."""
        if self.pricing is None:
            self.pricing = ProcessPoolExecutor(
                1, mp_context=get_context("spawn"), initializer=load_pricer, initargs=(self.settings.currency,)
            )
        return self.pricing

    def _refresh_ledger(self, state: LimitState, now: float) -> None:
        """Each spend limit's ledger figure; a row is covered as a request is (`_matching`), aliases as of today."""
        assert self.refresher is not None
        day = datetime.fromtimestamp(now, UTC).date()
        for limit in self.limits:
            if limit.amount is None:
                continue
            period = self.periods.of(limit, now)

            def covers_project(project: str | None, limit: Limit = limit) -> bool:
                return limit.project is None or self.projects.scope_of(normal_name(project)) == limit.project

            def covers_model(model: str | None, limit: Limit = limit) -> bool:
                return limit.covers_model(self._models(model, day), self._resolver(day))

            try:
                found = self.refresher(limit, period.start, period.end, covers_project, covers_model)
            except Exception as exc:  # a ledger being rewritten: keep the previous figure
                self._failed("ledger", exc)
                continue
            if found is not None:
                state.set_ledger(limit.name, period.id, *found)

    def _maybe_reload(self) -> None:
        """Every 2 s, pick up an edited budgets file; a bad one keeps the limits in force (logged)."""
        if self.source is None or time.monotonic() - self.last_reload < 2.0:
            return
        self.last_reload = time.monotonic()
        stamp = _stamp(self.source)
        if stamp == self.source_stamp:
            return
        self.source_stamp = stamp
        try:
            book = load_book(self.source)
        except LimitRuleError as exc:
            log.error("limits_not_reloaded", error=str(exc), kept=len(self.limits))
            return
        self.use(book)
        self.last_ledger = -math.inf  # a new spend limit gets the ledger's figure at once
        log("limits_reloaded", limits=len(book.limits), bound_keys=len(book.projects.bound))

    def use(self, book: LimitBook) -> None:
        """Enforce `book` from now on."""
        self.limits, self.projects, self.matching, self.day_span = book.limits, book.projects, {}, (0.0, 0.0)

    def _failed(self, what: str, exc: BaseException) -> None:
        self.metrics.limit_state_errors[what] += 1
        if self.metrics.limit_state_errors[what] % 100 == 1:
            log.error(
                "limit_state_failure",
                part=what,
                error=f"{type(exc).__name__}: {exc}",
                fail_closed=self.settings.fail_closed,
            )


def _stamp(path: Path | None) -> tuple[int, int] | None:
    try:
        info = path.stat() if path is not None else None
    except OSError:
        return None
    return None if info is None else (info.st_mtime_ns, info.st_size)
