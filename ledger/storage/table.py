"""The request ledger's Delta Lake table: one handle per process, its snapshot, its commits.

Why Delta (delta-rs): a commit is one atomic log entry, so every reader (ours through
`DeltaTable.file_uris`, Spark, Trino, DuckDB, Polars) sees exactly the files of one snapshot,
whatever compaction or re-pricing is doing, with no visibility rule of our own. A commit may
carry an application transaction (`txn`: app id, version), which is how a batch retried after a
crash is recognised (`ledger.storage.ingest.Appender`).

The table is partitioned by `date` (the UTC day of `timestamp`, a `date` column kept in the log,
not in the files), so each data file holds exactly SCHEMA's columns. delta-rs writes a log
checkpoint every `CHECKPOINT_INTERVAL` commits, so opening the table stays fast.

Example:
    >>> from ledger.storage.store import requests_dir
    >>> handle(requests_dir(Path("data"))) is None        # no table yet
    True
"""

from __future__ import annotations

import os
import threading
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from .schema import PARTITION, SCHEMA

if TYPE_CHECKING:
    from deltalake import DeltaTable

CHECKPOINT_INTERVAL = 100
TABLE_SCHEMA = SCHEMA.append(pa.field(PARTITION, pa.date32(), nullable=False))
"""SCHEMA plus the partition column, as the Delta log declares it."""
_handles: dict[str, DeltaTable] = {}
_snapshots: dict[str, tuple[int, dict[date, list[Path]]]] = {}
_seen: dict[str, tuple[int, int]] = {}
SETTLED_NS = 100_000_000
_lock = threading.RLock()


def _writer() -> Any:
    """zstd level 1, as the ledger's files always were. deltalake is imported on first use, so a
    process that only needs the schema (the SQL box's worker, under its memory cap) never loads it."""
    from deltalake import WriterProperties

    return WriterProperties(compression="ZSTD", compression_level=1)


def is_table(folder: Path) -> bool:
    return (Path(folder) / "_delta_log").is_dir()


def handle(folder: Path) -> DeltaTable | None:
    """The process's handle on the table at `folder`, brought to its latest version; None if
    there is no table yet. Callers use it under this module's lock: a handle is shared across threads."""
    key = str(Path(folder).absolute())
    with _lock:
        table = _handles.get(key)
        if table is None:
            if not is_table(Path(key)):
                return None
            from deltalake import DeltaTable

            _unchanged(key)
            table = _handles[key] = DeltaTable(key)
        elif not _unchanged(key):
            table.update_incremental()
        return table


def _unchanged(key: str) -> bool:
    """True when the log folder cannot have changed since this process last read it: its mtime is
    the one seen then, and that read began well after the mtime (a commit later than the read would
    have moved it past the read's start, whatever the file system's clock tick)."""
    stamp = os.stat(Path(key) / "_delta_log").st_mtime_ns
    seen = _seen.get(key)
    if seen is not None and seen[0] == stamp and seen[1] - stamp > SETTLED_NS:
        return True
    _seen[key] = (stamp, time.time_ns())  # the read that follows begins now
    return False


def create(folder: Path) -> DeltaTable:
    """The table at `folder`, created empty if missing (the caller holds the ledger lock)."""
    with _lock:
        table = handle(folder)
        if table is not None:
            return table
        Path(folder).mkdir(parents=True, exist_ok=True)
        from deltalake import DeltaTable

        DeltaTable.create(
            str(Path(folder).absolute()),
            schema=TABLE_SCHEMA,
            partition_by=[PARTITION],
            mode="ignore",
            configuration={"delta.checkpointInterval": str(CHECKPOINT_INTERVAL)},
        )
        made = handle(folder)
        assert made is not None
        return made


def with_day(rows: pa.Table) -> pa.Table:
    """SCHEMA rows plus their partition column."""
    rows = rows.cast(SCHEMA)
    days = pc.cast(pc.cast(rows["timestamp"], pa.timestamp("us")), pa.date32())
    return rows.append_column(TABLE_SCHEMA.field(PARTITION), days)


def day_predicate(days: list[date]) -> str:
    """A SQL predicate on the partition column selecting exactly `days`."""
    return " OR ".join(f"{PARTITION} = '{d.isoformat()}'" for d in sorted(set(days))) or "FALSE"


def _by_day(folder: Path) -> dict[date, list[Path]]:
    """The current snapshot's files per day, computed once per table version (a dashboard
    asks for each day of a window in turn)."""
    table = handle(folder)
    if table is None:
        return {}
    key = (str(Path(folder).absolute()), table.version())
    cached = _snapshots.get(key[0])
    if cached is not None and cached[0] == key[1]:
        return cached[1]
    out: dict[date, list[Path]] = {}
    prefix = f"{PARTITION}="
    for uri in table.file_uris():
        path = Path(uri)
        out.setdefault(date.fromisoformat(path.parent.name.removeprefix(prefix)), []).append(path)
    for paths in out.values():
        paths.sort()
    _snapshots[key[0]] = (key[1], out)
    return out


def files(folder: Path, first: date | None = None, last: date | None = None) -> list[Path]:
    """The data files of the current snapshot whose day is in [first, last] (None = open)."""
    with _lock:
        days = _by_day(folder)
        return sorted(
            f
            for day, paths in days.items()
            if (first is None or day >= first) and (last is None or day <= last)
            for f in paths
        )


def days(folder: Path) -> list[date]:
    """The day partitions of the current snapshot, oldest first."""
    with _lock:
        return sorted(_by_day(folder))


def version(folder: Path) -> int | None:
    """The table's latest version, or None if there is no table yet."""
    with _lock:
        table = handle(folder)
        return None if table is None else table.version()


def txn_version(folder: Path, app_id: str) -> int | None:
    """The last batch number committed for `app_id`, or None."""
    with _lock:
        table = handle(folder)
        return None if table is None else table.transaction_version(app_id)


def append(folder: Path, rows: pa.Table, batch: tuple[str, int] | None = None) -> int:
    """One commit adding `rows` (SCHEMA), with the application transaction `batch` if given;
    returns that commit's version (past any other writer's that landed first)."""
    from deltalake import CommitProperties, Transaction

    with _lock:
        table = create(folder)
        txns = [] if batch is None else [Transaction(app_id=batch[0], version=batch[1])]
        write_deltalake(
            table,
            with_day(rows),
            mode="append",
            partition_by=[PARTITION],
            writer_properties=_writer(),
            commit_properties=CommitProperties(app_transactions=txns),
        )
        return int(table.version())  # the writer moved the handle to its commit


def replace_days(folder: Path, rows: pa.Table, replaced: list[date]) -> None:
    """One commit replacing every row of the `replaced` days by `rows` (a predicate overwrite)."""
    with _lock:
        table = create(folder)
        write_deltalake(
            table,
            with_day(rows),
            mode="overwrite",
            predicate=day_predicate(replaced),
            partition_by=[PARTITION],
            writer_properties=_writer(),
        )
        table.update_incremental()


def compact(folder: Path, days: list[date]) -> int:
    """Delta's optimize (bin-packing) of these days, in one commit; returns the files it rewrote.
    One day at a time (`max_concurrent_tasks=1`): two at once took as long on two busy cores, and
    more memory."""
    with _lock:
        table = handle(folder)
        if table is None or not days:
            return 0
        only = [(PARTITION, "in", [day.isoformat() for day in sorted(set(days))])]
        metrics = table.optimize.compact(partition_filters=only, writer_properties=_writer(), max_concurrent_tasks=1)
        table.update_incremental()
        return int(metrics.get("numFilesRemoved", 0))


def write_deltalake(table: DeltaTable, data: pa.Table, **options: Any) -> None:
    """deltalake's writer (a module function here, so tests can wrap the commit)."""
    from deltalake import write_deltalake as write

    write(table, data, **options)


def vacuum(folder: Path, retention_hours: int) -> list[str]:
    """Delete files no snapshot younger than `retention_hours` refers to; returns them."""
    with _lock:
        table = handle(folder)
        if table is None:
            return []
        return table.vacuum(retention_hours=retention_hours, dry_run=False, enforce_retention_duration=False)
