"""Enforce the budgets file's limits before a request goes upstream.

Why this split: the request path makes one atomic call on the shared state per kind of limit
that matches (a SQLite file on one host, or Redis: `_limit_store.LimitStore`), so replicas
enforce one limit together. A spend limit *reserves* the request's worst-case cost (the prompt's
estimate at the input price plus `max_tokens`, or `MODEL_OUTPUT_LIMIT`, at the output price)
against the period's spent plus reserved, before anything goes upstream; a fast client cannot
outrun it. Everything slow happens on a worker thread every `sync_seconds`: finished records are
priced with the ledger's own PriceBook (the same `cost_columns`, so the gateway's cost of a
request is the ledger's) in a pricing process, and their spend replaces their reservations in
one atomic step (a failed or refused request settles at 0). If the state cannot be read or
written, the request passes (fail open: logged, `gateway_limit_state_failures_total`) unless
`limits_fail_closed` is set (503); a failed Redis is tried again by the request path after
`RETRY_SECONDS`, and by the worker every sync.

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
import uuid
from collections import deque
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

from ._estimate import TOKEN_BILLED, request_tokens
from ._limit_ledger import Refresher
from ._limit_periods import PeriodCache, minute_of
from ._limit_prices import BOOK_SECONDS, UnitPrices, load_pricer, price_records, unit_prices
from ._limit_state import LimitState
from ._limit_store import Hold, LimitStore, Settled, SpendRow, StateReset, StateUnavailable, TokenRow
from ._metrics import Metrics
from .errors import GatewayError

log = event_logger("gateway")

Record = dict[str, Any]


class PricingUnavailable(GatewayError):
    """The pricing process failed for this batch; its records are kept for the next sync."""


Pricer = Callable[[list[Record]], list[float]]
_MAX_QUEUED = 100_000
_MAX_UNWRITTEN = 9_000
"""Batches (one per sync, 0.2 s) kept while the state is down: 30 minutes; older ones are dropped, logged."""
PRICING_TIMEOUT_S = 120
"""Off the request path; the pricing process's first start (numpy, pyarrow, the price table) can
take tens of seconds on a loaded machine, and a timeout counts that batch at 0."""
PRICING_RETRIES = 5
"""Batches whose pricing failed are kept and tried again (a new pricing process each time) this
many times in a row before they count at 0 (logged and counted), so rate limits keep working."""
MODEL_OUTPUT_LIMIT = 131_072
"""Output tokens reserved for a request that sets no `max_tokens`: the context window of Mistral's
large models (128k tokens), which bounds what one answer can generate."""
RETRY_SECONDS = 1.0
"""After Redis failed on the request path, requests skip it (fail open or closed) this long, so a
server that is down or black-holed costs no request a timeout; the worker keeps trying."""
WORKER_TIMEOUT = 2.0
"""The worker's Redis calls may take this long (a rebuild writes a replica's whole period at once);
the request path's wait is `limits_state_timeout_ms`."""
STATE_ERRORS = (sqlite3.Error, StateUnavailable, OSError)


@dataclass(frozen=True, kw_only=True)
class LimitSettings:
    state_path: Path
    state_url: str | None = None
    state_password: str | None = None
    timezone: str = "UTC"
    currency: str = "USD"
    fail_closed: bool = False
    state_timeout: float = 0.1
    sync_seconds: float = 0.2
    ledger_refresh_seconds: float = 60.0
    collector_config: Path | None = None
    """The collector's config: records and reservations are priced with its price book (`_limit_prices`)."""


@dataclass(kw_only=True)
class Verdict:
    """What the limits say about one request: refused (429 or 503) and/or soft warnings."""

    refused: Limit | None = None
    status: int = 200
    message: str = ""
    retry_after: int = 0
    warnings: list[str] = field(default_factory=list)
    held: list[Settled] = field(default_factory=list)
    """The spend reservations made for the request, settled when its record is priced."""


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
        units: UnitPrices | None = None,
    ) -> None:
        """`ledger` builds the refresher once a spend limit exists (so a gateway without one never loads pyarrow)."""
        self.limits = limits
        self.projects = projects or Projects(known=limit_projects(limits))
        self.aliases = aliases or AliasHistory(read_aliases())
        self.ledger = ledger
        self.source = source
        self.source_stamp = _stamp(source)
        self.source_pending: tuple[int, int] | None = None
        """A changed budgets file's stamp, seen once: it is read when the next look finds it the same."""
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
        self.queued: list[tuple[Record, float, list[Settled]]] = []
        self.unwritten: list[tuple[list[TokenRow], list[SpendRow], list[Settled]]] = []
        """Priced usage the state did not take yet (down): written, once, when it answers again."""
        self.hot: LimitStore | None = None
        self.worker_state: LimitStore | None = None
        self.units = units
        self.units_fixed = units is not None
        self.units_max = max(units.values(), default=(0.0, 0.0)) if units else (0.0, 0.0)
        self.units_day = ""
        self.units_at = -math.inf
        """When (time.monotonic) the token prices were asked for: again after BOOK_SECONDS (a new book)."""
        self.units_future: Any = None
        self.model_prices: dict[str | None, tuple[float, float]] = {}
        """The token prices of each model name as sent, for the UTC day of `matching` (what an alias meant)."""
        self.replica = uuid.uuid4().hex[:12]
        self.sequence = 0
        self.inflight: dict[str, list[Settled]] = {}
        """Reservations not yet settled, by request token: renewed every sync so they do not lapse."""
        self.lost: deque[Settled] = deque()
        """Reservations whose call failed on the request path: the script may have run all the same
        (a reply lost or late), so the worker releases them when the state answers again."""
        self.own: dict[tuple[str, str, int], float] = {}
        """This replica's spend per (limit, period, minute): written again if the shared state was lost."""
        self.epoch: str | None = None
        self.down_until = 0.0
        self.degraded = False
        """The state failed on its last use: /healthz says `degraded` until a sync succeeds."""
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
        self.hot = self._open(hot=True, boot=True)
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

    def _open(self, hot: bool, boot: bool = False) -> LimitStore | None:
        """SQLite's file, or a Redis client (which connects on first use: no probe at boot)."""
        settings = self.settings
        try:
            if settings.state_url is not None:
                from ._limit_redis import RedisStore

                timeout = settings.state_timeout if hot else max(settings.state_timeout, WORKER_TIMEOUT)
                return RedisStore(settings.state_url, settings.state_password, timeout)
            return LimitState(settings.state_path, settings.state_timeout, hot=hot)
        except STATE_ERRORS as exc:
            self._failed("open", exc)
            return None

    def project_of(self, sent: str | None, key_id: str | None) -> str | None:
        """The request's project: its key's binding, else the header's value normalised."""
        return self.projects.project_of(sent, key_id)

    def bound(self, key_id: str | None) -> bool:
        return key_id is not None and key_id in self.projects.bound

    def check(
        self, project: str | None, key_id: str | None, model: str | None, body: bytes = b"", endpoint: str = ""
    ) -> Verdict | None:
        """None when no limit applies; else the verdict (refused, or warnings to add, and what it reserved).

        `project` is the request's (`project_of`); `model` as the client sent it; `body` the
        request's body (its first MiB) and `endpoint` its template, for a spend limit's reservation.
        """
        if not self.limits:
            return None
        now = self.clock()
        found = self._matching(project, key_id, model, now)
        if not found:
            return None
        verdict = Verdict()
        spend = [limit for limit in found if limit.amount is not None]
        rates = [limit for limit in found if limit.requests_per_minute or limit.tokens_per_minute]
        if spend or rates:
            self._admit(verdict, spend, rates, now, self._worst_case(model, body, endpoint, now) if spend else 0.0)
        return verdict

    def _admit(self, verdict: Verdict, spend: list[Limit], rates: list[Limit], now: float, cost: float) -> None:
        """One atomic call: hold `cost` under every spend limit and count the request under every rate limit,
        unless a hard one refuses (then nothing is held or counted)."""
        hot = self._hot()
        if hot is None:
            self._unavailable(verdict, "spend" if spend else "rate")
            return
        periods = [self.periods.of(limit, now) for limit in spend]
        holds = [
            Hold(name=lim.name, period=period.id, amount=lim.amount or 0.0, cost=cost, hard=lim.hard)
            for lim, period in zip(spend, periods, strict=True)
        ]
        token = ""
        if holds:
            self.sequence += 1
            token = f"{self.replica}-{self.sequence}"
        minute = minute_of(now)
        rated = [(lim.name, lim.requests_per_minute, lim.tokens_per_minute, lim.hard) for lim in rates]
        try:
            reached, full = hot.admit(token, holds, rated, minute, now)
        except STATE_ERRORS as exc:
            self.lost.extend((token, hold.name, hold.period) for hold in holds)
            self._down("spend" if spend else "rate", exc)
            self._unavailable(verdict, "spend" if spend else "rate")
            return
        for limit, period in zip(spend, periods, strict=True):
            used = reached.get(limit.name)
            if used is None:
                continue
            message = (
                f"{limit.name}: spend limit reached; it resets at {period.end_label}"
                if limit.wide
                else f"{limit.name}: spend limit of {self.settings.currency} {limit.amount:,.2f} per "
                f"{limit.period} for {limit.scope_label()} reached ({self.settings.currency} {used:,.2f} "
                f"spent); it resets at {period.end_label}"
            )
            if self._verdict(verdict, limit, message, period.end - now):
                return
        for limit in (lim for lim in rates if lim.name in full):
            what = full[limit.name]
            per = limit.requests_per_minute if what == "requests" else limit.tokens_per_minute
            reset = (minute + 1) * 60
            message = (
                f"{limit.name}: rate limit of {per:,} {what} per minute for {limit.scope_label()} reached; "
                f"it resets at {time.strftime('%H:%M:%S', time.gmtime(reset))} UTC"
            )
            if self._verdict(verdict, limit, message, reset - now):
                return
        if holds:
            verdict.held = [(token, hold.name, hold.period) for hold in holds]
            self.inflight[token] = verdict.held

    def _worst_case(self, model: str | None, body: bytes, endpoint: str, now: float) -> float:
        """The most the request can cost: its prompt's estimate and the output it allows, at its model's prices.

        0 until the prices are loaded (the limit then counts what was spent and reserved so far, as before).
        """
        units = self.units
        if not units:
            return 0.0
        price = self.model_prices.get(model)
        if price is None:
            if len(self.model_prices) > 10_000:
                self.model_prices.clear()
            name = normal_name(model)
            price = units.get(name or "")
            if price is None and name is not None:
                price = units.get(self.aliases.resolve(name, self.matching_day) or "")
            price = self.model_prices[model] = price or self.units_max
        per_input, per_output = price
        prompt, allowed = request_tokens(body) if body else (0, None)
        output = (MODEL_OUTPUT_LIMIT if allowed is None else allowed) if endpoint in TOKEN_BILLED else 0
        return prompt * per_input + output * per_output

    def _hot(self) -> LimitStore | None:
        """The request path's store, or None while it is known down (see RETRY_SECONDS)."""
        if self.down_until and time.monotonic() < self.down_until:
            return None
        return self.hot or self._reopen()

    def _down(self, what: str, exc: BaseException) -> None:
        """A failed call on the request path; a network store is then skipped for RETRY_SECONDS (a SQLite lock
        timeout is the file's own business: the next request tries again)."""
        self._failed(what, exc)
        if self.settings.state_url is not None:
            self.down_until = time.monotonic() + RETRY_SECONDS

    def forget(self, held: list[Settled]) -> None:
        """A request whose record could not be built: its reservation lapses on its own."""
        if held:
            self.inflight.pop(held[0][0], None)

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

    def _reopen(self) -> LimitStore | None:
        self.hot = self._open(hot=True)
        return self.hot

    def _matching(self, project: str | None, key_id: str | None, model: str | None, now: float) -> list[Limit]:
        """The limits a request falls under; cached per UTC day (what an alias means changes at midnight UTC)."""
        if not self.day_span[0] <= now < self.day_span[1]:
            start = now - now % 86_400
            self.matching, self.day_span, self.model_prices = {}, (start, start + 86_400.0), {}
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

    def observe(self, record: Record, held: list[Settled] | None = None) -> None:
        """Queue a finished record for pricing and token counting (worker thread, not awaited);
        its spend settles the reservations `held` for it."""
        if self.limits and len(self.queued) < _MAX_QUEUED:
            self.queued.append((record, self.clock(), held or []))
        elif held:
            self.forget(held)

    def _take(self) -> list[tuple[Record, float, list[Settled]]]:
        taken, self.queued = self.queued, []
        return taken

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sync_seconds)
            await self.sync()

    async def sync(self) -> None:
        """One sync now, on the worker thread (after any running one): what runs every `sync_seconds`."""
        await asyncio.get_running_loop().run_in_executor(self.executor, self._sync, self._take())

    def _sync(self, records: list[tuple[Record, float, list[Settled]]]) -> None:
        """Worker thread: add the records' usage (settling their reservations), renew the others,
        refresh the ledger's figures when due, read spend back."""
        if records:
            try:
                self.unwritten.append(self._usage(records))  # priced once, written when the state answers
                self.price_retries = 0
            except PricingUnavailable:
                self.queued[:0] = records[: _MAX_QUEUED - len(self.queued)]
        try:
            state = self.worker_state = self.worker_state or self._open(hot=False)
            if state is None:
                raise StateUnavailable("the limits' state could not be opened")
            self._rebuild(state)
            if self.unwritten:
                tokens = [row for batch in self.unwritten for row in batch[0]]
                spend = [row for batch in self.unwritten for row in batch[1]]
                settled = [row for batch in self.unwritten for row in batch[2]]
                state.add_usage(tokens, spend, settled, epoch=self.epoch or "")
                self.unwritten = []
                self._settled(spend, settled)
            now = self.clock()
            self._maybe_reload()
            self._load_units(now)
            lost = [self.lost.popleft() for _ in range(len(self.lost))]  # a deque: the request path appends meanwhile
            if lost:
                try:
                    state.release(lost)
                except BaseException:
                    self.lost.extendleft(reversed(lost))
                    raise
            inflight = [hold for held in list(self.inflight.values()) for hold in held]
            if inflight:
                state.renew(inflight, now)
            if self.refresher is None and self.ledger is not None and any(lim.amount for lim in self.limits):
                self.refresher = self.ledger()
            if self.refresher is not None and now - self.last_ledger >= self.settings.ledger_refresh_seconds:
                self.last_ledger = now
                if state.claim("ledger", self.replica, 3 * self.settings.ledger_refresh_seconds, now):
                    self._refresh_ledger(state, now)
            if now - self.last_purge > 3_600:
                self.last_purge = now
                state.purge(minute_of(now) - 2, now)
                self._prune(now)
            if time.monotonic() - self.last_checkpoint >= 1.0:
                self.last_checkpoint = time.monotonic()
                state.checkpoint()
            periods = [(lim.name, self.periods.of(lim, now).id) for lim in self.limits if lim.amount is not None]
            self.spent = state.spent(periods)
            reserved = state.reserved(periods, now)
            self.metrics.limit_reserved = {name: reserved.get((name, period), 0.0) for name, period in periods}
            self.degraded, self.down_until = False, 0.0
        except StateReset as exc:
            self.epoch = None  # rebuilt on the next sync
            self._failed("sync", exc)
        except STATE_ERRORS as exc:
            self._failed("sync", exc)
        if len(self.unwritten) > _MAX_UNWRITTEN:
            log.error("limit_usage_dropped", batches=len(self.unwritten) - _MAX_UNWRITTEN)
            self.unwritten = self.unwritten[-_MAX_UNWRITTEN:]

    def _rebuild(self, state: LimitStore) -> None:
        """A state in a new life (a Redis restarted empty): write this replica's spend of the current periods
        again, and read the ledger's figure now (the lease was lost with it), so the spend is whole within one
        refresh. Each replica writes only its own spend, once per life, so nothing counts twice."""
        epoch = state.epoch()
        if epoch == self.epoch:
            return
        rows = [(name, period, minute, cost) for (name, period, minute), cost in self.own.items()]
        state.add_usage([], rows, [], epoch=epoch)
        if self.epoch is not None:
            log.warning("limit_state_rebuilt", rows=len(rows), epoch=epoch)
        self.epoch = epoch
        self.last_ledger = -math.inf

    def _settled(self, spend: list[SpendRow], settled: list[Settled]) -> None:
        for name, period, minute, cost in spend:
            key = (name, period, minute)
            self.own[key] = self.own.get(key, 0.0) + cost
        for token in {token for token, _, _ in settled}:
            self.inflight.pop(token, None)

    def _prune(self, now: float) -> None:
        """Keep this replica's own spend of the current periods only."""
        current = {(lim.name, self.periods.of(lim, now).id) for lim in self.limits if lim.amount is not None}
        self.own = {key: cost for key, cost in self.own.items() if key[:2] in current}

    def _load_units(self, now: float) -> None:
        """Each model's token prices of the UTC day, from the pricing process (not awaited: checked every sync);
        asked again every BOOK_SECONDS, as the pricing process's book may have changed."""
        if self.units_fixed or self.pricer is not None or not any(lim.amount is not None for lim in self.limits):
            return
        day = datetime.fromtimestamp(now, UTC).date().isoformat()
        future = self.units_future
        if future is not None and future.done():
            self.units_future = None
            try:
                units = future.result()
            except Exception as exc:  # the reservation counts 0 until the next try
                self._failed("price", exc)
                return
            self.units, self.units_day, self.model_prices = units, day, {}
            self.units_max = max(units.values(), default=(0.0, 0.0))
            self.metrics.limit_models_priced = len(units)
        elif future is None and (self.units_day != day or time.monotonic() - self.units_at >= BOOK_SECONDS):
            self.units_at = time.monotonic()
            try:
                self.units_future = self._pool().submit(unit_prices, day)
            except Exception as exc:  # a broken pricing process: replaced on the next try
                self._failed("price", exc)
                self._drop_pool()

    def _usage(
        self, records: list[tuple[Record, float, list[Settled]]]
    ) -> tuple[list[TokenRow], list[SpendRow], list[Settled]]:
        """Token and spend rows for the limits each record matches, and the reservations they settle;
        only records under a spend limit are priced."""
        matched = [
            (rec, at, self._matching(rec.get("project"), rec.get("api_key_id"), rec.get("model"), at))
            for rec, at, _ in records
        ]
        settled = [hold for _, _, held in records for hold in held]
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
        return tokens, spend, settled

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
                1,
                mp_context=get_context("spawn"),
                initializer=load_pricer,
                initargs=(self.settings.currency, _text(self.settings.collector_config)),
            )
        return self.pricing

    def _refresh_ledger(self, state: LimitStore, now: float) -> None:
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
        """Every 2 s, pick up an edited budgets file once it has held still for one look (a file written in
        place is empty for an instant, and an empty budgets file is a valid one with no limits); a bad
        one keeps the limits in force (logged)."""
        if self.source is None or time.monotonic() - self.last_reload < 2.0:
            return
        self.last_reload = time.monotonic()
        stamp = _stamp(self.source)
        if stamp == self.source_stamp:
            self.source_pending = None
            return
        if stamp != self.source_pending:  # changed since the last look: may be half written, read it once still
            self.source_pending = stamp
            return
        self.source_stamp, self.source_pending = stamp, None
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
        if what != "price" and what != "ledger":
            self.degraded = True
        self.metrics.limit_state_errors[what] += 1
        if self.metrics.limit_state_errors[what] % 100 == 1:
            log.error(
                "limit_state_failure",
                part=what,
                error=f"{type(exc).__name__}: {exc}",
                fail_closed=self.settings.fail_closed,
            )


def _text(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _stamp(path: Path | None) -> tuple[int, int] | None:
    try:
        info = path.stat() if path is not None else None
    except OSError:
        return None
    return None if info is None else (info.st_mtime_ns, info.st_size)
