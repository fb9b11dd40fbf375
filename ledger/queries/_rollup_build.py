"""Building the hourly rollups: the writer side of `_rollups` (which only plans and reads).

Why its own module: building runs a DuckDB query (`_engine`), and the engine plans with
`_rollups`; keeping the build here means neither of those two imports the other's user.

Example:
    >>> from datetime import UTC, datetime
    >>> from tests.builders import build_ledger
    >>> _ = build_ledger(Path("data"), n_records=500, days=1, seed=7, end=datetime(2026, 11, 27, 23, tzinfo=UTC))
    >>> update_rollups(Path("data"))   # after a write or compaction
    [PosixPath('data/rollups/hourly/date=2026-11-27/totals-....parquet'), ...]
    >>> update_rollups(Path("data"))   # cheap when nothing changed
    []
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

from ledger.storage.atomic import atomic_write
from ledger.storage.store import day_files, list_days

from ._engine import connection, scan_sql
from ._rollups import KINDS, rollup_dir, rollup_path, rollup_sql


def update_rollups(data_dir: Path, days: Iterable[date] | None = None) -> list[Path]:
    """(Re)build the rollups of each given UTC day whose files changed; None = every day.

    Call it after each ledger write or compaction (cheap when nothing changed: one hash of
    file names). Returns the rollup files written; older rollups of those days are removed.
    """
    wanted = list_days(Path(data_dir)) if days is None else sorted(set(days))
    written = []
    for day in wanted:
        files = day_files(Path(data_dir), day)
        for kind in KINDS if files else ():
            written.extend(_build(data_dir, day, files, kind))
    return written


def _build(data_dir: Path, day: date, files: list[Path], kind: str) -> list[Path]:
    target = rollup_path(data_dir, day, files, kind)
    written = []
    if not target.exists():
        sql = rollup_sql(scan_sql(files), kind)
        atomic_write(target, lambda tmp: _copy(connection(), sql, tmp))
        written.append(target)
    for old in rollup_dir(data_dir, day).glob(f"{kind}-*.parquet"):
        if old != target:
            old.unlink(missing_ok=True)
    for legacy in rollup_dir(data_dir, day).glob("rollup-*.parquet"):
        legacy.unlink(missing_ok=True)
    return written


def _copy(con: object, sql: str, tmp: Path) -> None:
    escaped = str(tmp).replace("'", "''")
    con.execute(f"COPY ({sql}) TO '{escaped}' (FORMAT parquet, COMPRESSION zstd)")  # type: ignore[attr-defined]
