"""The ledger functions the pages read, each wrapped once in Streamlit's cache.

Why one module: every page asks the same few questions of the ledger, several times per run
(the frame, the tiles, the tables); a cached call keyed on (data dir, filters, arguments)
makes a rerun of the same view cost nothing, and a filter change is simply a new key.
`st.cache_data` keeps each function's signature and return type, so mypy checks every call.

Why keyed on the ledger's mark too (`cached`): a data_dir is hashed as its name, its
`ledger.storage.recent_mark` (the tables' versions and the stamps of the files beside them, probed
at most once a second) and the display currency in force (`fx.display()`, from the config), so a
figure is computed again right after the collector's commit, and otherwise served from the cache
until its time to live: long (`LEDGER_TTL_SECONDS`) for a figure of the ledger alone, short for one
that also depends on the clock or on what the mark does not see (each says why).

e.g. `data.spend_summary(ctx.data_dir, ctx.filters).spend` is a float, and mypy knows it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import pandas as pd
import streamlit as st

import alerts
from alerts import AlertState, AnomalyEpisode, Budget, BudgetView, anomaly_episodes
from ledger import billing, queries, storage
from ledger.billing import Headroom, PriceComparison, PriceCounts, Reconciled, SpendGauge
from ledger.pricing import fx
from ledger.queries import Filters, Freshness, OverviewFigures, OverviewGroups, RateUsed, Slowest, Summary
from ledger.queries import budgets as _budgets
from ledger.queries import savings as _savings
from ledger.queries.savings import Totals
from ledger.queries.statement import Statement
from ledger.queries.statement import statement as _build_statement
from ledger.queries.statement import statement_months as _statement_months

if TYPE_CHECKING:  # what st.cache_data returns (with .clear()); Streamlit exports no public name for it
    from streamlit.runtime.caching.cache_utils import CachedFunc

LEDGER_TTL_SECONDS = 600
"""How long a figure of the ledger alone lives. Its key changes with every commit, rollup build and file the
figure reads (the ledger mark) and with the display currency, so this only bounds what neither shows: the
Overview's forecast moving on with the clock between commits (`overview_figures`), a file some reader reads
that the mark does not watch (ledger.storage.mark.WATCHED); and it frees the entries of views nobody asks again."""
TTL_SECONDS = 30
"""How long a figure keyed on the caller's minute lives (its minute is over by then)."""
FRESHNESS_TTL_SECONDS = 10
"""How long the freshness line, the alert log and the anomalies live: they age with the clock (a source
goes stale, an episode leaves the last 30 days), and on S3 they read objects the ledger mark does not see."""
KNOWN_TTL_SECONDS = 60
KNOWN_DAYS = 90
MAX_ENTRIES = 128
"""Per function: a handful of views per session (current, previous, unfiltered), many sessions."""
GROUPS_ENTRIES = 8
"""Windows whose Overview groups are kept: a few hundred kB each, at most ~12 MB (queries.MAX_GROUPS)."""
P = ParamSpec("P")
R = TypeVar("R")


def ledger_key(data_dir: Path) -> tuple[str, str, str]:
    """How a data_dir is hashed into every key here: its name, its ledger mark (probed at most once a
    second per process: ledger.storage.recent_mark) and the display currency and rate overrides in force,
    in which every cost is converted (ledger.pricing.fx.display, from the config)."""
    return str(data_dir), repr(storage.recent_mark(data_dir)), repr(fx.display())


HASH_FUNCS: dict[str | type, Callable[[Path], object]] = {Path: ledger_key, type(Path()): ledger_key}
"""Streamlit matches a hash function by the argument's exact type: `Path(...)` is a `PosixPath` here."""


def cached(ttl: float, max_entries: int | None = MAX_ENTRIES) -> Callable[[Callable[P, R]], CachedFunc[P, R]]:
    """`st.cache_data` as every function here uses it: keyed on `ledger_key` for its data_dir, no spinner."""
    return st.cache_data(ttl=ttl, max_entries=max_entries, show_spinner=False, hash_funcs=HASH_FUNCS)


@cached(LEDGER_TTL_SECONDS)
def spend_summary(data_dir: Path, filters: Filters) -> Summary:
    return queries.spend_summary(data_dir, filters)


@cached(LEDGER_TTL_SECONDS)
def window_values(data_dir: Path, filters: Filters) -> pd.DataFrame:
    """Every (model, project, API key, source) of the window (ledger.queries.window_values): one query for the
    sidebar's choices, the model colours and the simulated badge, whatever the dimension filters."""
    return queries.window_values(data_dir, filters.unfiltered())


@cached(LEDGER_TTL_SECONDS)
def dimension_values(data_dir: Path, filters: Filters, dim: str, limit: int | None = None) -> list[str]:
    """As ledger.queries.dimension_values; the sidebar's dimensions from the window's `window_values`."""
    if dim in queries.VALUE_DIMS:
        return queries.values_in(window_values(data_dir, filters.unfiltered()), dim, limit)
    return queries.dimension_values(data_dir, filters, dim, limit)


@cached(LEDGER_TTL_SECONDS)
def simulated_view(data_dir: Path, filters: Filters) -> bool:
    """Whether the view holds simulated rows (the frame's badge), from the window's `window_values`."""
    return queries.holds_simulated(window_values(data_dir, filters.unfiltered()), filters)


@cached(LEDGER_TTL_SECONDS)
def spend_over_time(
    data_dir: Path, filters: Filters, dim: str | None = "model", grain: str = "day", top: int | None = None
) -> pd.DataFrame:
    return queries.spend_over_time(data_dir, filters, dim, grain, top)


@cached(LEDGER_TTL_SECONDS)
def priced_spend_over_time(
    data_dir: Path, filters: Filters, dim: str | None = "model", grain: str = "day", top: int | None = None
) -> pd.DataFrame:
    """`spend_over_time` without the values no request of which was priced (no spend to draw, not 0)."""
    return queries.priced_only(spend_over_time(data_dir, filters, dim, grain, top))


@cached(LEDGER_TTL_SECONDS)
def tokens_over_time(
    data_dir: Path, filters: Filters, dim: str | None = "model", grain: str = "day", top: int | None = None
) -> pd.DataFrame:
    """`spend_over_time` with `tokens` (input + output)."""
    return queries.with_tokens(spend_over_time(data_dir, filters, dim, grain, top))


@cached(LEDGER_TTL_SECONDS)
def token_mix_over_time(data_dir: Path, filters: Filters, grain: str = "day") -> pd.DataFrame:
    """Input not cached, cached input and output tokens per bucket (ledger.queries.token_mix)."""
    return queries.token_mix(spend_over_time(data_dir, filters, None, grain))


@cached(LEDGER_TTL_SECONDS)
def unit_costs(data_dir: Path, filters: Filters, top: int | None = None) -> pd.DataFrame:
    return queries.unit_costs(data_dir, filters, top)


@cached(LEDGER_TTL_SECONDS)
def unpriced_models(data_dir: Path, filters: Filters) -> pd.DataFrame:
    return queries.unpriced_models(data_dir, filters)


@cached(LEDGER_TTL_SECONDS)
def reliability_over_time(
    data_dir: Path, filters: Filters, grain: str = "hour", by: str | None = None, top: int | None = None
) -> pd.DataFrame:
    return queries.reliability_over_time(data_dir, filters, grain, by, top)


@cached(LEDGER_TTL_SECONDS)
def limit_causes_over_time(data_dir: Path, filters: Filters, grain: str = "hour") -> pd.DataFrame:
    """The 429s per bucket, throttling against the spend cap (ledger.queries.limit_causes)."""
    return queries.limit_causes(reliability_over_time(data_dir, filters, grain))


@cached(LEDGER_TTL_SECONDS)
def retry_impact(data_dir: Path, filters: Filters) -> pd.DataFrame:
    return queries.retry_impact(data_dir, filters)


@cached(LEDGER_TTL_SECONDS)
def top_errors(data_dir: Path, filters: Filters, n: int = 10) -> pd.DataFrame:
    return queries.top_errors(data_dir, filters, n)


@cached(LEDGER_TTL_SECONDS)
def latency_percentiles(data_dir: Path, filters: Filters, dim: str = "model", top: int | None = None) -> pd.DataFrame:
    return queries.latency_percentiles(data_dir, filters, dim, top)


@cached(LEDGER_TTL_SECONDS)
def slowest_p95(data_dir: Path, filters: Filters, dim: str = "model", top: int | None = None) -> Slowest | None:
    """The `dim` value with the highest p95 in `latency_percentiles` (ledger.queries.slowest)."""
    return queries.slowest(latency_percentiles(data_dir, filters, dim, top), dim)


@cached(LEDGER_TTL_SECONDS)
def ratelimit_headroom(data_dir: Path, filters: Filters, grain: str = "hour") -> pd.DataFrame:
    return queries.ratelimit_headroom(data_dir, filters, grain)


@cached(LEDGER_TTL_SECONDS)
def top_contributors(data_dir: Path, filters: Filters, dim: str = "project", n: int = 10) -> pd.DataFrame:
    return queries.top_contributors(data_dir, filters, dim, n)


@cached(LEDGER_TTL_SECONDS, GROUPS_ENTRIES)
def overview_groups(data_dir: Path, filters: Filters, grain: str = "day") -> OverviewGroups:
    """The finest groups of the window without its dimension filters (ledger.queries.overview_groups): one
    scan per window, whatever the sidebar picks on it."""
    return queries.overview_groups(data_dir, filters, grain)


@cached(LEDGER_TTL_SECONDS)
def overview_figures(
    data_dir: Path, filters: Filters, grain: str = "day", top: int | None = None, n: int = 10
) -> OverviewFigures:
    """The Overview's figures below its tiles (ledger.queries.overview_figures), summed from the window's
    `overview_groups` (their latency histogram rows too): a filter change reads no rollup. Both are keyed on the ledger
    mark, so a commit makes both new within a second. Their month-end forecast is as of the groups' read: between
    commits it only misses the clock's advance through today (the rest of today at its mean rate: at most
    LEDGER_TTL_SECONDS' share of one day's spend, 0.7%), so they live as long as the ledger's figures."""
    groups = overview_groups(data_dir, filters.unfiltered(), grain)
    return queries.overview_figures(data_dir, filters, grain, top, n, groups=groups)


def overview_spend_by_model(figures: OverviewFigures) -> pd.DataFrame:
    """`overview_figures`' spend per bucket and model without the models no request of which was priced. A shape
    of a cached answer, not cached itself: a cache would hash and copy more than this does."""
    return queries.priced_only(figures.by_model)


def overview_top(figures: OverviewFigures, dim: str) -> pd.DataFrame:
    """`overview_figures`' top `dim` values ("project" or "api_key") plus one "(other)" row (as `top_with_other`).
    A shape of a cached answer, not cached itself."""
    found = figures.projects if dim == "project" else figures.api_keys
    return queries.with_other(found, dim, figures.current)


@cached(LEDGER_TTL_SECONDS)
def breakdown(
    data_dir: Path, filters: Filters, group_by: Sequence[str], measure: str = "spend", grain: str | None = None
) -> pd.DataFrame:
    return queries.breakdown(data_dir, filters, list(group_by), measure, grain)


@cached(LEDGER_TTL_SECONDS)
def breakdown_largest(
    data_dir: Path, filters: Filters, group_by: Sequence[str], measure: str, grain: str | None, top: int
) -> pd.DataFrame:
    """The `breakdown` rows of the `top` first-group values with the largest total (what a chart can draw)."""
    df = breakdown(data_dir, filters, group_by, measure, grain)
    return queries.largest(df, group_by[0] if group_by else None, measure, top)


@cached(LEDGER_TTL_SECONDS)
def breakdown_unpriced(
    data_dir: Path, filters: Filters, group_by: Sequence[str], measure: str, grain: str | None
) -> set[str]:
    """The first-group values of a `breakdown` whose spend is unknown in every row (no priced request)."""
    df = breakdown(data_dir, filters, group_by, measure, grain)
    return queries.unpriced_values(df, group_by[0] if group_by else None, measure)


@cached(LEDGER_TTL_SECONDS)
def breakdown_unpriced_requests(
    data_dir: Path, filters: Filters, group_by: Sequence[str], measure: str, grain: str | None
) -> int:
    """The requests of a spend `breakdown` without a price, so not in its spend (ledger.queries.unpriced_total)."""
    return queries.unpriced_total(breakdown(data_dir, filters, group_by, measure, grain), measure)


@cached(LEDGER_TTL_SECONDS)
def breakdown_values(data_dir: Path, filters: Filters, group_by: Sequence[str], measure: str, grain: str | None) -> int:
    """How many first-group values a `breakdown` holds (ledger.queries.value_count)."""
    df = breakdown(data_dir, filters, group_by, measure, grain)
    return queries.value_count(df, group_by[0] if group_by else None)


@cached(LEDGER_TTL_SECONDS)
def breakdown_table(
    data_dir: Path, filters: Filters, group_by: Sequence[str], measure: str, grain: str | None, rows: int
) -> pd.DataFrame:
    """The first `rows` rows of a `breakdown`, a spend one with its price note (ledger.queries.with_price_note)."""
    df = breakdown(data_dir, filters, group_by, measure, grain).head(rows)
    return queries.with_price_note(df) if measure == "spend" else df


@cached(LEDGER_TTL_SECONDS, 8)
def run_sql(data_dir: Path, filters: Filters, sql: str, row_limit: int = 10_000) -> pd.DataFrame:
    """Explore's read-only SQL (ledger.queries.run_sql); a few results only, each up to SQL_MAX_BYTES."""
    return queries.run_sql(data_dir, filters, sql, row_limit)


@cached(LEDGER_TTL_SECONDS)
def conversion(data_dir: Path, filters: Filters) -> list[RateUsed]:
    return queries.conversion(data_dir, filters)


@cached(LEDGER_TTL_SECONDS, None)
def list_days(data_dir: Path) -> list[date]:
    """The days the ledger holds (none before the collector's first write: the frame's empty state)."""
    return storage.list_days(data_dir)


@cached(FRESHNESS_TTL_SECONDS, None)
def freshness(data_dir: Path) -> Freshness:
    """The collector's status file and the newest row: for the line under every page's title. Short-lived:
    a source goes stale with the clock, and the status is not in the ledger mark (ledger.storage.mark.FILES)."""
    return queries.freshness(data_dir)


@cached(LEDGER_TTL_SECONDS, 64)
def statement(data_dir: Path, month: str, timezone: str, currency: str, by: str) -> Statement:
    return _build_statement(data_dir, month, timezone, currency, by)


@cached(LEDGER_TTL_SECONDS)
def statement_months(data_dir: Path, current: str) -> list[str]:
    """The months with ledger days, newest first, always with `current` (this month in the page's zone)."""
    return _statement_months(data_dir, current)


@cached(KNOWN_TTL_SECONDS, None)
def known_values(data_dir: Path, timezone: str, dim: str) -> list[str]:
    """Values seen in the last 90 days: a budget naming another one is flagged, not refused. The 90 days end
    now, so this lives KNOWN_TTL_SECONDS."""
    now = datetime.now(UTC)
    return queries.dimension_values(
        data_dir, Filters(start=now - timedelta(days=KNOWN_DAYS), end=now, timezone=timezone), dim
    )


@cached(LEDGER_TTL_SECONDS)
def billed_months(data_dir: Path, today: date) -> list[str]:
    return billing.billed_months(data_dir, today)


@cached(LEDGER_TTL_SECONDS)
def reconcile(data_dir: Path, month: str, currency: str) -> list[Reconciled]:
    return billing.reconcile(data_dir, [month], currency)


@cached(LEDGER_TTL_SECONDS)
def unreadable_lines(data_dir: Path, month: str, currency: str) -> pd.DataFrame:
    return billing.unreadable_lines(data_dir, [month], currency).to_pandas()


@cached(LEDGER_TTL_SECONDS)
def compare_prices(data_dir: Path, month: str) -> list[PriceComparison]:
    """`month`'s stored price sheet against the list prices (ledger.billing.compare_prices)."""
    return billing.compare_prices(data_dir, month)


@cached(LEDGER_TTL_SECONDS)
def price_counts(data_dir: Path, month: str) -> PriceCounts:
    """`month`'s prices below and above list, and those without a list price (ledger.billing.price_counts)."""
    return billing.price_counts(compare_prices(data_dir, month))


@cached(TTL_SECONDS)
def spend_gauges(data_dir: Path, minute: datetime) -> list[SpendGauge]:
    """At `minute` (the caller's now, to the minute, so reruns within it share the answer; TTL_SECONDS)."""
    return billing.spend_gauges(data_dir, minute)


@cached(TTL_SECONDS)
def rate_headroom(data_dir: Path, minute: datetime, days: int) -> list[Headroom]:
    """Peak-minute tokens per model over the `days` before `minute`, against the latest rate-limit readings
    (an empty list without a reading)."""
    limits = billing.rate_limits(data_dir)
    return billing.rate_headroom(data_dir, minute - timedelta(days=days), minute, limits) if limits else []


@cached(TTL_SECONDS)
def budget_view(data_dir: Path, budget: Budget, timezone: str, currency: str, minute: datetime) -> BudgetView:
    """A budget's current period as the alert emails see it, at `minute` (the caller's now rounded up to the
    minute, so every row written so far counts and the reruns of that minute share one answer)."""
    period = alerts.period_of(budget.period, minute - timedelta(microseconds=1), timezone)  # the minute now is in
    return alerts.view_budget(data_dir, budget, period, timezone, currency, minute)


@cached(TTL_SECONDS)
def burn_down(data_dir: Path, filters: Filters, now: datetime, amount: float) -> pd.DataFrame:
    """A budget's remaining amount per local day up to `now` (ledger.queries.budgets.burn_down; the caller's
    minute, so TTL_SECONDS)."""
    return _budgets.burn_down(data_dir, filters, now, amount)


@cached(FRESHNESS_TTL_SECONDS, None)
def alert_state(data_dir: Path) -> AlertState:
    """The alert history and outbox as the engine last saved them (on S3 an object the ledger mark does
    not see: FRESHNESS_TTL_SECONDS bounds how late a new alert shows)."""
    return alerts.StateStore(data_dir).rows()


@cached(LEDGER_TTL_SECONDS)
def savings_caching(data_dir: Path, filters: Filters, target: float) -> pd.DataFrame:
    return _savings.caching(data_dir, filters, target)


@cached(LEDGER_TTL_SECONDS)
def savings_batch(data_dir: Path, filters: Filters, offline_projects: tuple[str, ...]) -> pd.DataFrame:
    return _savings.batch(data_dir, filters, offline_projects)


@cached(LEDGER_TTL_SECONDS)
def savings_premiums(data_dir: Path, filters: Filters) -> pd.DataFrame:
    return _savings.premiums(data_dir, filters)


@cached(LEDGER_TTL_SECONDS)
def savings_failures(data_dir: Path, filters: Filters) -> pd.DataFrame:
    return _savings.failures(data_dir, filters)


@cached(LEDGER_TTL_SECONDS)
def savings_cancelled(data_dir: Path, filters: Filters) -> tuple[int, float]:
    return _savings.cancelled_streams(data_dir, filters)


@cached(LEDGER_TTL_SECONDS)
def savings_right_sizing(data_dir: Path, filters: Filters) -> pd.DataFrame:
    return _savings.right_sizing(data_dir, filters)


@cached(LEDGER_TTL_SECONDS)
def savings_totals(data_dir: Path, filters: Filters, target: float, offline_projects: tuple[str, ...]) -> Totals:
    """Each lever's saving in all (ledger.queries.savings.totals over the cached levers)."""
    return _savings.totals(
        savings_caching(data_dir, filters, target),
        savings_batch(data_dir, filters, offline_projects),
        savings_premiums(data_dir, filters),
        savings_failures(data_dir, filters),
        savings_cancelled(data_dir, filters),
        savings_right_sizing(data_dir, filters),
    )


@cached(LEDGER_TTL_SECONDS)
def savings_lost(data_dir: Path, filters: Filters) -> pd.DataFrame:
    """Billed failures, billed retries and cancelled streams, one row each (ledger.queries.savings.lost)."""
    return _savings.lost(savings_failures(data_dir, filters), savings_cancelled(data_dir, filters))


@cached(LEDGER_TTL_SECONDS)
def savings_rows(data_dir: Path, filters: Filters, lever: str, limit: int = 1000) -> pd.DataFrame:
    return _savings.lever_rows(data_dir, filters, lever, limit)


@cached(FRESHNESS_TTL_SECONDS, None)
def anomalies(data_dir: Path, days: int = 30) -> list[AnomalyEpisode]:
    """Open anomaly episodes and those of the last `days` (from the alert engine's history), as of now: short-
    lived, as `alert_state`."""
    return anomaly_episodes(data_dir, datetime.now(UTC), days)
