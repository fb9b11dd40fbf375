"""Building the hourly rollups: the writer side of `_rollups` (which only plans and reads).

Why its own module: building runs a DuckDB query (`_engine`), and the engine plans with
`_rollups`; keeping the build here means neither of those two imports the other's user.

Stale days of a kind are rebuilt `COMMIT_DAYS` at a time, one commit to that kind's Delta table
replacing those days' partitions whole (a predicate overwrite on `date`), with their new
`ledger_hash`; a build killed midway leaves every committed day fresh and the others stale,
never a torn day. Files a commit
replaced are deleted by a `vacuum` every `VACUUM_EVERY` commits, once older than the ledger's
`VACUUM_HOURS`, so a query that planned them keeps working.

Example:
    >>> from datetime import UTC, datetime
    >>> from tests.builders import build_ledger
    >>> _ = build_ledger(Path("data"), n_records=500, days=1, seed=7, end=datetime(2026, 11, 27, 23, tzinfo=UTC))
    >>> update_rollups(Path("data"))   # after a write or compaction
    [PosixPath('data/rollups/totals/date=2026-11-27/ledger_hash=...'), PosixPath('data/rollups/latency/...')]
    >>> update_rollups(Path("data"))   # cheap when nothing changed
    []
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

import pyarrow as pa

from ledger.storage import table as delta
from ledger.storage.schema import PARTITION
from ledger.storage.store import VACUUM_HOURS, files_by_day, list_days, requests_dir

from ._engine import connection, scan_sql
from ._rollups import HASH, KINDS, built, ledger_hash, rollup_sql, rollup_table

VACUUM_EVERY = 50
"""Commits to a rollup table between two vacuums of it."""
COMMIT_DAYS = 8
"""Stale days rebuilt in one commit (each day's partition replaced whole): a first build of a
long ledger makes an eighth of the commits, which on S3 is most of its time."""


def update_rollups(data_dir: Path, days: Iterable[date] | None = None) -> list[Path]:
    """(Re)build the rollups of each given UTC day whose files changed; None = every day.

    Call it after each ledger write or compaction (cheap when nothing changed: one hash of
    file names per day, one read of each rollup table's log). Returns the partitions written,
    `rollups/<kind>/date=D/ledger_hash=H`, kind by kind.
    """
    data_dir = Path(data_dir)
    wanted = list_days(data_dir) if days is None else sorted(set(days))
    if not wanted:
        return []
    by_day = files_by_day(data_dir, wanted[0], wanted[-1], fetch=False)
    written = []
    for kind in KINDS:
        rolled = set(built(data_dir, kind))
        stale = [
            (day, by_day[day], ledger_hash(by_day[day]))
            for day in wanted
            if by_day.get(day) and (day, ledger_hash(by_day[day])) not in rolled
        ]
        for start in range(0, len(stale), COMMIT_DAYS):
            chunk = stale[start : start + COMMIT_DAYS]
            _build(data_dir, chunk, kind)
            table = rollup_table(data_dir, kind)
            written += [table / f"{PARTITION}={day.isoformat()}" / f"{HASH}={digest}" for day, _, digest in chunk]
    return written


def _build(data_dir: Path, days: list[tuple[date, list[Path], str]], kind: str) -> None:
    """One commit replacing the partitions of these (day, its ledger files, their hash)."""
    from deltalake.exceptions import SchemaMismatchError

    delta.ensure(requests_dir(data_dir), [f for _, files, _ in days for f in files])
    rows = pa.concat_tables([_day_rows(files, day, digest, kind) for day, files, digest in days])
    folder = rollup_table(data_dir, kind)
    layout = delta.Layout(rows.schema, (PARTITION, HASH))
    try:
        version = delta.overwrite(folder, rows, delta.day_predicate([day for day, _, _ in days]), layout)
    except SchemaMismatchError:  # a new VERSION's columns: every day's rollup is stale anyway
        version = delta.overwrite(folder, rows, None, layout, new_schema=True)
    if version % VACUUM_EVERY == 0:
        delta.vacuum(folder, VACUUM_HOURS)


def _day_rows(files: list[Path], day: date, digest: str, kind: str) -> pa.Table:
    rows = _rows(connection().sql(rollup_sql(scan_sql(files), kind)).to_arrow_table())
    if rows.num_rows == 0:
        rows = pa.table({f.name: pa.nulls(1, f.type) for f in rows.schema}, schema=rows.schema)
    rows = rows.append_column(pa.field(PARTITION, pa.date32()), pa.array([day] * rows.num_rows, pa.date32()))
    return rows.append_column(pa.field(HASH, pa.string()), pa.array([digest] * rows.num_rows, pa.string()))


def _rows(table: pa.Table) -> pa.Table:
    """DuckDB's answer in types a Delta table keeps, as the rollup's parquet files always had them:
    sums of integers (HUGEINT, arrow decimals) as doubles, times in UTC, every column nullable."""
    fields = []
    for f in table.schema:
        kind = f.type
        if pa.types.is_decimal(kind):
            kind = pa.float64()
        elif pa.types.is_timestamp(kind):
            kind = pa.timestamp("us", tz="UTC")
        fields.append(pa.field(f.name, kind))
    return table.cast(pa.schema(fields))
