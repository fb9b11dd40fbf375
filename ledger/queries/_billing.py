"""What the ledger measured, in the shapes `ledger.billing` holds against the provider's readings.

Why here: these read the request ledger (DuckDB over the Delta snapshot's files), which is this
subpackage's job; `ledger.billing` owns the billed table and the comparisons, and calls these
through `ledger.queries`' public names only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from foundation.periods import month_days
from ledger.storage.store import list_files

from ._engine import connection, query, scan_sql
from ._filters import Filters

_MEASURED = """SELECT coalesce(priced_model, resolved_model, model) AS m,
    CASE WHEN count(*) FILTER (WHERE unpriced OR unconverted) = 0 THEN sum(cost) END AS cost,
    sum(request_count)::BIGINT AS n FROM rows WHERE NOT aggregated GROUP BY m"""


def measured_by_model(
    data_dir: Path, months: Sequence[str], currency: str
) -> dict[tuple[str, str], tuple[float | None, int]]:
    """(month, model) -> (measured cost or None if unpriced, requests), from per-request rows only.

    Aggregated rows (other providers' usage APIs) are left out: they are not on this bill.
    The model is the concrete one the row was priced as, else the one the response named.
    Rows priced in another currency are converted at their UTC day's rate (ledger.pricing.fx); a
    model with a row whose rate is missing has an unknown cost (None), like an unpriced one.
    """
    out: dict[tuple[str, str], tuple[float | None, int]] = {}
    for month in months:
        start, end = month_days(month)
        window = Filters(start=start, end=end, timezone="UTC")
        df = query(data_dir, window, _MEASURED, raw=True, currency=currency)
        if df is None:
            continue
        for model, cost, count in df.itertuples(index=False):
            out[(month, model)] = (None if cost is None or pd.isna(cost) else float(cost), int(count))
    return out


def count_429s(data_dir: Path, start: datetime, end: datetime) -> int:
    """Per-request 429 rows in [start, end)."""
    files = list_files(data_dir, start.date(), end.date())
    if not files:
        return 0
    sql = (
        f"SELECT count(*) FROM {scan_sql(files)} "
        f"WHERE status_code = 429 AND NOT aggregated AND timestamp >= ? AND timestamp < ?"
    )
    row = connection().execute(sql, [start, end]).fetchone()
    return int(row[0]) if row else 0


def peak_minute_tokens(data_dir: Path, start: datetime, end: datetime) -> dict[str, tuple[int, datetime | None]]:
    """Per model (as priced): the most tokens in one minute over [start, end), and that minute (UTC)."""
    files = list_files(data_dir, start.date(), end.date())
    if not files:
        return {}
    sql = (
        f"SELECT m, max(t), arg_max(minute, t) FROM (SELECT coalesce(priced_model, resolved_model, model) AS m, "
        f"date_trunc('minute', timestamp) AS minute, sum(prompt_tokens + completion_tokens) AS t "
        f"FROM {scan_sql(files)} WHERE NOT aggregated AND timestamp >= ? AND timestamp < ? "
        f"GROUP BY m, minute) GROUP BY m"
    )
    return {
        model: (int(peak), minute.astimezone(UTC) if minute is not None else None)
        for model, peak, minute in connection().execute(sql, [start, end]).fetchall()
    }
