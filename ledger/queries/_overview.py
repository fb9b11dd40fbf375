"""The Overview's figures from one scan: the tiles' totals for the view and the period before it, spend
per bucket and model, the top projects and API keys, the unpriced models and the currencies converted.

Why one query: each of these is a small group-by over the same rows, and asked one by one they scanned
the window's rollups six times on every filter change (a tenth of a second each at 10M records). One
scan of the window and the period before it, grouped by every key any of them needs (a few thousand
groups), then those groups summed per figure, gives every one of them (each measure is a sum, a min or a
max: ledger.queries._measures); each figure is the one its own function answers (`spend_summary`,
`spend_over_time`, `top_contributors`, `unpriced_models`, `conversion`: tests/ledger/test_overview_figures.py
compares them).

Why in two steps: the finest groups (`overview_groups`) are grouped by the model, project, API key and
source too, so those of a window without dimension filters answer every filter of the sidebar on it: a
filter change regroups a few thousand cached rows instead of scanning the window's rollups again
(65 ms at 10M records; pages/_data.py keeps the unfiltered groups of each window), and the latency histograms
of both periods per model, project, API key and source are kept beside them, so the tiles' percentiles are a
regroup too (a histogram query took 50 ms of a filter change). A window with more than
MAX_GROUPS groups keeps none, and each view of it reads its own (filtered) groups.

Why the regroup is Arrow's: the groups are kept as Arrow tables, and a view's figures are summed with
pyarrow (`_kept`, `_summed`), each from the columns it needs, and sorted there, so only the few small tables
drawn become pandas frames; the series and the forecast's days too are summed per local bucket in Arrow
(`_series`, with `by_bucket`'s rules: its buckets, its ranking of the top models), where a pandas groupby alone
cost 2-3 ms on these few rows. The same figures from one DuckDB GROUPING SETS statement over the cached
pandas frame took 50-65 ms a filter change at 10M records (registering the frame, 12-16 ms of the statement for
6000 rows, pandas slicing its wide result per figure, and `by_bucket` twice); now 10-20 ms.

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

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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
from ._engine import OTHER, lump, quantum, query, slot_sql, slots_to_buckets
from ._filters import GRAINS, Filters, check_choice
from ._latency import binned, summaries, summaries_of, window_rows
from ._measures import MEASURES_BY_NAME, Measure, aggregates, measures

_TOP_COLUMNS = ("spend", "requests", "tokens", "unpriced_requests")
_EXTRA = ("simulated_rows", "first_at", "last_at", "tokens", "unpriced_tokens", "priced_requests", "priced_tokens")
_CONVERTED = {"requests": "requests", "unconverted_requests": "missing_requests", "unconverted_cost": "missing_cost"}
"""The currency rows' measures -> `rates_used`' columns."""
_NAMES = tuple(dict.fromkeys((*SUMMARY_NAMES, *_BY_MODEL_COLUMNS, *_EXTRA, "unconverted_cost")))
_FILTERED = {"model": "k_model", "project": "k_project", "api_key": "k_api_key", "source": "k_source"}
"""Each dimension filter (Filters.dimension_filters) -> the finest groups' column it is answered from: the
dimension's own expression (`_dim`), so `k_model IN (...)` keeps exactly the rows `model IN (...)` does."""
_LATENCY_KEYS = {column: _dim(dim) for dim, column in _FILTERED.items()}
"""The finest latency histogram rows' columns beside the period and the bin (`OverviewGroups.latency`)."""
_FINEST = (
    "period",
    "forecast",
    "slot",
    "forecast_slot",
    "k_model",
    "k_project",
    "k_api_key",
    "currency",
    "day",
    "k_source",
)
"""The finest groups' keys. `period`: 1 for the view, 0 for the period before it, NULL for neither; `forecast`:
whether the row is in the month-end forecast's window; `slot`, `forecast_slot`: the UTC slots of the view's
series and of the forecast's; `day`: the UTC day (for the currency rates); `k_*`: each dimension filter's column."""


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
    frame: pa.Table | None
    """One row per finest group (`_FINEST` and every measure), an Arrow table (each view sums it in Arrow, with no
    copy into pandas: `overview_figures`); None when no file covers the window, or when it starts inside a UTC
    hour (a zone offset by 30 or 45 minutes: a rollup hour would straddle its periods, so `overview_figures`
    asks each figure on its own)."""
    latency: pa.Table | None = None
    """The latency histogram rows of the view and the period before it (`binned`: `k` the period, 1 for the view
    and 0 for the one before, each `_FILTERED` column, `lat_bin`, `n`), an Arrow table, whose sum over a view's
    dimension filters gives its percentiles; None beyond MAX_GROUPS rows (each view then reads its own
    histograms)."""
    scans: tuple[int, int] = (0, 0)
    """`window_rows` of the period before the view and of the view: whether a small slice's percentiles may
    be read exactly (ledger.queries._latency), known before any filter."""
    oversize: bool = False
    """More than MAX_GROUPS: no frame kept, and these groups answer no view."""

    def answers(self, filters: Filters, grain: str) -> bool:
        """Whether these groups hold `filters`' figures: read for the same window, zone, scope and grain, with no
        dimension filter or with exactly `filters`' own."""
        return not self.oversize and self.grain == grain and self.filters in (filters, filters.unfiltered())


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
    scans = (window_rows(data_dir, before), window_rows(data_dir, filters))
    return OverviewGroups(
        filters=filters,
        grain=grain,
        now=now,
        frame=None if frame is None else pa.Table.from_pandas(frame, preserve_index=False),
        latency=_NO_LATENCY if latency is None else pa.Table.from_pandas(latency, preserve_index=False),
        scans=scans,
    )


_NO_LATENCY = pa.table(
    {
        "k": pa.array([], pa.int32()),
        **{c: pa.array([], pa.string()) for c in _LATENCY_KEYS},
        "lat_bin": pa.array([], pa.int32()),
        "n": pa.array([], pa.int64()),
    }
)
"""The latency rows when no file covers the periods: none, as `binned` of a view of them would find."""


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
    finest = None if groups.frame is None else _kept(groups.frame, filters)
    if finest is None:
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
    if groups.latency is None:  # both periods' latency from one query
        now_ms, before_ms = summaries(data_dir, [filters, before])
    else:
        histograms = _frame(_kept(groups.latency, filters).select(["k", "lat_bin", "n"]))
        before_ms, now_ms = summaries_of(data_dir, [before, filters], histograms, groups.scans)
    periods = _summed(finest, ("period",), SUMMARY_NAMES)
    summed = _frame(periods)
    row = {p: summed.iloc[i] for i, p in enumerate(periods["period"].to_pylist()) if p is not None}
    view = finest.filter(pc.equal(finest["period"], 1))
    return OverviewFigures(
        current=summary_of(data_dir, filters, row.get(1), now_ms),
        previous=summary_of(data_dir, before, row.get(0), before_ms),
        by_model=_series(view, "slot", {"k_model": "model"}, TOTALS, filters, grain, top),
        projects=_top(view, "project", n),
        api_keys=_top(view, "api_key", n),
        unpriced=unpriced_of(_by_model(view)),
        conversion=_conversion(data_dir, view),
        forecast=forecast_of(
            _series(finest.filter(finest["forecast"]), "forecast_slot", {}, measures("spend"), ahead, "day", None),
            ahead,
        )
        if folded
        else month_forecast(data_dir, filters, ahead.end_at),
    )


def _kept(finest: pa.Table, filters: Filters) -> pa.Table:
    """The rows of `finest` that `filters`' dimension filters keep: each `_FILTERED` column's value among the
    picked ones, none when the scope denies every row; `dimension_sql`'s clauses (a NULL is in no `IN` list) in
    Arrow, since the same WHERE by DuckDB over the cached table took ~5 ms a table against 0.3 ms."""
    if filters.denies_all:
        return finest.slice(0, 0)
    mask = None
    for dim, values in filters.dimension_filters().items():
        column = finest[_FILTERED[dim]]
        if pa.types.is_null(column.type):  # no value to tell its type (an empty read): every one NULL, none kept
            return finest.slice(0, 0)
        kept = pc.is_in(column, value_set=pa.array(values, column.type))
        mask = kept if mask is None else pc.and_(mask, kept)
    return finest if mask is None else finest.filter(mask)


def _summed(rows: pa.Table, keys: tuple[str, ...], names: Sequence[str]) -> pa.Table:
    """`rows` grouped by `keys` (a NULL key is a group), then each measure in `names` under its own name, combined
    as it adds up (a sum, a min or a max: ledger.queries._measures)."""
    how = {name: str(MEASURES_BY_NAME[name].combine) for name in names}
    grouped = rows.group_by(list(keys), use_threads=False).aggregate(list(how.items()))
    return pa.table({**{k: grouped[k] for k in keys}, **{n: grouped[f"{n}_{c}"] for n, c in how.items()}})


def _frame(table: pa.Table) -> pd.DataFrame:
    """`table` in pandas as DuckDB's `fetchdf` gives its figures: an empty one's text columns of no type (object)."""
    df = table.to_pandas(use_threads=False)  # threads cost more than they save on a few rows
    if table.num_rows:
        return df
    return df.astype(
        {f.name: object for f in table.schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)}
    )


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


def _series(
    rows: pa.Table,
    slot: str,
    keys: dict[str, str],
    aggregates: dict[str, Measure],
    filters: Filters,
    grain: str,
    top: int | None,
) -> pd.DataFrame:
    """As `spend_over_time(filters, "model", grain, top)` (`keys` {"k_model": "model"}) or `spend_over_time(filters,
    None, grain)` (no keys; the forecast reads its spend only): `by_bucket`'s rows, summed in Arrow from the finest
    `rows` (each `slot`'s local bucket from `slots_to_buckets`, the keys beyond `top` lumped as `lump` ranks them,
    a NULL key left out as pandas' groupby leaves it), so that only the result becomes a pandas frame."""
    names = [*keys.values()]
    rows = rows.select([slot, *keys, *aggregates]).rename_columns(["slot", *names, *aggregates])
    slots = rows["slot"].unique().sort()  # in order, so that the views of a window share their `_buckets`
    codes, buckets = _buckets(tuple(slots.to_pylist()), quantum(filters, grain), grain, filters.timezone)
    rows = rows.append_column("bucket", codes.take(pc.index_in(rows["slot"], value_set=slots)))
    if top is not None:
        (key,) = names
        rows = rows.set_column(rows.schema.get_field_index(key), key, _lumped(rows, key, top, ("spend", "requests")))
    for key in names:
        rows = rows.filter(pc.is_valid(rows[key]))
    summed = _summed(rows, ("bucket", *names), tuple(aggregates))
    summed = summed.take(pc.sort_indices(summed, sort_keys=[(c, "ascending") for c in ("bucket", *names)]))
    df = _frame(summed.drop_columns(["bucket"]))
    df.insert(0, "bucket", buckets.take(summed["bucket"].to_numpy()))
    return df


@lru_cache(maxsize=64)
def _buckets(slots: tuple[int, ...], seconds: int, grain: str, timezone: str) -> tuple[pa.Array, pd.DatetimeIndex]:
    """Each slot's local bucket (`slots_to_buckets`), as a code into the buckets in time order. Kept: a window's
    views share their slots."""
    local = slots_to_buckets(pd.Series(slots, dtype="int64"), seconds, grain, timezone)
    codes, buckets = pd.factorize(local, sort=True)
    return pa.array(codes), buckets


def _lumped(rows: pa.Table, key: str, n: int, rank: tuple[str, ...]) -> pa.ChunkedArray:
    """`rows[key]` with every value outside the n largest (by the sums of `rank`, then name) set to OTHER, as
    `lump` (which ranks them) sets it in a frame of those rows."""
    values = rows[key]
    few = values.null_count == 0 and (not len(values) or pc.count_distinct(values).as_py() <= n)
    if few:  # every value among the n largest: none lumped (`lump` would return them as they are)
        return values
    totals = _frame(_summed(rows, (key,), rank))
    kept = totals[key][lump(totals, key, n, rank) == totals[key]]
    return pc.if_else(pc.is_in(values, value_set=pa.array(kept.tolist(), values.type)), values, OTHER)


def _ordered(rows: pa.Table, *keys: str) -> pa.Table:
    """`rows` by spend, then requests (largest first), then `keys` (smallest first), as `ORDER BY spend DESC,
    requests DESC, <keys>`."""
    order = [("spend", "descending"), ("requests", "descending"), *((key, "ascending") for key in keys)]
    return rows.take(pc.sort_indices(rows, sort_keys=order))


def _top(view: pa.Table, dim: str, n: int) -> pd.DataFrame:
    """As `top_contributors(filters, dim, n)`: the n largest by spend (then requests, then name), with `share`."""
    rows = _summed(view, (f"k_{dim}",), _TOP_COLUMNS).rename_columns([dim, *_TOP_COLUMNS])
    spend = rows["spend"].to_numpy()
    total = float(np.nansum(spend))  # as pandas sums a column: NaN left out
    share = spend / total if total else np.full(len(spend), np.nan)
    return _frame(_ordered(rows.append_column("share", pa.array(share, pa.float64())), dim).slice(0, int(n)))


def _by_model(view: pa.Table) -> pd.DataFrame:
    """As ledger.queries._costs._by_model (ordered by spend, then requests, then model)."""
    rows = _summed(view, ("k_model",), _BY_MODEL_COLUMNS).rename_columns(["model", *_BY_MODEL_COLUMNS])
    return _frame(_ordered(rows, "model"))


def _conversion(data_dir: Path, view: pa.Table) -> list[RateUsed]:
    """As `conversion(filters)`: per currency other than the display one, per UTC day."""
    target = fx.display().currency.upper()
    foreign = view.filter(pc.not_equal(view["currency"], target))  # a NULL currency is left out too
    if not foreign.num_rows:
        return rates_used(data_dir, None, target)
    rows = _summed(foreign, ("currency", "day"), tuple(_CONVERTED)).rename_columns(
        ["currency", "day", *_CONVERTED.values()]
    )
    order = pc.sort_indices(rows, sort_keys=[("currency", "ascending"), ("day", "ascending")])
    return rates_used(data_dir, _frame(rows.take(order)), target)
