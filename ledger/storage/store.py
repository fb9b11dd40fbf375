"""The ledger on disk: a Delta Lake table, atomic batch commits, maintenance through Delta.

Layout: `<data_dir>/requests/` is a Delta table (`_delta_log/` plus
`date=YYYY-MM-DD/part-*.parquet`), partitioned on the UTC date. What a reader sees is exactly the
files of the table's current snapshot (`list_files`, from the Delta log): a compaction, a
re-pricing or an upsert is one commit, so no reader, ours or another engine, ever sees a day
twice or half-replaced. Files a commit removed stay on disk until `vacuum` (after
`VACUUM_HOURS`), so a reader that listed them a moment ago can still open them.

Example:
    >>> from datetime import UTC, datetime
    >>> from tests.builders import build_ledger
    >>> _ = build_ledger(Path("seed"), n_records=500, days=2, seed=7, end=datetime(2026, 11, 2, 23, tzinfo=UTC))
    >>> table = read_ledger(Path("seed"))
    >>> write_rows(Path("data"), table)      # one commit, one file per UTC day in the batch
    [PosixPath('.../data/requests/date=2026-11-01/part-....parquet'),
     PosixPath('.../data/requests/date=2026-11-02/part-....parquet')]
    >>> read_ledger(Path("data"), start=date(2026, 11, 2)).num_rows
    345
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from . import table as delta
from .schema import PARTITION, SCHEMA

REQUESTS = "requests"
VACUUM_HOURS = 7 * 24
"""Removed files are kept a week: far longer than any query, export or backup reads them."""
_thread_lock = threading.Lock()


def requests_dir(data_dir: Path) -> Path:
    return Path(data_dir) / REQUESTS


@contextmanager
def ledger_lock(data_dir: Path) -> Iterator[None]:
    """Serialise writers and maintenance, across threads and processes of one host (the Delta
    log's own conflict check covers writers on other hosts)."""
    folder = requests_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with _thread_lock, (folder / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            with delta.span(folder):
                yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def day_dir(data_dir: Path, day: date) -> Path:
    return requests_dir(data_dir) / f"{PARTITION}={day.isoformat()}"


def split_by_day(table: pa.Table) -> dict[date, pa.Table]:
    """Group rows by the UTC date of their timestamp."""
    days = pc.cast(pc.cast(table["timestamp"], pa.timestamp("us")), pa.date32())
    out: dict[date, pa.Table] = {}
    for day in pc.unique(days).to_pylist():
        out[day] = table.filter(pc.equal(days, pa.scalar(day, pa.date32())))
    return out


def write_rows(data_dir: Path, table: pa.Table) -> list[Path]:
    """Append rows (already in SCHEMA) in one Delta commit; returns the files it added."""
    with ledger_lock(data_dir):
        return write_rows_locked(data_dir, table)


def write_rows_locked(data_dir: Path, table: pa.Table, batch: tuple[str, int] | None = None) -> list[Path]:
    """`write_rows` for a caller already holding the ledger lock (the Appender), with an
    application transaction `batch` = (app id, version) recorded in the same commit."""
    folder = requests_dir(data_dir)
    touched = sorted(split_by_day(table))
    if not touched:
        return []
    first, last = touched[0], touched[-1]
    before = set(delta.files(folder, first, last, fetch=False))
    delta.append(folder, table, batch)
    return sorted(set(delta.files(folder, first, last, fetch=False)) - before)


def list_days(data_dir: Path) -> list[date]:
    """Every day partition of the current snapshot, oldest first."""
    return delta.days(requests_dir(data_dir))


def day_files(data_dir: Path, day: date, fetch: bool = True) -> list[Path]:
    """The files of one day in the current snapshot (on S3, `fetch=False` lists their cached
    paths without downloading them: `ids_in` fetches the few it reads)."""
    return delta.files(requests_dir(data_dir), day, day, fetch)


def files_by_day(data_dir: Path, first: date, last: date, fetch: bool = True) -> dict[date, list[Path]]:
    """The files of each day in [first, last] (UTC dates) in the current snapshot, from one read of
    it (on S3 `fetch=False` lists their cached paths without downloading them)."""
    return delta.files_by_day(requests_dir(data_dir), first, last, fetch)


def list_files(data_dir: Path, start: date | None = None, end: date | None = None) -> list[Path]:
    """The snapshot's files of the days in [start, end] (inclusive, UTC dates; None = open)."""
    return delta.files(requests_dir(data_dir), start, end)


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
    """The ids already stored for `source` on one UTC day: the dedupe key."""
    with ledger_lock(data_dir):
        return ids_in(day_files(data_dir, day), source)


def ids_in(files: list[Path], source: str) -> set[str]:
    """The ids of `source` in these files."""
    if not files:
        return set()
    delta.ensure(files[0].parent.parent, files)  # the table folder: files sit in its date= folders
    table = ds.dataset([str(f) for f in files], schema=SCHEMA, format="parquet").to_table(
        columns=["id"], filter=ds.field("source") == source
    )
    return set(table["id"].to_pylist())


def rewrite_day(data_dir: Path, day: date, change: Callable[[pa.Table], pa.Table | None]) -> bool:
    """Read a day, let `change` compute its new content, and replace the day, all under the lock.

    The one read-modify-write of the ledger (re-pricing, upserts, compaction that dedupes): the
    replacement is one Delta commit (an overwrite with the predicate `date = day`), and a writer
    that appends meanwhile waits for the lock, so its rows land after the rewrite instead of being
    dropped by it. `change` returns None to leave the day as it is. Returns True if the day was
    replaced. Rows `change` returns must all fall on `day`.

    Example:
        >>> from datetime import UTC, datetime
        >>> from tests.builders import build_ledger
        >>> _ = build_ledger(Path("data"), n_records=100, days=1, seed=7, end=datetime(2026, 11, 1, 23, tzinfo=UTC))
        >>> rewrite_day(Path("data"), date(2026, 11, 1), lambda t: t.sort_by("timestamp"))
        True
    """
    return rewrite_days(data_dir, [day], change)


def rewrite_days(data_dir: Path, days: list[date], change: Callable[[pa.Table], pa.Table | None]) -> bool:
    """`rewrite_day` over several days at once: one read, one commit replacing all of them."""
    with ledger_lock(data_dir):
        files = [f for day in sorted(set(days)) for f in day_files(data_dir, day)]
        old = ds.dataset([str(f) for f in files], schema=SCHEMA, format="parquet").to_table() if files else None
        new = change(SCHEMA.empty_table() if old is None else old)
        if new is None:
            return False
        delta.replace_days(requests_dir(data_dir), new.cast(SCHEMA), list(days))
    return True


def compact_day(data_dir: Path, day: date) -> bool:
    """Merge a day's files into one; True if anything changed."""
    return bool(compact_days(data_dir, [day]))


def compact_days(data_dir: Path, days: list[date]) -> list[date]:
    """Merge each day's files into one; returns the days that changed.

    Delta's optimize, one commit for all the days, unless a day holds a (source, id) twice (a
    writer that bypassed the locks): then one rewrite of that day that keeps the first row of
    each key.
    """
    done: list[date] = []
    plain: dict[date, set[Path]] = {}
    for day in days:
        files = day_files(data_dir, day)
        if len(files) <= 1:
            continue
        keys = ds.dataset([str(f) for f in files], schema=SCHEMA, format="parquet").to_table(columns=["source", "id"])
        if dedupe(keys).num_rows != keys.num_rows:
            done += [day] if rewrite_day(data_dir, day, _compacted) else []
        else:
            plain[day] = set(files)
    if plain:
        with ledger_lock(data_dir):
            delta.compact(requests_dir(data_dir), list(plain))
        done += [day for day, files in plain.items() if not files <= set(day_files(data_dir, day))]
    return sorted(done)


def _compacted(table: pa.Table) -> pa.Table:
    return dedupe(table).sort_by([("timestamp", "ascending")])


COMPACT_DAYS = 8
"""Closed days compacted together, by one optimize and one commit: after a 1M-record backfill,
a third less CPU than a commit per day, with the same peak memory."""


def compact_closed_days(
    data_dir: Path, today: date, track: Callable[[list[date]], Iterable[date]] = iter
) -> list[date]:
    """Compact every day before yesterday (UTC), `COMPACT_DAYS` at a time, then vacuum files
    removed over `VACUUM_HOURS` ago. `track` sees the days as they are done
    (foundation.progress.tracker)."""
    cutoff = today - timedelta(days=1)
    closed = [d for d in list_days(data_dir) if d < cutoff]
    done: list[date] = []
    chunk: list[date] = []
    for day in track(closed):
        chunk.append(day)
        if len(chunk) == COMPACT_DAYS or day == closed[-1]:
            done += compact_days(data_dir, chunk)
            chunk = []
    vacuum(data_dir)
    return done


def vacuum(data_dir: Path, retention_hours: int = VACUUM_HOURS) -> list[str]:
    """Delete the files no snapshot of the last `retention_hours` refers to."""
    with ledger_lock(data_dir):
        return delta.vacuum(requests_dir(data_dir), retention_hours)


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
    """Size of the snapshot's files."""
    return sum(os.path.getsize(f) for f in list_files(data_dir))
