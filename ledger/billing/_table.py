"""The billed table: what a provider's bill says, per (source, month, workspace) file.

Why lines with a `problem`: the Admin API's per-model entries are untyped and change shape,
so a line whose money cannot be read is kept as it came (`raw`, the entry's JSON) with the
reason, never turned into a number. A fetch that could not read some models keeps those
models' earlier readable lines (`carry_over`), so one odd payload never erases a bill.

Example:
    >>> line = BilledRow(category="completion", model="mistral-small-2506", metric="input", quantity=2e6,
    ...                  unit_price=1e-7, amount=0.2, currency="EUR")
    >>> _ = update_billed(Path("data"), "mistral_admin", "2026-05", None, [line])
    >>> read_billed(Path("data"), ["2026-05"]).num_rows
    1
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from foundation.periods import parse_month
from ledger.storage.atomic import atomic_write
from ledger.storage.schema import TS

from ._limits import billing_dir, safe_name

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
        pa.field("raw", pa.string()),
        pa.field("problem", pa.string()),
    ]
)


@dataclass(frozen=True, kw_only=True)
class BilledRow:
    """One line of a bill; a number the provider did not give stays None.

    `problem` says why the line's money cannot be read (then `raw` holds the entry as JSON);
    `fetched_at` is set on lines carried over from an earlier fetch.
    """

    category: str
    model: str
    metric: str | None = None
    quantity: float | None = None
    unit_price: float | None = None
    amount: float | None = None
    currency: str | None = None
    raw: str | None = None
    problem: str | None = None
    fetched_at: datetime | None = None


def check_month(month: str) -> str:
    """Validate 'YYYY-MM' (foundation.periods.parse_month) or raise ValueError naming the fix."""
    parse_month(month)
    return month


def _path(data_dir: Path, source: str, month: str, workspace: str | None) -> Path:
    suffix = f".{safe_name(workspace)}" if workspace else ""
    return billing_dir(data_dir, source) / f"{check_month(month)}{suffix}.parquet"


def write_billed(
    data_dir: Path,
    source: str,
    month: str,
    workspace: str | None,
    rows: Sequence[BilledRow],
    fetched_at: datetime | None = None,
) -> Path:
    """Replace the billed rows of (source, month, workspace) with `rows`, atomically."""
    when = fetched_at or datetime.now(UTC)
    dated = [replace(row, fetched_at=row.fetched_at or when) for row in rows]
    path = _path(data_dir, source, month, workspace)
    return write_month_file(path, BILLED_SCHEMA, dated, {"source": source, "month": month, "workspace": workspace})


def write_month_file(path: Path, schema: pa.Schema, rows: Sequence[Any], same: dict[str, Any]) -> Path:
    """Dataclass `rows`, plus the columns `same` for every row, as one parquet file in `schema`, atomically.

    Shared by the billed table and the price sheets: one (source, month, workspace) file each.
    """
    columns: dict[str, list[Any]] = {name: [] for name in schema.names}
    for row in rows:
        for key, value in asdict(row).items():
            columns[key].append(value)
    columns |= {key: [value] * len(rows) for key, value in same.items()}
    table = pa.table(columns, schema=schema)
    return atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def read_month_files(paths: Iterable[Path], schema: pa.Schema, months: Iterable[str] | None = None) -> pa.Table:
    """The files among `paths` named for one of `months` (all if None), read in `schema`.

    Files written before a column existed read with it null.
    """
    wanted = None if months is None else {check_month(m) for m in months}
    files = [str(p) for p in sorted(paths) if wanted is None or p.name[:7] in wanted]
    return ds.dataset(files, schema=schema, format="parquet").to_table() if files else schema.empty_table()


def read_billed(data_dir: Path, months: Iterable[str] | None = None) -> pa.Table:
    """Every billed row (of `months` if given), all sources and workspaces."""
    return read_month_files(billing_dir(data_dir).glob("*/*.parquet"), BILLED_SCHEMA, months)


def read_billed_rows(data_dir: Path, source: str, month: str, workspace: str | None) -> list[BilledRow]:
    """The stored lines of one (source, month, workspace), as written (empty if none yet)."""
    path = _path(data_dir, source, month, workspace)
    if not path.exists():
        return []
    names = [f.name for f in fields(BilledRow)]
    return [BilledRow(**{k: r[k] for k in names}) for r in read_month_files([path], BILLED_SCHEMA).to_pylist()]


def carry_over(previous: Sequence[BilledRow], new: Sequence[BilledRow]) -> list[BilledRow]:
    """The lines to store after a fetch: `new`, except for models with an unreadable line.

    Such a model keeps its earlier readable lines (with their own `fetched_at`) and gets this
    fetch's unreadable lines; its other new lines are left to the snapshot. So its last
    readable bill survives an odd payload, and a later readable fetch replaces it all.
    """
    unreadable = {row.model for row in new if row.problem is not None}
    kept = [row for row in previous if row.model in unreadable and row.problem is None]
    fresh = [row for row in new if row.model not in unreadable or row.problem is not None]
    return kept + fresh


def update_billed(
    data_dir: Path,
    source: str,
    month: str,
    workspace: str | None,
    rows: Sequence[BilledRow],
    fetched_at: datetime | None = None,
) -> Path:
    """Store a fetch of (source, month, workspace) without dropping what it could not read."""
    previous = read_billed_rows(data_dir, source, month, workspace)
    return write_billed(data_dir, source, month, workspace, carry_over(previous, rows), fetched_at)
