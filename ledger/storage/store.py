"""The parquet ledger on disk: atomic batch writes, a visible-file rule, and compaction.

Layout: `<data_dir>/requests/date=YYYY-MM-DD/{part,compact}-<seq>.parquet`, hive-partitioned
on the UTC date, readable as it is by pyarrow (`partitioning="hive"`) and DuckDB
(`hive_partitioning=true`).

Why the `<seq>` names: compaction rewrites a day's small `part-*` files into one
`compact-<S>` file, where S is the highest seq it merged, then deletes the parts. Between the
rename and the deletes both exist, so `visible_files` applies one rule: in a day, the highest
`compact-S` hides every file with seq <= S. Our readers therefore never see double rows;
a raw glob could, for the milliseconds before the deletes.

Example:
    >>> from datetime import UTC, datetime
    >>> from tests.builders import build_ledger
    >>> _ = build_ledger(Path("seed"), n_records=500, days=2, seed=7, end=datetime(2026, 11, 2, 23, tzinfo=UTC))
    >>> table = read_ledger(Path("seed"))
    >>> write_rows(Path("data"), table)      # one file per UTC day in the batch
    [PosixPath('data/requests/date=2026-11-01/part-....parquet'),
     PosixPath('data/requests/date=2026-11-02/part-....parquet')]
    >>> read_ledger(Path("data"), start=date(2026, 11, 2)).num_rows
    345
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from .atomic import atomic_write
from .schema import PARTITION, SCHEMA

REQUESTS = "requests"
_seq_lock = threading.Lock()
_last_seq = 0
_thread_lock = threading.Lock()


def requests_dir(data_dir: Path) -> Path:
    return Path(data_dir) / REQUESTS


def _next_seq() -> int:
    global _last_seq
    with _seq_lock:
        _last_seq = max(_last_seq + 1, time.time_ns())
        return _last_seq


def _seq_of(path: Path) -> int:
    return int(path.stem.split("-", 1)[1])


@contextmanager
def ledger_lock(data_dir: Path) -> Iterator[None]:
    """Serialise writers and compaction, across threads and processes."""
    folder = requests_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with _thread_lock, (folder / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def day_dir(data_dir: Path, day: date) -> Path:
    return requests_dir(data_dir) / f"{PARTITION}={day.isoformat()}"


def _write_parquet(table: pa.Table, path: Path) -> Path:
    return atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression="zstd", compression_level=1))


def split_by_day(table: pa.Table) -> dict[date, pa.Table]:
    """Group rows by the UTC date of their timestamp."""
    days = pc.cast(pc.cast(table["timestamp"], pa.timestamp("us")), pa.date32())
    out: dict[date, pa.Table] = {}
    for day in pc.unique(days).to_pylist():
        out[day] = table.filter(pc.equal(days, pa.scalar(day, pa.date32())))
    return out


def write_rows(data_dir: Path, table: pa.Table) -> list[Path]:
    """Append rows (already in SCHEMA) as one new file per UTC day, each atomically."""
    with ledger_lock(data_dir):
        return write_rows_locked(data_dir, table)


def write_rows_locked(data_dir: Path, table: pa.Table) -> list[Path]:
    """`write_rows` for a caller already holding the ledger lock (the Appender)."""
    return [
        _write_parquet(rows, day_dir(data_dir, day) / f"part-{_next_seq():020d}.parquet")
        for day, rows in sorted(split_by_day(table.cast(SCHEMA)).items())
    ]


def list_days(data_dir: Path) -> list[date]:
    """Every day partition present, oldest first."""
    folder = requests_dir(data_dir)
    if not folder.is_dir():
        return []
    prefix = f"{PARTITION}="
    return sorted(date.fromisoformat(p.name[len(prefix) :]) for p in folder.glob(f"{prefix}*") if p.is_dir())


def visible_files(folder: Path) -> list[Path]:
    """The files of one day partition that readers should see (see module docstring)."""
    files = [p for p in folder.glob("*.parquet") if p.name.startswith(("part-", "compact-"))]
    compacts = [p for p in files if p.name.startswith("compact-")]
    if not compacts:
        return sorted(files)
    newest = max(compacts, key=_seq_of)
    floor = _seq_of(newest)
    return [newest, *sorted(p for p in files if p.name.startswith("part-") and _seq_of(p) > floor)]


def list_files(data_dir: Path, start: date | None = None, end: date | None = None) -> list[Path]:
    """Visible files of the days in [start, end] (inclusive, UTC dates; None = open)."""
    out: list[Path] = []
    for day in list_days(data_dir):
        if (start is None or day >= start) and (end is None or day <= end):
            out.extend(visible_files(day_dir(data_dir, day)))
    return out


def read_ledger(
    data_dir: Path,
    start: date | None = None,
    end: date | None = None,
    columns: list[str] | None = None,
) -> pa.Table:
    """Read the ledger (or a range of UTC days) into one arrow table in SCHEMA order."""
    files = list_files(data_dir, start, end)
    schema = SCHEMA if columns is None else pa.schema([SCHEMA.field(c) for c in columns])
    if not files:
        return schema.empty_table()
    dataset = ds.dataset([str(f) for f in files], schema=SCHEMA, format="parquet")
    return dataset.to_table(columns=schema.names)


def read_ids(data_dir: Path, source: str, day: date) -> set[str]:
    """The ids already stored for `source` on one UTC day: the dedupe key.

    Read under the ledger lock: a day being rewritten (compaction, re-pricing) deletes the files
    it replaces, and a read racing it would fail on a vanished file.
    """
    with ledger_lock(data_dir):
        return ids_in(visible_files(day_dir(data_dir, day)), source)


def ids_in(files: list[Path], source: str) -> set[str]:
    """The ids of `source` in these files (the caller holds the ledger lock)."""
    if not files:
        return set()
    table = ds.dataset([str(f) for f in files], schema=SCHEMA, format="parquet").to_table(
        columns=["id"], filter=ds.field("source") == source
    )
    return set(table["id"].to_pylist())


def rewrite_day(data_dir: Path, day: date, change: Callable[[pa.Table], pa.Table | None]) -> bool:
    """Read a day, let `change` compute its new content, and replace the day, all under the lock.

    The one read-modify-write of the ledger (re-pricing, compaction, upserts): a writer that
    appends while a day is being rewritten waits for the lock, so its rows land after the
    rewrite instead of being deleted by it. `change` returns None to leave the day as it is.
    Returns True if the day was replaced.

    Example:
        >>> from datetime import UTC, datetime
        >>> from tests.builders import build_ledger
        >>> _ = build_ledger(Path("data"), n_records=100, days=1, seed=7, end=datetime(2026, 11, 1, 23, tzinfo=UTC))
        >>> rewrite_day(Path("data"), date(2026, 11, 1), lambda t: t.sort_by("timestamp"))
        True
    """
    with ledger_lock(data_dir):
        folder = day_dir(data_dir, day)
        files = visible_files(folder)
        old = ds.dataset([str(f) for f in files], schema=SCHEMA, format="parquet").to_table() if files else None
        new = change(SCHEMA.empty_table() if old is None else old)
        if new is None:
            return False
        floor = max(_seq_of(f) for f in files) + 1 if files else _next_seq()
        _write_parquet(new.cast(SCHEMA), folder / f"compact-{floor:020d}.parquet")
        for stale in files:
            stale.unlink(missing_ok=True)
    return True


def compact_day(data_dir: Path, day: date) -> bool:
    """Merge a day's files into one (deduped on source+id); True if anything changed."""
    if len(visible_files(day_dir(data_dir, day))) <= 1:
        return False
    return rewrite_day(data_dir, day, _compacted)


def _compacted(table: pa.Table) -> pa.Table:
    return dedupe(table).sort_by([("timestamp", "ascending")])


def compact_closed_days(data_dir: Path, today: date) -> list[date]:
    """Compact every day before yesterday (UTC); late records to a day start a new part."""
    cutoff = today - timedelta(days=1)
    return [day for day in list_days(data_dir) if day < cutoff and compact_day(data_dir, day)]


def dedupe(table: pa.Table) -> pa.Table:
    """Keep the first row of each (source, id), in table order.

    `first["i_min"]` holds the row numbers to keep; taking `sort_indices` of it instead (positions
    0..k-1) used to keep the first k rows: duplicates kept, the tail of the table dropped.
    """
    if table.num_rows == 0:
        return table
    keys = pc.binary_join_element_wise(table["source"], table["id"], "\x1f")
    if pc.count_distinct(keys).as_py() == table.num_rows:
        return table
    index = pa.array(range(table.num_rows), pa.int64())
    first = pa.table({"k": keys, "i": index}).group_by("k", use_threads=False).aggregate([("i", "min")])
    keep = first["i_min"]
    return table.take(pc.take(keep, pc.sort_indices(keep)))


def disk_bytes(data_dir: Path) -> int:
    """Size of the ledger's visible files."""
    return sum(os.path.getsize(f) for f in list_files(data_dir))
