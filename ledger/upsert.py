"""Replace-or-insert for aggregated rows: a re-fetched bucket replaces its earlier partial self.

Why not the Appender: it keeps the FIRST row of each (source, id), which is right for
immutable per-request records but wrong for a provider's hourly bucket that keeps growing
until the hour is over. Here each affected UTC day is rewritten whole under the ledger lock:
other sources' rows and this source's other ids are kept, rows whose id is in the new batch
are dropped, the new rows are added, and the result replaces the day's files atomically.

Example:
    >>> upsert_rows(Path("data"), rows)   # rows of one source, ids = stable bucket keys
    24
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from .schema import SCHEMA
from .store import _next_seq, _seq_of, _write_parquet, day_dir, dedupe, ledger_lock, split_by_day, visible_files


def _replace_locked(data_dir: Path, day: date, fresh: pa.Table) -> None:
    """Rewrite one day: keep rows not superseded by `fresh`, add `fresh` (caller holds the lock)."""
    files = visible_files(day_dir(data_dir, day))
    parts = [fresh]
    if files:
        old = ds.dataset([str(f) for f in files], schema=SCHEMA, format="parquet").to_table()
        for source in pc.unique(fresh["source"]).to_pylist():
            ids = pc.unique(fresh.filter(pc.equal(fresh["source"], source))["id"])
            stale = pc.and_(pc.equal(old["source"], source), pc.is_in(old["id"], value_set=ids))
            old = old.filter(pc.invert(stale))
        parts.insert(0, old)
    table = pa.concat_tables(parts).sort_by([("timestamp", "ascending")])
    floor = max([_seq_of(f) for f in files] + [_next_seq()])
    _write_parquet(table, day_dir(data_dir, day) / f"compact-{floor:020d}.parquet")
    for old_file in files:
        old_file.unlink(missing_ok=True)


def upsert_rows(data_dir: Path, rows: pa.Table) -> int:
    """Insert rows, replacing any stored row with the same (source, id); returns rows written.

    A row whose id moved to another day (it should not: ids derive from the bucket start)
    would be kept twice, so ids must be functions of the timestamp's day.
    """
    if rows.num_rows == 0:
        return 0
    rows = dedupe(rows.cast(SCHEMA))
    with ledger_lock(data_dir):
        for day, part in sorted(split_by_day(rows).items()):
            _replace_locked(Path(data_dir), day, part)
    return rows.num_rows
