"""Core slices: summary, spend and reliability over time, latency, top contributors, breakdown."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from ._engine import OTHER, bucket_sql, localize_buckets, query, series
from ._filters import DIMENSIONS, GRAINS, Filters, check_choice
from ._latency import percentiles
from ._measures import EXPLORE_NAMES, MEASURES_BY_NAME, PER_REQUEST, TOTAL_NAMES, aggregates, measures

TOTALS = measures(*TOTAL_NAMES)
"""The additive totals every slice reports (see the module docstring of ledger.queries)."""
_TOTALS = aggregates(*TOTAL_NAMES)
_SUMMARY_EXTRA = aggregates("simulated_rows", "first_at", "last_at")
MEASURES: dict[str, str] = {name: MEASURES_BY_NAME[name].sql for name in EXPLORE_NAMES}
UNPRICED_CHECK = ("unpriced_requests", "priced_requests")
"""What Explore's spend comes with: the unpriced requests it leaves out, and whether any request was priced."""
"""Measure name -> SQL aggregate, for Explore and `breakdown` (from ledger.queries._measures). p95 there is
a t-digest estimate (bounded memory over any slice); the tiles' percentiles come from
ledger.queries._latency."""


@dataclass(frozen=True, kw_only=True)
class Summary:
    """Headline figures for one slice (see the module docstring for what each counts)."""

    spend: float
    requests: int
    unpriced_requests: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    measured_requests: int
    errors: int
    rate_limited: int
    spend_cap: int
    retries: int
    unconverted_requests: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    simulated_rows: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def error_rate(self) -> float | None:
        """Errors / per-request rows, None when there are none."""
        return self.errors / self.measured_requests if self.measured_requests else None

    @property
    def rate_429(self) -> float | None:
        return self.rate_limited / self.measured_requests if self.measured_requests else None

    @property
    def retry_rate(self) -> float | None:
        """Retries (attempt > 1) / per-request rows, None when there are none."""
        return self.retries / self.measured_requests if self.measured_requests else None

    def covers(self, start: datetime, end: datetime) -> bool:
        """Whether the data reaches back to (within 10% of) `start`: a fair base for a change.

        A ledger that began last week would otherwise show "+22,000%" against an empty month.
        """
        return self.first_at is not None and self.first_at - start <= (end - start) * 0.1


EMPTY_SUMMARY = Summary(
    spend=0.0,
    requests=0,
    unpriced_requests=0,
    prompt_tokens=0,
    completion_tokens=0,
    cached_tokens=0,
    measured_requests=0,
    errors=0,
    rate_limited=0,
    spend_cap=0,
    retries=0,
)


def _none_if_nan(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)  # type: ignore[arg-type]


def spend_summary(data_dir: Path, filters: Filters) -> Summary:
    """Spend, requests, tokens, errors, 429s (and spend-cap 429s), retries and p50/p95/p99 latency."""
    df = query(data_dir, filters, f"SELECT {_TOTALS}, {_SUMMARY_EXTRA} FROM rows")
    return summary_of(data_dir, filters, None if df is None or not len(df) else df.iloc[0])


SUMMARY_NAMES = (*TOTAL_NAMES, "simulated_rows", "first_at", "last_at")
"""The columns of the row `summary_of` reads."""


def summary_of(
    data_dir: Path,
    filters: Filters,
    row: pd.Series | None,
    latency: tuple[float | None, float | None, float | None] | None = None,
) -> Summary:
    """The Summary of a row of SUMMARY_NAMES (None: no file covers the window), with the slice's latency
    (`latency_summary`'s, read here unless given)."""
    if row is None or row["requests"] == 0:
        return EMPTY_SUMMARY
    p50, p95, p99 = latency_summary(data_dir, filters) if latency is None else latency
    return Summary(
        spend=float(row["spend"]),
        **{c: int(row[c]) for c in TOTAL_NAMES if c != "spend"},
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
        simulated_rows=int(row["simulated_rows"]),
        first_at=_instant(row["first_at"]),
        last_at=_instant(row["last_at"]),
    )


def latency_summary(data_dir: Path, filters: Filters) -> tuple[float | None, float | None, float | None]:
    """p50, p95, p99 latency (ms) of per-request rows; Nones when there are none (see ledger.queries._latency)."""
    df = percentiles(data_dir, filters)
    if df.empty:
        return None, None, None
    row = df.iloc[0]
    return _none_if_nan(row["p50_ms"]), _none_if_nan(row["p95_ms"]), _none_if_nan(row["p99_ms"])


def _instant(value: object) -> datetime | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})


def _dim(dim: str) -> str:
    return DIMENSIONS[check_choice("dimension", dim, list(DIMENSIONS))]


BY_SPEND = f"{MEASURES_BY_NAME['spend'].sql} DESC, {MEASURES_BY_NAME['requests'].sql} DESC"
BY_ROWS = "sum(n) DESC"
"""Rank by row count (n), not by a measure (latency_percentiles' top values)."""


def top_key(dim: str, top: int | None, rank: str = BY_SPEND, where: str = "true") -> str:
    """SQL for a dimension that keeps its `top` largest values (by `rank`) and calls the rest OTHER.

    Why: 100,000 model names made a chart of 100,000 traces (minutes in plotly); totals stay
    exact because the rest is summed into one group, not dropped. None keeps every value.
    """
    expr = _dim(dim)
    if top is None:
        return expr
    ranked = f"SELECT {expr} FROM rows WHERE {where} GROUP BY ALL ORDER BY {rank}, 1 LIMIT {int(top)}"
    return f"CASE WHEN {expr} IN ({ranked}) THEN {expr} ELSE '{OTHER}' END"


def spend_over_time(
    data_dir: Path, filters: Filters, dim: str | None = "model", grain: str = "day", top: int | None = None
) -> pd.DataFrame:
    """One row per (bucket, dim value) with the TOTALS columns (spend, requests, tokens, errors...).

    Columns: bucket (tz-aware local bucket start), <dim> (absent when dim is None), then TOTALS.
    Sorted by bucket then dim. With `top`, only the top values by spend (then requests) over
    the window keep their name; the others are summed as OTHER.
    """
    check_choice("grain", grain, GRAINS)
    keys = {dim: _dim(dim)} if dim else {}
    df = series(data_dir, filters, grain, keys, TOTALS, top=(top, ("spend", "requests")) if dim and top else None)
    return _empty(["bucket", *keys, *TOTALS]) if df is None else df


_RELIABILITY = measures(
    requests="measured_requests", errors="errors", rate_limited="rate_limited", spend_cap="spend_cap", retries="retries"
)


def reliability_over_time(
    data_dir: Path, filters: Filters, grain: str = "hour", by: str | None = None, top: int | None = None
) -> pd.DataFrame:
    """Per-request reliability per bucket: requests, errors, rate_limited, spend_cap, retries, rates.

    Without `by`: columns bucket, requests, errors, rate_limited, spend_cap, retries, error_rate,
    rate_429. With `by` (e.g. "status_class" or "error_type") the errors are split by it:
    columns bucket, <by>, count, requests (all per-request rows in the bucket), rate; with
    `top`, values beyond the `top` most frequent errors are summed as OTHER.
    """
    check_choice("grain", grain, GRAINS)
    if by is None:
        df = series(data_dir, filters, grain, {}, _RELIABILITY, where=PER_REQUEST)
        if df is None:
            return _empty(["bucket", *_RELIABILITY, "error_rate", "rate_429"])
        df["error_rate"] = df["errors"] / df["requests"]
        df["rate_429"] = df["rate_limited"] / df["requests"]
        return df
    totals = series(data_dir, filters, grain, {}, measures(requests="measured_requests"), where=PER_REQUEST)
    failed = f"{PER_REQUEST} AND status_code >= 400"
    keys = {by: _dim(by)}
    ranked = (top, ("count",)) if top else None
    errors = series(data_dir, filters, grain, keys, measures(count="errors"), failed, ranked)
    if totals is None or errors is None:
        return _empty(["bucket", by, "count", "requests", "rate"])
    df = errors.merge(totals, on="bucket", how="left")
    df["rate"] = df["count"] / df["requests"]
    return df


def latency_percentiles(data_dir: Path, filters: Filters, dim: str = "model", top: int | None = None) -> pd.DataFrame:
    """p50/p95/p99 latency (ms) per dim value over per-request rows with a latency.

    Columns: <dim>, requests, p50_ms, p95_ms, p99_ms; sorted by requests, largest first.
    Exact on small slices, from hourly histograms on large ones (see ledger.queries._latency).
    With `top`, the values beyond the `top` busiest are pooled as OTHER (their percentiles
    are those of the pooled requests).
    """
    df = percentiles(data_dir, filters, key=dim, key_sql=top_key(dim, top, BY_ROWS) if top else None, top=top)
    return df.sort_values(["requests", dim], ascending=[False, True], ignore_index=True)


def top_contributors(data_dir: Path, filters: Filters, dim: str = "project", n: int = 10) -> pd.DataFrame:
    """The n largest dim values by spend: <dim>, spend, requests, tokens, unpriced_requests, share.

    `share` is the value's part of the slice's total spend (0..1); ties broken by requests.
    """
    spend = MEASURES_BY_NAME["spend"].sql
    select = f"""SELECT {_dim(dim)} AS {dim}, {aggregates("spend", "requests", "tokens", "unpriced_requests")},
        {spend} / nullif(sum(sum(cost)) OVER (), 0) AS share
        FROM rows GROUP BY ALL ORDER BY spend DESC, requests DESC, {dim} LIMIT ?"""
    df = query(data_dir, filters, select, [int(n)])
    return _empty([dim, "spend", "requests", "tokens", "unpriced_requests", "share"]) if df is None else df


def hourly_spend(data_dir: Path, filters: Filters) -> pd.DataFrame:
    """Spend and requests for every hour of the window, zero-filled: hour (tz-aware), spend, requests."""
    df = spend_over_time(data_dir, filters, dim=None, grain="hour")
    hours = pd.date_range(
        pd.Timestamp(filters.start_at).floor("h"), pd.Timestamp(filters.end_at), freq="h", inclusive="left"
    ).tz_convert(filters.timezone)
    series = df.set_index("bucket")[["spend", "requests"]] if len(df) else pd.DataFrame(columns=["spend", "requests"])
    out = series.reindex(hours, fill_value=0).rename_axis("hour").reset_index()
    return out.astype({"spend": float, "requests": int})


ADDITIVE = tuple(n for n in EXPLORE_NAMES if MEASURES_BY_NAME[n].additive)


def breakdown(
    data_dir: Path, filters: Filters, group_by: list[str], measure: str = "spend", grain: str | None = None
) -> pd.DataFrame:
    """Explore: one measure grouped by dimensions (and a local time bucket when grain is given).

    Columns: [bucket], *group_by, <measure>; sorted by bucket then measure descending. For
    `spend`, also `unpriced_requests`, and a group with no priced request has spend NaN
    (unpriced: unknown, never drawn or summed as 0).
    """
    check_choice("measure", measure, list(MEASURES))
    keys = {d: _dim(d) for d in group_by}
    extra = UNPRICED_CHECK if measure == "spend" else ()
    columns = [*(["bucket"] if grain else []), *group_by, measure, *extra[:1]]
    if grain and measure in ADDITIVE:
        df = series(data_dir, filters, check_choice("grain", grain, GRAINS), keys, measures(measure, *extra))
    else:
        parts = [f"{expr} AS {name}" for name, expr in keys.items()]
        if grain:
            parts.insert(0, f"{bucket_sql(check_choice('grain', grain, GRAINS), filters.timezone)} AS bucket")
        figures = [f"{MEASURES_BY_NAME[m].sql} AS {m}" for m in (measure, *extra)]
        select = f"SELECT {', '.join([*parts, *figures])} FROM rows"
        raw = MEASURES_BY_NAME[measure].served == "raw"
        df = query(data_dir, filters, select + (" GROUP BY ALL" if parts else ""), raw=raw)
        if df is not None and grain:
            df["bucket"] = localize_buckets(df["bucket"], grain, filters.timezone)
    if df is None:
        return _empty(columns)
    if extra:
        df[measure] = df[measure].astype("float64").where(df["priced_requests"] > 0)
    order = ["bucket", measure] if grain else [measure]
    ascending = [True, False][-len(order) :] + [True] * len(group_by)
    return df[columns].sort_values([*order, *group_by], ascending=ascending, na_position="last", ignore_index=True)


def dimension_values(data_dir: Path, filters: Filters, dim: str, limit: int | None = None) -> list[str]:
    """Distinct values of one dimension in the window, ignoring every dimension filter.

    For the sidebar's choices: they do not shrink as filters are picked, and a filter change
    reuses the cached lists. With `limit`, the `limit` largest by spend (then requests), in
    that order; without, every value in name order.
    """
    if limit is None:
        select = f"SELECT DISTINCT {_dim(dim)} AS v FROM rows ORDER BY v"
    else:
        select = f"SELECT {_dim(dim)} AS v FROM rows GROUP BY ALL ORDER BY {BY_SPEND}, v LIMIT {int(limit)}"
    df = query(data_dir, filters.unfiltered(), select)
    return [] if df is None else [str(v) for v in df["v"]]


VALUE_DIMS = ("model", "project", "api_key", "source")
"""The dimensions a view filters on (the sidebar's, `Filters.dimension_filters`)."""


def window_values(data_dir: Path, filters: Filters) -> pd.DataFrame:
    """Every (model, project, api_key, source) the window holds, dimension filters ignored (the scope kept):
    columns VALUE_DIMS, spend, requests, simulated_rows, one row each.

    Why one frame: the sidebar's choices (`dimension_values` of each dimension), the model colours and
    whether a filtered view holds simulated rows are all answered from it (ledger.queries._shapes:
    `values_in`, `holds_simulated`), so a window costs one query, and a filter change none.
    """
    keys = ", ".join(f"{_dim(d)} AS {d}" for d in VALUE_DIMS)
    select = (
        f"SELECT {keys}, {aggregates('spend', 'requests', 'simulated_rows')} FROM rows GROUP BY ALL ORDER BY 1, 2, 3, 4"
    )
    df = query(data_dir, filters.unfiltered(), select)
    return _empty([*VALUE_DIMS, "spend", "requests", "simulated_rows"]) if df is None else df
