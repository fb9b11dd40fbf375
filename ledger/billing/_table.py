"""The billed table: what a provider's bill says, a Delta Lake table at `<data_dir>/billed`.

Why Delta (issue 21): with an `s3://` data_dir the table lives in the bucket beside the request
ledger, so every host reconciles against the same bill, and each update is one commit that any
engine reading Delta sees whole. It is partitioned by `month`, the bill's own period and the
finest one it has (the Admin API reports money per month, never per day): a month's lines sit
in one folder and reconciliation, which reads a few months, opens only theirs. The rows are
keyed by (source, month, workspace); `update_billed` replaces exactly one key's rows in one
commit (a predicate overwrite: `source = .. AND month = .. AND workspace = ..`, or `IS NULL`),
so an update of another key, even committed meanwhile by another process or host, is never lost
(a commit that touched the same files first makes this one read again and retry).

Why lines with a `problem`: the Admin API's per-model entries are untyped and change shape,
so a line whose money cannot be read is kept as it came (`raw`, the entry's JSON) with the
reason, never turned into a number. A fetch that could not read some models keeps those
models' earlier readable lines (`carry_over`), so one odd payload never erases a bill.

The old layout, one parquet file per (source, month, workspace) in `billing/<source>/`, is moved
into the table at first use (`migrate_billed`). A file only fills a key the table lacks, never
replaces one it holds: with an `s3://` data_dir another host may have billed that key through the
table since, and a key's rows in the table come from a run of this code, at least as new as any
old file (`table.fill`: the check and the commit from one snapshot, so a key another host commits
in between makes the commit refused and checked again). A rerun after a kill finds the keys it
wrote held. The rows and amounts of each key written are compared, each key skipped must be held,
before the old files are all deleted.

Example:
    >>> line = BilledRow(category="completion", model="mistral-small-2506", metric="input", quantity=2e6,
    ...                  unit_price=1e-7, amount=0.2, currency="EUR")
    >>> _ = update_billed(Path("data"), "mistral_admin", "2026-05", None, [line])
    >>> read_billed(Path("data"), ["2026-05"]).num_rows
    1
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from foundation.locks import FileLock
from foundation.periods import parse_month
from ledger.storage import table as delta
from ledger.storage.atomic import atomic_write
from ledger.storage.schema import TS
from ledger.storage.store import VACUUM_HOURS

from ._limits import billing_dir

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


BILLED = "billed"
BILLED_LAYOUT = delta.Layout(BILLED_SCHEMA, ("month",))
"""The Delta table's schema and partition: BILLED_SCHEMA, one folder per month."""
COMMIT_TRIES = 5
"""Commits refused because another host's commit touched the same files first, before giving up loudly."""
VACUUM_EVERY = 50
"""Every this many commits, files replaced over `VACUUM_HOURS` ago are deleted."""
OLD_NAME = re.compile(r"^\d{4}-\d{2}(\..+)?\.parquet$")


def billed_dir(data_dir: Path) -> Path:
    """The billed table's folder (on S3, the working folder's; the table is at its URL). Beside
    `billing/`, not in it: a source's own folder there (`billing/<source>`) could be named like the
    table's, and a vacuum deletes every file of a table's folder its log does not name."""
    return Path(data_dir) / BILLED


def _lock(data_dir: Path) -> FileLock:
    """One writer of the billed table at a time on this host (across hosts: delta-rs's commit check)."""
    return FileLock(billing_dir(data_dir) / ".billed.lock", "billed table")


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def key_predicate(source: str, month: str, workspace: str | None) -> str:
    """The SQL predicate selecting exactly the rows of (source, month, workspace); a missing
    workspace is NULL, which `=` never matches, so it is `IS NULL`."""
    space = "workspace IS NULL" if workspace is None else f"workspace = {_quoted(workspace)}"
    return f"month = {_quoted(check_month(month))} AND source = {_quoted(source)} AND {space}"


def _arrow(schema: pa.Schema, rows: Sequence[Any], same: dict[str, Any]) -> pa.Table:
    """Dataclass `rows`, plus the columns `same` for every row, as a table in `schema`."""
    columns: dict[str, list[Any]] = {name: [] for name in schema.names}
    for row in rows:
        for key, value in asdict(row).items():
            columns[key].append(value)
    columns |= {key: [value] * len(rows) for key, value in same.items()}
    return pa.table(columns, schema=schema)


def _dated(rows: Sequence[BilledRow], fetched_at: datetime | None) -> list[BilledRow]:
    when = fetched_at or datetime.now(UTC)
    return [replace(row, fetched_at=row.fetched_at or when) for row in rows]


def write_billed(
    data_dir: Path,
    source: str,
    month: str,
    workspace: str | None,
    rows: Sequence[BilledRow],
    fetched_at: datetime | None = None,
) -> Path:
    """Replace the billed rows of (source, month, workspace) with `rows`, in one commit; returns the table's folder."""
    dated = _dated(rows, fetched_at)
    return _store(data_dir, source, month, workspace, lambda: dated)


def _store(
    data_dir: Path,
    source: str,
    month: str,
    workspace: str | None,
    decide: Callable[[], list[BilledRow]],
    tries: int = COMMIT_TRIES,
) -> Path:
    """Commit `decide()` (the key's new lines, decided from what is stored now) as the rows of
    one key, deciding again when another host's commit got in first."""
    folder = billed_dir(data_dir)
    predicate = key_predicate(source, month, workspace)
    with _lock(data_dir).held():
        _migrate_locked(data_dir)
        for attempt in range(tries):
            lines = decide()
            rows = _arrow(BILLED_SCHEMA, lines, {"source": source, "month": month, "workspace": workspace})
            try:
                version = delta.overwrite(folder, rows, predicate, BILLED_LAYOUT)
            except delta.Conflict:
                if attempt == tries - 1:
                    raise
                continue
            if version % VACUUM_EVERY == 0:
                delta.vacuum(folder, VACUUM_HOURS)
            break
    return folder


def write_month_file(path: Path, schema: pa.Schema, rows: Sequence[Any], same: dict[str, Any]) -> Path:
    """Dataclass `rows`, plus the columns `same` for every row, as one parquet file in `schema`, atomically.

    The price sheets' storage: one (source, month, workspace) file each.
    """
    table = _arrow(schema, rows, same)
    return atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def read_month_files(paths: Iterable[Path], schema: pa.Schema, months: Iterable[str] | None = None) -> pa.Table:
    """The files among `paths` named for one of `months` (all if None), read in `schema`.

    Files written before a column existed read with it null.
    """
    wanted = None if months is None else {check_month(m) for m in months}
    files = [str(p) for p in sorted(paths) if wanted is None or p.name[:7] in wanted]
    return ds.dataset(files, schema=schema, format="parquet").to_table() if files else schema.empty_table()


def read_billed(data_dir: Path, months: Iterable[str] | None = None) -> pa.Table:
    """Every billed row (of `months` if given), all sources and workspaces, in the snapshot's
    order of (source, month, workspace) and each key's lines as written."""
    if _old_files(data_dir):
        with _lock(data_dir).held():
            _migrate_locked(data_dir)
    return _read(data_dir, months)


def _read(data_dir: Path, months: Iterable[str] | None = None) -> pa.Table:
    wanted = None if months is None else {check_month(m) for m in months}
    rows = delta.read(
        billed_dir(data_dir), BILLED_LAYOUT, None if wanted is None else (lambda values: values["month"] in wanted)
    )
    order = [
        ("source", "ascending", "at_start"),
        ("month", "ascending", "at_start"),
        ("workspace", "ascending", "at_start"),
    ]
    return rows.take(pc.sort_indices(rows, sort_keys=order))


def read_billed_rows(data_dir: Path, source: str, month: str, workspace: str | None) -> list[BilledRow]:
    """The stored lines of one (source, month, workspace), as written (empty if none yet)."""
    if _old_files(data_dir):
        with _lock(data_dir).held():
            _migrate_locked(data_dir)
    return _lines(data_dir, source, month, workspace)


def _lines(data_dir: Path, source: str, month: str, workspace: str | None) -> list[BilledRow]:
    names = [f.name for f in fields(BilledRow)]
    return [
        BilledRow(**{k: r[k] for k in names})
        for r in _read(data_dir, [month]).to_pylist()
        if r["source"] == source and r["workspace"] == workspace
    ]


@dataclass(frozen=True, kw_only=True)
class BilledMigration:
    files: int
    rows: int
    removed: int
    mismatch: str | None
    """One line naming the first key whose totals differ (the old files are then kept)."""
    kept: int = 0
    """Old files whose key the table held already: not written (the table's rows came from the
    new code, at least as new as any old file), deleted with the others."""


def _old_files(data_dir: Path) -> list[Path]:
    """The old layout's files: `billing/<source>/<YYYY-MM>[.<workspace>].parquet`."""
    return sorted(p for p in billing_dir(data_dir).glob("*/*.parquet") if OLD_NAME.match(p.name))


def migrate_billed(data_dir: Path) -> BilledMigration:
    """Move the old layout's billed files into the table; see the module docstring. A second
    run finds no old file and does nothing."""
    with _lock(data_dir).held():
        return _migrate_locked(data_dir)


def _totals(rows: pa.Table) -> tuple[int, float]:
    amount = pc.sum(rows["amount"]).as_py() if rows.num_rows else None
    return rows.num_rows, float(amount or 0.0)


def _migrate_locked(data_dir: Path) -> BilledMigration:
    old = _old_files(data_dir)
    if not old:
        return BilledMigration(files=0, rows=0, removed=0, mismatch=None)
    folder = billed_dir(data_dir)
    keys: dict[Path, tuple[str, str, str | None]] = {}
    written: set[Path] = set()
    moved = 0
    for path in old:
        rows = read_month_files([path], BILLED_SCHEMA)
        found = set(zip(*(rows[c].to_pylist() for c in ("source", "month", "workspace")), strict=True))
        if len(found) != 1:
            continue  # an empty file holds no line to move (a file of several keys was never written)
        keys[path] = found.pop()
        if delta.fill(folder, rows, key_predicate(*keys[path]), BILLED_LAYOUT) is not None:
            written.add(path)
            moved += rows.num_rows
    stored = delta.read(folder, BILLED_LAYOUT)
    for path, (source, month, workspace) in keys.items():
        mine = pc.and_(pc.equal(stored["source"], source), pc.equal(stored["month"], month))
        space = pc.is_null(stored["workspace"]) if workspace is None else pc.equal(stored["workspace"], workspace)
        before, after = _totals(read_month_files([path], BILLED_SCHEMA)), _totals(stored.filter(pc.and_(mine, space)))
        if path not in written and after[0] > 0:
            continue  # the table held this key already: its rows are the truth, the old file is stale
        if before[0] != after[0] or not math.isclose(before[1], after[1], rel_tol=1e-9, abs_tol=1e-9):
            line = (
                f"billed table migration: {path} holds {before[0]} lines billing {before[1]:.6f}, the Delta table "
                f"{after[0]} lines billing {after[1]:.6f}; the old files are kept"
            )
            return BilledMigration(files=len(old), rows=moved, removed=0, mismatch=line, kept=len(keys) - len(written))
    for path in old:
        path.unlink(missing_ok=True)
    return BilledMigration(files=len(old), rows=moved, removed=len(old), mismatch=None, kept=len(keys) - len(written))


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
    """Store a fetch of (source, month, workspace) without dropping what it could not read: one
    commit replacing that key's rows, decided from the rows stored (again if another host's
    commit got in first). Returns the table's folder."""
    dated = _dated(rows, fetched_at)
    return _store(
        data_dir, source, month, workspace, lambda: carry_over(_lines(data_dir, source, month, workspace), dated)
    )
