"""The one registry of measures: what a figure is, in SQL, and how the hourly rollups can serve it.

Why one place: "rollups change no answer" holds only while the columns a rollup stores
(`STORED`), the shape raw rows are given to look like a rollup (`raw_columns`) and every query's
aggregates (`MEASURES_BY_NAME`) agree. They used to be written out in five modules, and nothing
checked that they matched; now each is derived from the entries below, and
tests/ledger/test_rollup_parity.py checks every page figure with and without rollups.

Two layers:
- `Stored`: a column of the totals rollup. `raw` is its value on one ledger row; `combine` says
  how an hour of rows is stored (sum, min, max, or count of the rows where `raw` holds), so a
  rollup row and the raw rows it sums answer every measure alike.
- `Measure`: a figure over `rows` (rollup-shaped: a weight `n` per row, never count(*)).
  `combine` is how per-slot values of it add up ("sum" = additive, "min"/"max", or None: a
  ratio or a percentile, computed per group only); `per_request` counts only per-request rows
  (usage-API rows carry no status, latency or retry); `served` is where it is read from:
  "rollups" (hourly rollups when the window allows, raw rows else: same answer), "raw" (raw
  rows only: needs a per-row column the rollups do not keep) or "latency" (the latency
  rollup's histograms, exact from raw rows on small slices: ledger.queries._latency).

Example:
    >>> MEASURES_BY_NAME["errors"].sql
    'coalesce(sum(n) FILTER (WHERE NOT aggregated AND status_code >= 400), 0)::BIGINT'
    >>> aggregates("spend", count="errors").split(" AS ")[-1]
    'count'
"""

from __future__ import annotations

from dataclasses import dataclass

PER_REQUEST = "NOT aggregated"
"""Rows that are one request each (not a usage-API bucket)."""
SPEND_CAP = "coalesce(spend_limit_reached, false)"
LATENCY_ROWS = "NOT aggregated AND latency_ms IS NOT NULL AND NOT coalesce(batch, false)"
"""Rows whose latency is a request's latency: not usage-API buckets, not Batch API jobs (minutes to hours)."""
_RATE_LIMITED = "rl_limit_tokens_minute IS NOT NULL OR rl_limit_req_minute IS NOT NULL"


@dataclass(frozen=True)
class Stored:
    """A column of the totals rollup: its value on one raw row and how an hour of rows keeps it."""

    name: str
    raw: str
    combine: str = "sum"
    """"sum", "min", "max", or "count" (rows where `raw`, a condition, holds)."""

    @property
    def row_sql(self) -> str:
        """The column on one raw row, as the rollup would store a one-row hour."""
        return f"({self.raw})::INTEGER" if self.combine == "count" else self.raw

    @property
    def rollup_sql(self) -> str:
        """The column over an hour of raw rows."""
        if self.combine == "count":
            return "count(*)" if self.raw == "true" else f"count(*) FILTER (WHERE {self.raw})"
        return f"{self.combine}({self.raw})"


ROLLUP_KEYS = (
    "source",
    "model",
    "project",
    "api_key_id",
    "endpoint",
    "status_code",
    "error_type",
    "spend_limit_reached",
    "attempt",
    "aggregated",
    "simulated",
    "currency",
    "priced_model",
)
"""Ledger columns the totals rollup groups by: every column a dimension, a filter or a measure reads."""
DERIVED_KEYS = {"unpriced": "cost IS NULL"}
"""Keys computed from a row; `unpriced` keeps an unpriced row's null cost apart from priced ones."""
STORED = (
    Stored("n", "true", "count"),
    Stored("cost", "cost"),
    Stored("request_count", "request_count"),
    Stored("prompt_tokens", "prompt_tokens"),
    Stored("completion_tokens", "completion_tokens"),
    Stored("cached_tokens", "cached_tokens"),
    Stored("first_at", "timestamp", "min"),
    Stored("last_at", "timestamp", "max"),
    Stored("min_tokens_headroom", "rl_remaining_tokens_minute / nullif(rl_limit_tokens_minute, 0)", "min"),
    Stored("min_requests_headroom", "rl_remaining_req_minute / nullif(rl_limit_req_minute, 0)", "min"),
    Stored("rl_samples", _RATE_LIMITED, "count"),
)
LATENCY_KEYS = ("source", "model", "project", "api_key_id", "endpoint")
"""What the latency rollup's histograms are kept per (with the hour)."""


def raw_columns() -> str:
    """The columns added to raw rows (`SELECT *, ...`) to give them the totals rollup's shape."""
    added = [*(f"{sql} AS {name}" for name, sql in DERIVED_KEYS.items())]
    added += [f"{s.row_sql} AS {s.name}" for s in STORED if s.row_sql != s.name]
    return ", ".join(added)


def rollup_columns() -> str:
    """The totals rollup's keys and stored columns, for `SELECT <hour>, ... FROM <rows> GROUP BY ALL`."""
    keys = [*ROLLUP_KEYS, *(f"{sql} AS {name}" for name, sql in DERIVED_KEYS.items())]
    return ", ".join([*keys, *(f"{s.rollup_sql} AS {s.name}" for s in STORED)])


@dataclass(frozen=True, kw_only=True)
class Measure:
    """A figure over `rows`; see the module docstring for `combine`, `per_request` and `served`."""

    name: str
    sql: str
    combine: str | None = "sum"
    per_request: bool = False
    served: str = "rollups"
    exact: bool = True
    """False for an estimate (a t-digest percentile): close, not reproducible to the last digit."""

    @property
    def additive(self) -> bool:
        """The value of a union of slots is the sum of theirs (so hourly rollups can be re-summed)."""
        return self.combine == "sum"


def _where(condition: str | None, per_request: bool) -> str:
    return " AND ".join(c for c in (PER_REQUEST if per_request else None, condition) if c)


def _summed(
    name: str, column: str, where: str | None = None, per_request: bool = False, money: bool = False
) -> Measure:
    """coalesce(sum(column) [FILTER (WHERE ...)], 0), BIGINT unless money."""
    condition = _where(where, per_request)
    total = f"sum({column})" + (f" FILTER (WHERE {condition})" if condition else "")
    return Measure(
        name=name, sql=f"coalesce({total}, 0)" + ("" if money else "::BIGINT"), combine="sum", per_request=per_request
    )


def _ratio(name: str, where: str) -> Measure:
    """Per-request rows where `where` holds over all per-request rows; NULL when there are none."""
    share = f"sum(n) FILTER (WHERE {_where(where, True)}) / sum(n) FILTER (WHERE {PER_REQUEST})"
    return Measure(name=name, sql=share, combine=None, per_request=True)


PERCENTILES = {"p50_ms": 0.5, "p95_ms": 0.95, "p99_ms": 0.99}
"""Latency percentile name -> quantile, as the tiles and latency_percentiles report them."""
_TOKENS = "prompt_tokens + completion_tokens"
_ERROR = "status_code >= 400"
_429 = "status_code = 429"
MEASURES = (
    _summed("spend", "cost", money=True),
    _summed("requests", "request_count"),
    _summed("tokens", _TOKENS),
    _summed("prompt_tokens", "prompt_tokens"),
    _summed("completion_tokens", "completion_tokens"),
    _summed("cached_tokens", "cached_tokens"),
    _summed("unpriced_requests", "request_count", "unpriced"),
    _summed("unpriced_tokens", _TOKENS, "unpriced"),
    _summed("priced_requests", "request_count", "cost IS NOT NULL"),
    _summed("priced_tokens", _TOKENS, "cost IS NOT NULL"),
    _summed("unconverted_requests", "request_count", "unconverted"),
    _summed("unconverted_cost", "original_cost", "unconverted", money=True),
    _summed("measured_requests", "n", per_request=True),
    _summed("errors", "n", _ERROR, per_request=True),
    _summed("rate_limited", "n", _429, per_request=True),
    _summed("spend_cap", "n", f"{_429} AND {SPEND_CAP}", per_request=True),
    _summed("retries", "n", "coalesce(attempt, 1) > 1", per_request=True),
    _summed("rl_samples", "rl_samples"),
    _summed("simulated_rows", "n", "simulated"),
    Measure(name="first_at", sql="min(first_at)", combine="min"),
    Measure(name="last_at", sql="max(last_at)", combine="max"),
    Measure(name="min_tokens_headroom", sql="min(min_tokens_headroom)", combine="min"),
    Measure(name="min_requests_headroom", sql="min(min_requests_headroom)", combine="min"),
    _ratio("error_rate", _ERROR),
    _ratio("rate_429", _429),
    Measure(
        name="p95_latency_ms",
        sql=f"approx_quantile(latency_ms, 0.95) FILTER (WHERE {LATENCY_ROWS})",
        combine=None,
        per_request=True,
        served="raw",
        exact=False,
    ),
    Measure(
        name="avg_latency_ms",
        sql=f"avg(latency_ms) FILTER (WHERE {LATENCY_ROWS})",
        combine=None,
        per_request=True,
        served="raw",
    ),
    *(
        Measure(
            name=name,
            sql=f"quantile_cont(latency_ms, {q}) FILTER (WHERE {LATENCY_ROWS})",
            combine=None,
            per_request=True,
            served="latency",
        )
        for name, q in PERCENTILES.items()
    ),
)
"""Every measure a query reports. `unconverted` and `original_cost` come from the currency step
(ledger.queries._engine.converted_sql), `unpriced`, `n` and the rl_* columns from the rollup shape."""
MEASURES_BY_NAME = {m.name: m for m in MEASURES}
TOTAL_NAMES = (
    "spend",
    "requests",
    "unpriced_requests",
    "unconverted_requests",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "measured_requests",
    "errors",
    "rate_limited",
    "spend_cap",
    "retries",
)
"""The totals every slice reports (spend_summary, spend_over_time)."""
EXPLORE_NAMES = (
    "spend",
    "requests",
    "tokens",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "errors",
    "error_rate",
    "rate_429",
    "p95_latency_ms",
    "avg_latency_ms",
)
"""The measures Explore offers (`breakdown`)."""


def measures(*names: str, **renamed: str) -> dict[str, Measure]:
    """Output column -> Measure: `names` as they are, `renamed` as column=measure name."""
    return {**{n: MEASURES_BY_NAME[n] for n in names}, **{c: MEASURES_BY_NAME[m] for c, m in renamed.items()}}


def aggregates(*names: str, **renamed: str) -> str:
    """`<sql> AS <column>, ...` for a SELECT list (see `measures`)."""
    return ", ".join(f"{m.sql} AS {column}" for column, m in measures(*names, **renamed).items())
