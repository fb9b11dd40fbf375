"""Reliability questions beyond the time series: top errors, retries, rate-limit headroom.

All of them use per-request rows only (aggregated usage-API rows carry no status detail).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ._engine import query, series
from ._filters import DIMENSIONS, GRAINS, Filters, check_choice
from ._measures import PER_REQUEST, aggregates, measures


def _frame(df: pd.DataFrame | None, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(columns=columns) if df is None else df


def top_errors(data_dir: Path, filters: Filters, n: int = 10) -> pd.DataFrame:
    """The n most frequent (status_code, error_type) among failed requests.

    Columns: status_code, error_type ('(none)' when absent), count, share (of all errors).
    """
    select = f"""SELECT status_code, coalesce(error_type, '(none)') AS error_type, {aggregates(count="errors")},
        sum(n) / sum(sum(n)) OVER () AS share
        FROM rows WHERE {PER_REQUEST} AND status_code >= 400
        GROUP BY ALL ORDER BY count DESC, status_code, error_type LIMIT ?"""
    return _frame(query(data_dir, filters, select, [int(n)]), ["status_code", "error_type", "count", "share"])


def retry_impact(data_dir: Path, filters: Filters) -> pd.DataFrame:
    """Traffic by attempt number (1 = first try; missing counts as 1).

    Columns: attempt, requests, tokens, spend, share (of per-request rows). Rows with
    attempt > 1 are the traffic client retries add.
    """
    sums = aggregates(requests="measured_requests", tokens="tokens", spend="spend")
    select = f"""SELECT coalesce(attempt, 1) AS attempt, {sums},
        sum(n) / sum(sum(n)) OVER () AS share
        FROM rows WHERE {PER_REQUEST} GROUP BY ALL ORDER BY attempt"""
    return _frame(query(data_dir, filters, select), ["attempt", "requests", "tokens", "spend", "share"])


def ratelimit_headroom(data_dir: Path, filters: Filters, grain: str = "hour") -> pd.DataFrame:
    """Lowest remaining share of the per-minute token and request limits, per bucket and key.

    From the recorded x-ratelimit-* headers (rows without them are skipped). Columns: bucket,
    api_key, samples, min_tokens_headroom, min_requests_headroom (0..1; 0 = limit reached).
    """
    check_choice("grain", grain, GRAINS)
    headroom = measures(
        samples="rl_samples", min_tokens_headroom="min_tokens_headroom", min_requests_headroom="min_requests_headroom"
    )
    df = series(data_dir, filters, grain, {"api_key": DIMENSIONS["api_key"]}, headroom, where="rl_samples > 0")
    return _frame(df, ["bucket", "api_key", *headroom])
