"""What the provider billed, next to what we measured: the billed table and reconciliation.

Why a table of its own: the Admin API reports money per month, category, model and metric,
with no request, day or key behind it, so its rows do not fit the request ledger. Each fetch
of a (source, month, workspace) replaces that file atomically; the raw responses are kept
apart as dated snapshots by the collector. `reconcile` puts the two side by side per
(month, model) for the Reconciliation page and the alerts engine alike.

Layout: `<data_dir>/billing/<source>/<YYYY-MM>[.<workspace>].parquet` and the latest
spend-limit and rate-limit readings as `<data_dir>/billing/<source>/{spend-limit,rate-limit}.json`.

Example:
    >>> write_billed(Path("data"), "mistral_admin", "2026-05", None, rows)
    >>> reconcile(Path("data"), ["2026-05"], currency="EUR")[0].status
    'matched'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from ._billing_limits import (
    RATE_LIMIT,
    SPEND_LIMIT,
    Headroom,
    SpendGauge,
    billing_dir,
    rate_headroom,
    rate_limits,
    read_readings,
    safe_name,
    spend_gauges,
    write_reading,
)
from ._query_engine import connection, scan_sql
from .atomic import atomic_write
from .schema import TS
from .store import list_files

__all__ = [
    "BILLED_SCHEMA",
    "RATE_LIMIT",
    "SPEND_LIMIT",
    "BilledRow",
    "Headroom",
    "Reconciled",
    "SpendGauge",
    "billed_amount",
    "billed_by_model",
    "billing_dir",
    "check_month",
    "gap_breaches",
    "measured_by_model",
    "month_of",
    "rate_headroom",
    "rate_limits",
    "read_billed",
    "read_readings",
    "reconcile",
    "safe_name",
    "spend_gauges",
    "write_billed",
    "write_reading",
]

BILLED_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("month", pa.string(), nullable=False),
        pa.field("workspace", pa.string()),
        pa.field("category", pa.string(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("metric", pa.string()),
        pa.field("quantity", pa.float64()),
        pa.field("unit_price", pa.float64()),
        pa.field("amount", pa.float64()),
        pa.field("currency", pa.string()),
        pa.field("fetched_at", TS, nullable=False),
    ]
)
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class BilledRow:
    """One recognised line of a bill; a number the provider did not give stays None."""

    category: str
    model: str
    metric: str | None
    quantity: float | None
    unit_price: float | None
    amount: float | None
    currency: str | None


@dataclass(frozen=True)
class Reconciled:
    """Measured against billed for one (month, model); gap = billed - measured.

    `gap_pct` is the gap as a share of the bill (None when nothing was billed or a side is
    unknown); `measured` is None when the ledger saw the model but could not price it.
    """

    month: str
    model: str
    measured: float | None
    billed: float | None
    gap: float | None
    gap_pct: float | None
    status: str  # matched | billed_not_seen | seen_not_billed
    requests: int
    currency: str


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def check_month(month: str) -> str:
    """Validate 'YYYY-MM' or raise ValueError naming the fix."""
    if not _MONTH.match(month):
        raise ValueError(f"month {month!r}: write it as YYYY-MM, e.g. 2026-05")
    return month


def write_billed(data_dir: Path, source: str, month: str, workspace: str | None, rows: Sequence[BilledRow],
                 fetched_at: datetime | None = None) -> Path:  # fmt: skip
    """Replace the billed rows of (source, month, workspace) with `rows`, atomically."""
    check_month(month)
    when = fetched_at or datetime.now(UTC)
    columns: dict[str, list[Any]] = {name: [] for name in BILLED_SCHEMA.names}
    for row in rows:
        for key, value in asdict(row).items():
            columns[key].append(value)
    n = len(rows)
    columns |= {"source": [source] * n, "month": [month] * n, "workspace": [workspace] * n, "fetched_at": [when] * n}
    table = pa.table(columns, schema=BILLED_SCHEMA)
    suffix = f".{safe_name(workspace)}" if workspace else ""
    path = billing_dir(data_dir, source) / f"{month}{suffix}.parquet"
    return atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def read_billed(data_dir: Path, months: Iterable[str] | None = None) -> pa.Table:
    """Every billed row (of `months` if given), all sources and workspaces."""
    wanted = None if months is None else {check_month(m) for m in months}
    files = [
        p for p in sorted(billing_dir(data_dir).glob("*/*.parquet"))
        if wanted is None or p.name[:7] in wanted
    ]  # fmt: skip
    if not files:
        return BILLED_SCHEMA.empty_table()
    return ds.dataset([str(p) for p in files], schema=BILLED_SCHEMA, format="parquet").to_table()


def billed_amount(table: pa.Table) -> list[float | None]:
    """Each row's money: the amount when given, else quantity x unit price, else None."""
    out: list[float | None] = []
    for amount, quantity, price in zip(table["amount"].to_pylist(), table["quantity"].to_pylist(),
                                       table["unit_price"].to_pylist(), strict=True):  # fmt: skip
        if amount is not None:
            out.append(amount)
        elif quantity is not None and price is not None:
            out.append(quantity * price)
        else:
            out.append(None)
    return out


def billed_by_model(data_dir: Path, months: Sequence[str], currency: str) -> dict[tuple[str, str], float | None]:
    """(month, model) -> billed money in `currency` (None if a line had no usable number)."""
    table = read_billed(data_dir, months)
    out: dict[tuple[str, str], float | None] = {}
    rows = zip(table["month"].to_pylist(), table["model"].to_pylist(), table["currency"].to_pylist(),
               billed_amount(table), strict=True)  # fmt: skip
    for month, model, cur, money in rows:
        if (cur or currency).upper() != currency.upper():
            continue
        key = (month, model)
        previous = out.get(key, 0.0)
        out[key] = None if previous is None or money is None else previous + money
    return out


def _month_bounds(month: str) -> tuple[date, date]:
    year, mon = int(month[:4]), int(month[5:])
    start = date(year, mon, 1)
    nxt = date(year + mon // 12, mon % 12 + 1, 1)
    return start, date.fromordinal(nxt.toordinal() - 1)


def measured_by_model(
    data_dir: Path, months: Sequence[str], currency: str
) -> dict[tuple[str, str], tuple[float | None, int]]:
    """(month, model) -> (measured cost or None if unpriced, requests), from per-request rows only.

    Aggregated rows (other providers' usage APIs) are left out: they are not on this bill.
    The model is the concrete one the row was priced as, else the one the response named.
    """
    out: dict[tuple[str, str], tuple[float | None, int]] = {}
    for month in months:
        start, end = _month_bounds(check_month(month))
        files = list_files(data_dir, start, end)
        if not files:
            continue
        sql = (f"SELECT coalesce(priced_model, resolved_model, model) AS m, "
               f"CASE WHEN count(*) = count(cost) THEN sum(cost) END AS cost, sum(request_count)::BIGINT AS n "
               f"FROM {scan_sql(files)} WHERE NOT aggregated AND upper(currency) = ? GROUP BY m")  # fmt: skip
        for model, cost, count in connection().execute(sql, [currency.upper()]).fetchall():
            out[(month, model)] = (None if cost is None else float(cost), int(count))
    return out


def reconcile(data_dir: Path, months: Sequence[str], currency: str) -> list[Reconciled]:
    """Per (month, model): measured cost (ledger) against billed (Admin API), sorted by |gap|.

    Both sides are taken in `currency` only: a bill in EUR is never compared with a ledger
    priced in USD. A model only one side knows is `billed_not_seen` (traffic that bypassed
    the gateway) or `seen_not_billed`.
    """
    billed = billed_by_model(data_dir, months, currency)
    measured = measured_by_model(data_dir, months, currency)
    rows = [_row(key, measured.get(key), billed, currency) for key in sorted(set(billed) | set(measured))]
    return sorted(rows, key=lambda r: (r.month, -abs(r.gap or 0.0), r.model))


def _row(key: tuple[str, str], seen: tuple[float | None, int] | None, billed: dict[tuple[str, str], float | None],
         currency: str) -> Reconciled:  # fmt: skip
    month, model = key
    cost, requests = seen if seen is not None else (None, 0)
    bill = billed.get(key)
    if key not in billed:
        status = "seen_not_billed"
    elif seen is None:
        status = "billed_not_seen"
    else:
        status = "matched"
    mine = cost if seen is not None else 0.0
    theirs = bill if key in billed else 0.0
    gap = None if mine is None or theirs is None else theirs - mine
    pct = None if gap is None or not theirs else 100.0 * gap / theirs
    return Reconciled(month, model, cost, bill, gap, pct, status, requests, currency.upper())


def gap_breaches(rows: Sequence[Reconciled], threshold_pct: float, min_gap: float = 0.0) -> list[Reconciled]:
    """The rows an alert should name: |gap| >= min_gap and |gap_pct| >= threshold (or unmatched).

    Example:
        >>> [r.model for r in gap_breaches(reconcile(d, ["2026-05"], "EUR"), threshold_pct=5)]
        ['mistral-ocr-2505']
    """
    out = []
    for row in rows:
        if row.gap is None or abs(row.gap) < min_gap:
            continue
        if row.status != "matched" or (row.gap_pct is not None and abs(row.gap_pct) >= threshold_pct):
            out.append(row)
    return out
