"""What the pages draw, shaped from the frames the data functions return: pure, so a page only renders.

Why here and not in the pages: each is a rule about the ledger's figures (the "(other)" row adds
up to the slice's total, an unpriced model has no spend to draw, uncached input is prompt minus
cached tokens, a 429 is either the spend cap or throttling). A page combines them with the cached
data functions through `pages/_data.py`, so a rerun recomputes nothing.

Example:
    >>> df = pd.DataFrame({"bucket": [1, 1], "model": ["a", "b"], "requests": [3, 2], "unpriced_requests": [0, 2]})
    >>> priced_only(df)["model"].tolist()
    ['a']
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ._core import VALUE_DIMS, Summary
from ._engine import OTHER
from ._filters import Filters

TOKEN_KINDS = {"uncached_input": "Input (not cached)", "cached_tokens": "Input (cached)", "output": "Output"}
"""The token mix's kinds, in drawing order, and how a chart names them."""
LIMIT_CAUSES = {"throttled": "Rate limited (throttling)", "spend_cap": "Spend cap reached"}
"""The two causes of an HTTP 429, and how a chart names them."""


def with_other(top: pd.DataFrame, dim: str, total: Summary) -> pd.DataFrame:
    """`top` (a `top_contributors` frame) plus one OTHER row holding the rest of `total`, when there is a rest.

    The OTHER row's spend, requests and tokens are the slice's totals less the top rows'; its
    share is its part of the total spend (None without spend).
    """
    rest = {
        "spend": total.spend - top["spend"].sum(),
        "requests": total.requests - top["requests"].sum(),
        "tokens": total.tokens - top["tokens"].sum(),
    }
    if rest["requests"] <= 0:
        return top
    share = rest["spend"] / total.spend if total.spend else None
    return pd.concat([top, pd.DataFrame([{dim: OTHER, **rest, "share": share}])], ignore_index=True)


def priced_only(df: pd.DataFrame) -> pd.DataFrame:
    """The rows with at least one priced request: an unpriced value has no spend to draw, not 0."""
    return df[df["unpriced_requests"] < df["requests"]]


def with_tokens(df: pd.DataFrame) -> pd.DataFrame:
    """`df` (a `spend_over_time` frame) with `tokens` = input + output tokens."""
    return df.assign(tokens=df["prompt_tokens"] + df["completion_tokens"])


def token_mix(df: pd.DataFrame) -> pd.DataFrame:
    """Per bucket, input not cached (prompt - cached), cached input and output tokens, long:
    columns bucket, kind (a TOKEN_KINDS label), tokens."""
    wide = pd.DataFrame(
        {
            "bucket": df["bucket"],
            TOKEN_KINDS["uncached_input"]: df["prompt_tokens"] - df["cached_tokens"],
            TOKEN_KINDS["cached_tokens"]: df["cached_tokens"],
            TOKEN_KINDS["output"]: df["completion_tokens"],
        }
    )
    return wide.melt(id_vars="bucket", var_name="kind", value_name="tokens")


def limit_causes(df: pd.DataFrame) -> pd.DataFrame:
    """Per bucket of a `reliability_over_time` frame, its 429s split by cause, long: columns bucket,
    cause (a LIMIT_CAUSES label), count; throttled = rate_limited - spend_cap."""
    wide = df.assign(throttled=df["rate_limited"] - df["spend_cap"])
    long = wide.melt(id_vars="bucket", value_vars=list(LIMIT_CAUSES), var_name="cause", value_name="count")
    return long.assign(cause=long["cause"].map(LIMIT_CAUSES))


UNPRICED = "unpriced"
"""What a spend with no priced request shows as (a chart's label, a table's note): unknown, never 0."""


def largest(df: pd.DataFrame, colour: str | None, measure: str, n: int) -> pd.DataFrame:
    """The rows of the `n` `colour` values with the largest total `measure` (all of `df` when it has no more)."""
    if colour is None or df[colour].nunique() <= n:
        return df
    keep = df.groupby(colour)[measure].sum().nlargest(n).index
    return df[df[colour].isin(keep)]


def unpriced_values(df: pd.DataFrame, colour: str | None, measure: str) -> set[str]:
    """The `colour` values whose spend is unknown in every row of a `breakdown` frame (no price for any request)."""
    if measure != "spend" or colour is None or df.empty:
        return set()
    known = df.groupby(colour, dropna=False)[measure].count()
    return {str(v) for v in known[known == 0].index}


def unpriced_total(df: pd.DataFrame, measure: str) -> int:
    """The requests without a price in a spend `breakdown` frame: left out of its spend (0 for another measure)."""
    if measure != "spend" or "unpriced_requests" not in df.columns:
        return 0
    return int(df["unpriced_requests"].sum())


def value_count(df: pd.DataFrame, colour: str | None) -> int:
    """How many distinct `colour` values a frame holds (0 without a `colour`)."""
    return 0 if colour is None else int(df[colour].nunique())


@dataclass(frozen=True, kw_only=True)
class Slowest:
    """The value of a `latency_percentiles` frame with the highest p95, and the requests behind it."""

    value: str
    p95_ms: float
    requests: int


def slowest(df: pd.DataFrame, dim: str) -> Slowest | None:
    """The `dim` value with the highest p95 latency (None for an empty frame)."""
    worst = df.sort_values("p95_ms", ascending=False).head(1)
    if worst.empty:
        return None
    row = worst.iloc[0]
    return Slowest(value=str(row[dim]), p95_ms=float(row["p95_ms"]), requests=int(row["requests"]))


def with_price_note(df: pd.DataFrame) -> pd.DataFrame:
    """A spend `breakdown` frame with `price` after the spend: UNPRICED (no priced request: the spend is
    unknown), `partly unpriced`, or empty; `unpriced_requests` moved last."""
    text = pd.Series("", index=df.index, dtype="object")
    text = text.mask(df["unpriced_requests"] > 0, "partly unpriced").mask(df["spend"].isna(), UNPRICED)
    return df.assign(price=text)[[*[c for c in df.columns if c != "unpriced_requests"], "price", "unpriced_requests"]]


def values_in(window: pd.DataFrame, dim: str, limit: int | None = None) -> list[str]:
    """`dimension_values(filters, dim, limit)` from the window's `window_values` frame (`dim` in VALUE_DIMS):
    every value in name order, or the `limit` largest by spend (then requests, then name)."""
    if dim not in VALUE_DIMS:
        raise ValueError(f"values_in: {dim!r} is not one of {VALUE_DIMS}")
    totals = window.groupby(dim, as_index=False, dropna=False, sort=True)[["spend", "requests"]].sum()
    if limit is not None:
        totals = totals.sort_values(["spend", "requests", dim], ascending=[False, False, True], kind="stable")
        totals = totals.head(int(limit))
    return ["None" if pd.isna(v) else str(v) for v in totals[dim]]


def holds_simulated(window: pd.DataFrame, filters: Filters) -> bool:
    """Whether the view `filters` (on the window of the `window_values` frame) holds a simulated row."""
    if filters.denies_all:
        return False
    rows = window
    for dim, values in filters.dimension_filters().items():
        rows = rows[rows[dim].isin(values)]
    return bool(rows["simulated_rows"].sum() > 0)
