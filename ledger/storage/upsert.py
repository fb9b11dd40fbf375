"""Replace-or-insert for aggregated rows: a re-fetched bucket replaces its earlier partial self.

Why not the Appender: it keeps the FIRST row of each (source, id), which is right for
immutable per-request records but wrong for a provider's hourly bucket that keeps growing
until the hour is over. Here the affected UTC days are rewritten whole by `rewrite_days` (under the ledger
lock): other sources' rows and this source's other ids are kept, rows whose id is in the new batch
are dropped, the new rows are added, and the result replaces those days in one Delta commit.

Example:
    >>> from datetime import UTC, datetime
    >>> from tests.builders import build_ledger
    >>> from ledger.storage.store import read_ledger
    >>> _ = build_ledger(Path("seed"), n_records=100, days=2, seed=7, end=datetime(2026, 11, 2, 23, tzinfo=UTC))
    >>> buckets = read_ledger(Path("seed")).filter(pc.field("aggregated"))   # ids = stable bucket keys
    >>> upsert_rows(Path("data"), buckets), upsert_rows(Path("data"), buckets)
    (8, 8)
    >>> read_ledger(Path("data")).num_rows     # replaced, not added twice
    8
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from .schema import SCHEMA
from .store import dedupe, rewrite_days, split_by_day


def _superseded_by(fresh: pa.Table) -> Callable[[pa.Table], pa.Table]:
    """The day's new content: rows not superseded by `fresh`, then `fresh`."""

    def change(old: pa.Table) -> pa.Table:
        for source in pc.unique(fresh["source"]).to_pylist():
            ids = pc.unique(fresh.filter(pc.equal(fresh["source"], source))["id"])
            stale = pc.and_(pc.equal(old["source"], source), pc.is_in(old["id"], value_set=ids))
            old = old.filter(pc.invert(stale))
        return pa.concat_tables([old, fresh]).sort_by([("timestamp", "ascending")])

    return change


def upsert_rows(data_dir: Path, rows: pa.Table) -> int:
    """Insert rows, replacing any stored row with the same (source, id); returns rows written.

    A row whose id moved to another day (it should not: ids derive from the bucket start)
    would be kept twice, so ids must be functions of the timestamp's day.
    """
    if rows.num_rows == 0:
        return 0
    rows = dedupe(rows.cast(SCHEMA))
    rewrite_days(Path(data_dir), sorted(split_by_day(rows)), _superseded_by(rows))
    return int(rows.num_rows)
