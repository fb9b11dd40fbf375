"""Typed data functions over the ledger: what the dashboard pages and the alerts engine ask.

Why here and not in the pages: the alerts engine must compute the very same figures without
Streamlit, and pages stay thin (read widgets, call one function, render). Every function
takes `(data_dir, filters, ...)`, reads only the day partitions the window touches, and
returns a pandas DataFrame or a small frozen dataclass.

Conventions, so two callers never disagree:
- spend is the sum of `cost` over priced rows; unpriced rows (null cost) are never counted
  as 0 but reported as `unpriced_requests`.
- money is in the display currency (the config's `currency`): each row is converted at its
  UTC day's reference rate (ledger.pricing.fx); a row with no rate is left out of spend and counted
  as `unconverted_requests` (never taken at 1.0); `conversion()` says which rates were used.
- requests and tokens include aggregated rows (provider usage APIs, `request_count` = N).
- error rate, 429 rate, retries and latency use per-request rows only (`aggregated` false):
  error rate = status >= 400 over per-request rows; 429 rate = status 429 over the same.
- time buckets are tz-aware timestamps in the filters' time zone.
- latency percentiles are exact (read from the raw rows); everything else is read from the
  hourly rollups for the window's whole UTC hours (see `update_rollups`) and from raw rows for
  the part-hours at its edges (a window ending now), or from raw rows alone where local hours
  are not UTC hours, with identical results.

Example:
    >>> from datetime import UTC, date, datetime
    >>> from pathlib import Path
    >>> from tests.builders import build_ledger
    >>> _ = build_ledger(Path("data"), n_records=2000, days=3, seed=7, end=datetime(2026, 11, 25, 12, tzinfo=UTC))
    >>> f = Filters.for_dates(date(2026, 11, 23), date(2026, 11, 25), "Europe/Paris")
    >>> summary = spend_summary(Path("data"), f)
    >>> summary.requests, round(summary.spend, 2)
    (2129, 0.89)
"""

from ._billing import count_429s, measured_by_model, peak_minute_tokens
from ._core import (
    EMPTY_SUMMARY,
    MEASURES,
    VALUE_DIMS,
    Summary,
    breakdown,
    dimension_values,
    hourly_spend,
    latency_percentiles,
    latency_summary,
    reliability_over_time,
    spend_over_time,
    spend_summary,
    top_contributors,
    window_values,
)
from ._costs import Forecast, RateUsed, conversion, month_forecast, unit_costs, unpriced_models
from ._engine import OTHER
from ._export import csv_bytes, neutralise, parquet_bytes
from ._filters import DIMENSIONS, GRAINS, Filters
from ._overview import OverviewFigures, OverviewGroups, overview_figures, overview_groups
from ._reliability import ratelimit_headroom, retry_impact, top_errors
from ._rollup_build import update_rollups
from ._shapes import (
    LIMIT_CAUSES,
    TOKEN_KINDS,
    UNPRICED,
    Slowest,
    holds_simulated,
    largest,
    limit_causes,
    priced_only,
    slowest,
    token_mix,
    unpriced_total,
    unpriced_values,
    value_count,
    values_in,
    with_other,
    with_price_note,
    with_tokens,
)
from ._sql import MAX_BYTES as SQL_MAX_BYTES
from ._sql import MEMORY_MB as SQL_MEMORY_MB
from ._sql import SqlRefused, check_select, run_sql
from ._status import Freshness, SourceStatus, freshness, newest_row

__all__ = [
    "DIMENSIONS",
    "EMPTY_SUMMARY",
    "GRAINS",
    "LIMIT_CAUSES",
    "MEASURES",
    "OTHER",
    "SQL_MAX_BYTES",
    "SQL_MEMORY_MB",
    "TOKEN_KINDS",
    "UNPRICED",
    "VALUE_DIMS",
    "Filters",
    "Forecast",
    "Freshness",
    "OverviewFigures",
    "OverviewGroups",
    "RateUsed",
    "Slowest",
    "SourceStatus",
    "SqlRefused",
    "Summary",
    "breakdown",
    "check_select",
    "conversion",
    "count_429s",
    "csv_bytes",
    "dimension_values",
    "freshness",
    "holds_simulated",
    "hourly_spend",
    "largest",
    "latency_percentiles",
    "latency_summary",
    "limit_causes",
    "measured_by_model",
    "month_forecast",
    "neutralise",
    "newest_row",
    "overview_figures",
    "overview_groups",
    "parquet_bytes",
    "peak_minute_tokens",
    "priced_only",
    "ratelimit_headroom",
    "reliability_over_time",
    "retry_impact",
    "run_sql",
    "slowest",
    "spend_over_time",
    "spend_summary",
    "token_mix",
    "top_contributors",
    "top_errors",
    "unit_costs",
    "unpriced_models",
    "unpriced_total",
    "unpriced_values",
    "update_rollups",
    "value_count",
    "values_in",
    "window_values",
    "with_other",
    "with_price_note",
    "with_tokens",
]
