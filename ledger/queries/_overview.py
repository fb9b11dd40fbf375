"""The Overview's figures from one scan: the tiles' totals for the view and the period before it, spend
per bucket and model, the top projects and API keys, the unpriced models and the currencies converted.

Why one query: each of these is a small group-by over the same rows, and asked one by one they scanned
the window's rollups six times on every filter change (a tenth of a second each at 10M records). One
scan of the window and the period before it, grouped by every key any of them needs (a few thousand
groups), then those groups summed by GROUPING SETS, gives every one of them (each measure is a sum, a
min or a max: ledger.queries._measures); each figure is the one its own function answers
(`spend_summary`, `spend_over_time`, `top_contributors`, `unpriced_models`, `conversion`:
tests/ledger/test_overview_figures.py compares them).

Why in two steps: the finest groups (`overview_groups`) are grouped by the model, project, API key and
source too, so those of a window without dimension filters answer every filter of the sidebar on it: a
filter change regroups a few thousand cached rows (a few ms) instead of scanning the window's rollups again
(65 ms at 10M records; pages/_data.py keeps the unfiltered groups of each window), and the latency histograms
of both periods per model, project, API key and source are kept beside them, so the tiles' percentiles are a
regroup too (a histogram query took 50 ms of a filter change). A window with more than
MAX_GROUPS groups keeps none, and each view of it reads its own (filtered) groups.

Example:
    >>> from datetime import UTC, date, datetime
    >>> from pathlib import Path
    >>> from tests.builders import build_ledger
    >>> _ = build_ledger(Path("data"), n_records=2000, days=6, seed=7, end=datetime(2026, 11, 25, 12, tzinfo=UTC))
    >>> f = Filters.for_dates(date(2026, 11, 23), date(2026, 11, 25), "UTC")
    >>> figures = overview_figures(Path("data"), f, "day", top=3, n=2)
    >>> figures.previous.requests > 0, len(figures.projects), figures.by_model["model"].nunique() <= 4
    (True, 2, True)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from ledger.pricing import fx

from ._core import (
    EMPTY_SUMMARY,
    SUMMARY_NAMES,
    TOTALS,
    Summary,
    _dim,
    _empty,
    spend_over_time,
    spend_summary,
    summary_of,
    top_contributors,
)
from ._costs import (
    _BY_MODEL_COLUMNS,
    Forecast,
    RateUsed,
    conversion,
    forecast_of,
    forecast_window,
    month_forecast,
    rates_used,
    unpriced_models,
    unpriced_of,
)
from ._engine import by_bucket, connection, dimension_sql, quantum, query, slot_sql
from ._filters import GRAINS, Filters, check_choice
from ._latency import binned, summaries, summaries_of, window_rows
from ._measures import MEASURES_BY_NAME, aggregates

_TOP_COLUMNS = ("spend", "requests", "tokens", "unpriced_requests")
_EXTRA = ("simulated_rows", "first_at", "last_at", "tokens", "unpriced_tokens", "priced_requests", "priced_tokens")
_SETS = {
    "period": ("period",),
    "series": ("period", "slot", "k_model"),
    "model": ("period", "k_model"),
    "project": ("period", "k_project"),
    "api_key": ("period", "k_api_key"),
    "currency": ("period", "currency", "day"),
    "forecast": ("forecast", "forecast_slot"),
}
"""Each grouping set's columns. `period`: 1 for the view, 0 for the period before it, NULL for neither;
`forecast`: whether the row is in the month-end forecast's window."""
_KEYS = ("period", "forecast", "slot", "forecast_slot", "k_model", "k_project", "k_api_key", "currency", "day")
"""The grouping columns, in the order `grouping()` reads them (bit 0 = the last). `day` (the UTC day, for the
currency rates) adds no group (a slot lies within one UTC day), nor, as a rule, does `forecast_slot` (the
same zone's day slots)."""
_NAMES = tuple(dict.fromkeys((*SUMMARY_NAMES, *_BY_MODEL_COLUMNS, *_EXTRA, "unconverted_cost")))
_FILTERED = {"model": "k_model", "project": "k_project", "api_key": "k_api_key", "source": "k_source"}
"""Each dimension filter (Filters.dimension_filters) -> the finest groups' column it is answered from: the
dimension's own expression (`_dim`), so `k_model IN (...)` keeps exactly the rows `model IN (...)` does."""
_LATENCY_KEYS = {column: _dim(dim) for dim, column in _FILTERED.items()}
"""The finest latency histogram rows' columns beside the period and the bin (`OverviewGroups.latency`)."""


def _combined(name: str) -> str:
    """A measure of the finest groups summed (or min, max) into a grouping set's, counts kept BIGINT."""
    measure = MEASURES_BY_NAME[name]
    cast = "::BIGINT" if measure.sql.endswith("::BIGINT") else ""
    return f"{measure.combine}({name}){cast} AS {name}"


_COMBINED = ", ".join(_combined(name) for name in _NAMES)


def _grouping_id(present: tuple[str, ...]) -> int:
    """`grouping(*_KEYS)` of the set grouped by `present`: a 1 bit per key it does not group by."""
    return sum(1 << (len(_KEYS) - 1 - i) for i, key in enumerate(_KEYS) if key not in present)


_IDS = {name: _grouping_id(keys) for name, keys in _SETS.items()}


@dataclass(frozen=True, kw_only=True)
class OverviewFigures:
    """What the Overview draws, for one view (see the module docstring)."""

    current: Summary
    """`spend_summary(data_dir, filters)`."""
    previous: Summary
    """`spend_summary(data_dir, filters.previous())`."""
    by_model: pd.DataFrame
    """`spend_over_time(data_dir, filters, "model", grain, top)`."""
    projects: pd.DataFrame
    """`top_contributors(data_dir, filters, "project", n)`."""
    api_keys: pd.DataFrame
    """`top_contributors(data_dir, filters, "api_key", n)`."""
    unpriced: pd.DataFrame
    """`unpriced_models(data_dir, filters)`."""
    conversion: list[RateUsed]
    """`conversion(data_dir, filters)`."""
    forecast: Forecast
    """`month_forecast(data_dir, filters, now)`."""


MAX_GROUPS = 50_000
"""Finest groups a window's unfiltered read may keep (~12 MB): a ledger with that many (model, project, key,
source, currency) groups per day slot over the window is read per view instead (each filter change scans)."""


@dataclass(frozen=True, kw_only=True)
class OverviewGroups:
    """The finest groups of a window, as of `now`: those of a window without dimension filters (its scope
    kept) answer every dimension filter on it (`overview_figures`), those of a filtered view that view only."""

    filters: Filters
    """The view they were read for (`Filters.unfiltered()` when read by `overview_groups`)."""
    grain: str
    now: datetime
    """The forecast's end, as of the read."""
    frame: pd.DataFrame | None
    """One row per finest group (`_FINEST` and every measure); None when no file covers the window, or when
    it starts inside a UTC hour (a zone offset by 30 or 45 minutes: a rollup hour would straddle its
    periods, so `overview_figures` asks each figure on its own)."""
    latency: pd.DataFrame | None = None
    """The latency histogram rows of the view and the period before it (`binned`: `k` the period, 1 for the view
    and 0 for the one before, each `_FILTERED` column, `lat_bin`, `n`), whose sum over a view's dimension
    filters gives its percentiles; None beyond MAX_GROUPS rows (each view then reads its own histograms)."""
    scans: tuple[int, int] = (0, 0)
    """`window_rows` of the period before the view and of the view: whether a small slice's percentiles may
    be read exactly (ledger.queries._latency), known before any filter."""
    oversize: bool = False
    """More than MAX_GROUPS: no frame kept, and these groups answer no view."""

    def answers(self, filters: Filters, grain: str) -> bool:
        """Whether these groups hold `filters`' figures: read for the same window, zone, scope and grain, with no
        dimension filter or with exactly `filters`' own."""
        return not self.oversize and self.grain == grain and self.filters in (filters, filters.unfiltered())


_FINEST = (*_KEYS, "k_source")


def overview_groups(
    data_dir: Path, filters: Filters, grain: str = "day", now: datetime | None = None
) -> OverviewGroups:
    """The finest groups of `filters`' window, unfiltered (see `OverviewGroups`), its forecast as of `now`; none
    kept beyond MAX_GROUPS (`oversize`)."""
    groups = _groups(data_dir, filters.unfiltered(), grain, now)
    if groups.frame is not None and len(groups.frame) > MAX_GROUPS:
        return replace(groups, frame=None, latency=None, oversize=True)
    if groups.latency is not None and len(groups.latency) > MAX_GROUPS:
        return replace(groups, latency=None)
    return groups


def _groups(data_dir: Path, filters: Filters, grain: str, now: datetime | None) -> OverviewGroups:
    """The finest groups of the rows `filters` select, dimension filters included."""
    check_choice("grain", grain, GRAINS)
    now = (now or datetime.now(filters.tz)).astimezone(filters.tz)
    if _straddled(filters):
        return OverviewGroups(filters=filters, grain=grain, now=now, frame=None)
    before, ahead = filters.previous(), forecast_window(filters, now)
    both = _read_window(filters, ahead)
    keyed = f"""SELECT *, CASE WHEN timestamp >= ? AND timestamp < ? THEN 1
            WHEN timestamp >= ? AND timestamp < ? THEN 0 END AS period,
        timestamp >= ? AND timestamp < ? AS forecast,
        {slot_sql(quantum(filters, grain))} AS slot, {slot_sql(quantum(ahead, "day"))} AS forecast_slot,
        {_dim("model")} AS k_model, {_dim("project")} AS k_project, {_dim("api_key")} AS k_api_key,
        epoch_us(timestamp) // 86400000000 AS day, {_dim("source")} AS k_source FROM rows"""
    finest = f"SELECT {', '.join(_FINEST)}, {aggregates(*_NAMES)} FROM ({keyed}) GROUP BY ALL"
    bounds = [filters.start_at, filters.end_at, before.start_at, before.end_at, ahead.start_at, ahead.end_at]
    frame = query(data_dir, both, finest, bounds, cuts=(ahead.end_at,))
    latency = binned(data_dir, [before, filters], _LATENCY_KEYS)
    if latency is None:  # no file covers the periods: no row, as `binned` of a view of them would find
        latency = pd.DataFrame({"k": [], **{c: pd.Series(dtype=str) for c in _LATENCY_KEYS}, "lat_bin": [], "n": []})
    scans = (window_rows(data_dir, before), window_rows(data_dir, filters))
    return OverviewGroups(filters=filters, grain=grain, now=now, frame=frame, latency=latency, scans=scans)


def _straddled(filters: Filters) -> bool:
    """Whether the view's start (so its previous period's end) falls inside a UTC hour."""
    return bool(filters.start_at.timestamp() % 3_600)


def _read_window(filters: Filters, ahead: Filters) -> Filters:
    """The rows to read: the view and the period before it, and the forecast's window when they overlap
    (else a gap would be read, and the forecast is asked on its own)."""
    both = filters.with_window(filters.previous().start_at, filters.end_at)
    if _folded(both, ahead):
        both = both.with_window(min(both.start_at, ahead.start_at), max(both.end_at, ahead.end_at))
    return both


def _folded(both: Filters, ahead: Filters) -> bool:
    return max(both.start_at, ahead.start_at) < min(both.end_at, ahead.end_at)


def overview_figures(
    data_dir: Path,
    filters: Filters,
    grain: str = "day",
    top: int | None = None,
    n: int = 10,
    now: datetime | None = None,
    groups: OverviewGroups | None = None,
) -> OverviewFigures:
    """The Overview's figures for `filters` (its series per `grain`, `top` models named, `n` top rows each),
    the forecast as of `now` (default: now), summed from `groups` when they answer this view (see
    `OverviewGroups.answers`; their own `now` then), else from the view's own groups read now."""
    check_choice("grain", grain, GRAINS)
    if _straddled(filters):
        return _one_by_one(data_dir, filters, grain, top, n, forecast_window(filters, now).end_at)
    if groups is None or not groups.answers(filters, grain):
        groups = _groups(data_dir, filters, grain, now)
    before, ahead = filters.previous(), forecast_window(filters, groups.now)
    folded = _folded(filters.with_window(before.start_at, filters.end_at), ahead)
    df = None if groups.frame is None else _regrouped(groups.frame, filters)
    if df is None:
        return OverviewFigures(
            current=EMPTY_SUMMARY,
            previous=EMPTY_SUMMARY,
            by_model=_empty(["bucket", "model", *TOTALS]),
            projects=_empty(["project", *_TOP_COLUMNS, "share"]),
            api_keys=_empty(["api_key", *_TOP_COLUMNS, "share"]),
            unpriced=unpriced_of(pd.DataFrame(columns=["model", *_BY_MODEL_COLUMNS])),
            conversion=[],
            forecast=forecast_of(_empty(["bucket", *TOTALS]), ahead)
            if folded
            else month_forecast(data_dir, filters, ahead.end_at),
        )
    g = df["g"].to_numpy()
    flags = {key: df[key].astype("float64").to_numpy(na_value=-1.0) for key in ("period", "forecast")}

    def part(name: str, value: int = 1) -> pd.DataFrame:
        key = "forecast" if name == "forecast" else "period"
        return df.iloc[np.flatnonzero((g == _IDS[name]) & (flags[key] == value))].reset_index(drop=True)

    current, previous = part("period"), part("period", 0)
    if groups.latency is None:  # both periods' latency from one query
        now_ms, before_ms = summaries(data_dir, [filters, before])
    else:
        periods = [before, filters]
        before_ms, now_ms = summaries_of(data_dir, periods, _regrouped_latency(groups.latency, filters), groups.scans)
    return OverviewFigures(
        current=summary_of(data_dir, filters, current.iloc[0] if len(current) else None, now_ms),
        previous=summary_of(data_dir, before, previous.iloc[0] if len(previous) else None, before_ms),
        by_model=_series(part("series"), "slot", filters, grain, top),
        projects=_top(part("project"), "project", n),
        api_keys=_top(part("api_key"), "api_key", n),
        unpriced=unpriced_of(_by_model(part("model"))),
        conversion=_conversion(data_dir, part("currency")),
        forecast=forecast_of(_series(part("forecast"), "forecast_slot", ahead, "day", None), ahead)
        if folded
        else month_forecast(data_dir, filters, ahead.end_at),
    )


def _regrouped(finest: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    """The finest groups kept by `filters`' dimension filters, summed into every grouping set (`_SETS`)."""
    sets = ", ".join(f"({', '.join(keys)})" for keys in _SETS.values())
    select = f"""SELECT grouping({", ".join(_KEYS)}) AS g, {", ".join(_KEYS)}, {_COMBINED}
        FROM finest WHERE {{where}} GROUP BY GROUPING SETS ({sets})"""
    return _kept(finest, filters, select)


def _regrouped_latency(finest: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    """The finest latency histogram rows (`OverviewGroups.latency`) kept by `filters`' dimension filters, per
    period and bin."""
    return _kept(finest, filters, "SELECT k, lat_bin, sum(n)::BIGINT AS n FROM finest WHERE {where} GROUP BY ALL")


def _kept(finest: pd.DataFrame, filters: Filters, select: str) -> pd.DataFrame:
    """`select` over the rows of `finest` that `filters`' dimension filters keep (its `{where}`)."""
    clauses, params = dimension_sql(filters, _FILTERED)
    select = select.format(where=" AND ".join(clauses) or "TRUE")
    con = connection()
    con.register("finest", finest)
    try:
        return con.execute(select, params).fetchdf()
    finally:
        con.unregister("finest")


def _one_by_one(
    data_dir: Path, filters: Filters, grain: str, top: int | None, n: int, now: datetime
) -> OverviewFigures:
    return OverviewFigures(
        current=spend_summary(data_dir, filters),
        previous=spend_summary(data_dir, filters.previous()),
        by_model=spend_over_time(data_dir, filters, "model", grain, top),
        projects=top_contributors(data_dir, filters, "project", n),
        api_keys=top_contributors(data_dir, filters, "api_key", n),
        unpriced=unpriced_models(data_dir, filters),
        conversion=conversion(data_dir, filters),
        forecast=month_forecast(data_dir, filters, now),
    )


def _series(rows: pd.DataFrame, slot: str, filters: Filters, grain: str, top: int | None) -> pd.DataFrame:
    """As `spend_over_time(filters, "model", grain, top)` (per model) or `spend_over_time(filters, None, grain)`."""
    keys = ["model"] if slot == "slot" else []
    df = rows[[slot, *(["k_model"] if keys else []), *TOTALS]].rename(columns={"k_model": "model", slot: "slot"})
    df["slot"] = df["slot"].astype("int64")
    return by_bucket(df, filters, grain, keys, TOTALS, (top, ("spend", "requests")) if top else None)


def _top(rows: pd.DataFrame, dim: str, n: int) -> pd.DataFrame:
    """As `top_contributors(filters, dim, n)`: the n largest by spend (then requests, then name), with `share`."""
    df = rows[[f"k_{dim}", *_TOP_COLUMNS]].rename(columns={f"k_{dim}": dim})
    total = float(df["spend"].sum())
    df["share"] = df["spend"] / total if total else float("nan")
    ordered = df.sort_values(["spend", "requests", dim], ascending=[False, False, True], kind="stable")
    return ordered.head(int(n)).reset_index(drop=True)


def _by_model(rows: pd.DataFrame) -> pd.DataFrame:
    """As ledger.queries._costs._by_model (ordered by spend, then requests, then model)."""
    df = rows[["k_model", *_BY_MODEL_COLUMNS]].rename(columns={"k_model": "model"})
    ordered = df.sort_values(["spend", "requests", "model"], ascending=[False, False, True], kind="stable")
    return ordered.reset_index(drop=True)


def _conversion(data_dir: Path, rows: pd.DataFrame) -> list[RateUsed]:
    """As `conversion(filters)`: per currency other than the display one, per UTC day."""
    target = fx.display().currency.upper()
    rows = rows[rows["currency"].notna() & (rows["currency"] != target)]
    renamed = {"unconverted_requests": "missing_requests", "unconverted_cost": "missing_cost"}
    df = rows[["currency", "day", "requests", *renamed]].rename(columns=renamed).astype({"day": "int64"})
    return rates_used(data_dir, df.sort_values(["currency", "day"], ignore_index=True), target)
