"""Turning a ledger of the old layout (our own `part-<seq>` / `compact-<seq>` files and their
visibility rule) into the Delta table, in place.

Why in place and in steps: the old files sit in the same `date=` folders the table uses (their
names differ from delta-rs's), so nothing is copied twice. Each old day becomes one commit whose
`txn` (app id `MIGRATION`, version = the day's rank) marks it done: a rerun after a SIGKILL
skips the days committed and goes on. Only when every day's row count and cost sum in the table
equal the old files' does a marker file say so, and only then are the old files deleted (a rerun
after a kill during the deletes finishes them). A failed comparison deletes nothing and says so.

The hourly rollups' old folder (`OLD_ROLLUPS`) goes here too, not in the rollups job: a migration
runs once per collector command, not every 5 minutes.

Example:
    >>> migrate(Path("data"))          # nothing of the old layout there
    Migration(days=0, rows=0, removed=0, mismatch=None)
"""

from __future__ import annotations

import math
import re
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from . import table as delta
from .atomic import atomic_write_bytes
from .schema import PARTITION, SCHEMA
from .store import day_files, ledger_lock, requests_dir

MIGRATION = "ledger-migration"
MARKER = "_migration_verified.json"
OLD_NAME = re.compile(r"^(part|compact)-(\d+)\.parquet$")
OLD_ROLLUPS = Path("rollups") / "hourly"
"""Where the hourly rollups were parquet files of their own (`rollups/hourly/date=D/{kind}-<hash>.parquet`),
before they were the Delta tables `rollups/totals` and `rollups/latency` that `update_rollups` rebuilds
from the ledger: nothing reads them, so `migrate` deletes the folder."""


@dataclass(frozen=True, kw_only=True)
class Migration:
    days: int
    rows: int
    removed: int
    mismatch: str | None
    """One line naming the first day whose totals differ (the old files are then kept)."""


def old_days(data_dir: Path) -> dict[date, list[Path]]:
    """Every day folder holding files of the old layout, with all of them (visible or not)."""
    out: dict[date, list[Path]] = {}
    for folder in sorted(requests_dir(data_dir).glob(f"{PARTITION}=*")):
        found = sorted(p for p in folder.iterdir() if OLD_NAME.match(p.name))
        if found:
            out[date.fromisoformat(folder.name.removeprefix(f"{PARTITION}="))] = found
    return out


def old_visible(files: list[Path]) -> list[Path]:
    """The old rule: in a day, the highest `compact-S` hides every file with seq <= S."""
    seq = {p: int(OLD_NAME.match(p.name).group(2)) for p in files}  # type: ignore[union-attr]
    compacts = [p for p in files if p.name.startswith("compact-")]
    if not compacts:
        return files
    newest = max(compacts, key=seq.__getitem__)
    return [newest, *(p for p in files if p.name.startswith("part-") and seq[p] > seq[newest])]


def _read(files: list[Path]) -> pa.Table:
    if not files:
        return SCHEMA.empty_table()
    return ds.dataset([str(f) for f in files], schema=SCHEMA, format="parquet").to_table()


def _totals(table: pa.Table) -> tuple[int, float]:
    cost = pc.sum(table["cost"]).as_py() if table.num_rows else None
    return table.num_rows, float(cost or 0.0)


def migrate(data_dir: Path) -> Migration:
    """Move the old layout's rows into the Delta table, and delete the old rollups' folder; see the
    module docstring."""
    data_dir = Path(data_dir)
    shutil.rmtree(data_dir / OLD_ROLLUPS, ignore_errors=True)
    folder = requests_dir(data_dir)
    days = old_days(data_dir)
    if not days:
        (folder / MARKER).unlink(missing_ok=True)
        return Migration(days=0, rows=0, removed=0, mismatch=None)
    rows = 0
    with ledger_lock(data_dir):
        if not (folder / MARKER).exists():
            delta.create(folder)
            done = delta.txn_version(folder, MIGRATION) or 0
            for rank, (_day, files) in enumerate(sorted(days.items()), start=1):
                if rank <= done:
                    continue
                table = _read(old_visible(files))
                rows += table.num_rows
                delta.append(folder, table, (MIGRATION, rank))
            for day, files in sorted(days.items()):
                old, new = _totals(_read(old_visible(files))), _totals(_read(day_files(data_dir, day)))
                if old[0] != new[0] or not math.isclose(old[1], new[1], rel_tol=1e-9, abs_tol=1e-9):
                    line = (
                        f"ledger migration: {day}: the old files hold {old[0]} rows costing {old[1]:.6f}, the Delta "
                        f"table {new[0]} rows costing {new[1]:.6f}; the old files are kept in {folder}"
                    )
                    return Migration(days=len(days), rows=rows, removed=0, mismatch=line)
            verified = {"days": [d.isoformat() for d in sorted(days)]}
            atomic_write_bytes(folder / MARKER, orjson.dumps(verified))
        removed = 0
        for files in days.values():
            for path in files:
                path.unlink(missing_ok=True)
                removed += 1
        (folder / MARKER).unlink(missing_ok=True)
    return Migration(days=len(days), rows=rows, removed=removed, mismatch=None)
