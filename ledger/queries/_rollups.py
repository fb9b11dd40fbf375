"""Hourly rollups: the ledger pre-summed per UTC hour and key, so pages read thousands of rows, not millions.

Why: a 30-day window of a 10M-record ledger is 3M+ rows, and 100M records make it 30M; every
dashboard figure except latency percentiles is a sum, count, min or max, so it can be
answered from rows pre-grouped by (hour, source, model, project, key, endpoint, status,
error type, spend cap, attempt, aggregated, simulated, currency, priced model, priced) with
a weight `n`. Which columns a rollup keeps is derived from ledger.queries._measures.

Two kinds per day: `totals` (the sums above) and `latency` (per-request latencies counted
in 96 log-spaced bins per hour and (source, model, project, key, endpoint); see
ledger.queries._latency). Each kind is a Delta Lake table, `<data_dir>/rollups/totals` and
`<data_dir>/rollups/latency` (ledger.storage.table), partitioned by `date` (the UTC day) and
`ledger_hash` (a hash of the names of the day's ledger files in the snapshot, and of VERSION).
A day's rollup is fresh exactly when its table holds a partition of that day whose hash is
the one of the files now visible: a write or compaction makes it stale at once, and stale or
missing days are summed from the raw files on the fly, in the same shape. Nothing is ever
wrong, only slower, when the collector does not call `update_rollups` after its writes.

Why Delta: on an `s3://` data_dir the rollups then live in the bucket beside the ledger (read
through the same local cache of data files), so a dashboard on a fresh host reads them instead
of rolling every day up again; and a day's new rollup replaces its old one in one commit, so a
reader sees one of the two, never neither or both. A day whose rollup has no row (no request
with a latency) keeps one all-null row, `timestamp` null: it marks the day as built and no
query's time window ever selects it.

Example:
    >>> from datetime import UTC, date, datetime
    >>> from pathlib import Path
    >>> from tests.builders import build_ledger
    >>> _ = build_ledger(Path("data"), n_records=2000, days=3, seed=7, end=datetime(2026, 11, 25, 12, tzinfo=UTC))
    >>> from ledger.queries._rollup_build import update_rollups
    >>> [path.relative_to("data").parts[:3] for path in update_rollups(Path("data"), [date(2026, 11, 24)])]
    [('rollups', 'totals', 'date=2026-11-24'), ('rollups', 'latency', 'date=2026-11-24')]
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

from ledger.storage import table as delta
from ledger.storage.schema import PARTITION
from ledger.storage.store import files_by_day, requests_dir

from ._measures import LATENCY_KEYS, LATENCY_ROWS, rollup_columns

ROLLUPS = Path("rollups")
HASH = "ledger_hash"
"""The second partition column: `ledger_hash`, see the module docstring."""
VERSION = "6"
"""Part of every rollup's name: bump it when a rollup's SQL changes, and old rollups go stale."""
HOUR = "to_timestamp((epoch_us(timestamp) // 3600000000) * 3600) AS timestamp"
PER_DECADE = 16
BINS = 6 * PER_DECADE
BIN_SQL = f"least({BINS - 1}, greatest(0, floor(log10(greatest(latency_ms, 1)) * {PER_DECADE})))::INTEGER"
"""The latency bin of a row: bin i covers [10^(i/16), 10^((i+1)/16)) ms; bin 0 also holds < 1 ms."""
KINDS = {
    "totals": f"SELECT {HOUR}, {rollup_columns()} FROM {{scan}} GROUP BY ALL",
    "latency": f"""SELECT {HOUR}, {", ".join(LATENCY_KEYS)}, {BIN_SQL} AS lat_bin, count(*) AS n
        FROM {{scan}} WHERE {LATENCY_ROWS} GROUP BY ALL""",
}
"""Raw rows -> rollup rows, per kind, from the registry (ledger.queries._measures). In totals `cost IS NULL`
is a key, so unpriced rows keep a null cost."""


def rollup_sql(scan: str, kind: str = "totals") -> str:
    """The rollup of the rows of `scan` (a FROM-able SQL expression)."""
    return KINDS[kind].format(scan=scan)


def rollup_table(data_dir: Path, kind: str = "totals") -> Path:
    """The folder of the Delta table of one kind of rollup (on S3, the working folder's)."""
    return Path(data_dir) / ROLLUPS / kind


def ledger_hash(files: list[Path]) -> str:
    """The hash of exactly these visible ledger files of one day (a new one when they change)."""
    names = "\n".join([VERSION, *sorted(f.name for f in files)])
    return hashlib.sha256(names.encode()).hexdigest()[:16]


def built(data_dir: Path, kind: str = "totals") -> dict[tuple[date, str], list[Path]]:
    """The rollup table's snapshot: (day, ledger hash) -> its data files (on S3 their cached
    paths, not downloaded)."""
    out: dict[tuple[date, str], list[Path]] = {}
    for path, values in delta.partitioned(rollup_table(data_dir, kind)).items():
        out.setdefault((date.fromisoformat(values[PARTITION]), values[HASH]), []).append(path)
    return out


def plan(data_dir: Path, first: date, last: date, kind: str = "totals") -> tuple[list[Path], list[Path]]:
    """For the UTC days first..last: (fresh rollup files, raw files of days without one)."""
    fresh: list[Path] = []
    raw: list[Path] = []
    by_day = files_by_day(Path(data_dir), first, last, fetch=False)
    rolled = built(data_dir, kind) if by_day else {}
    for day in sorted(by_day):
        files = by_day[day]
        found = rolled.get((day, ledger_hash(files)))
        if found:
            fresh.extend(sorted(found))
        else:
            raw.extend(files)
    delta.ensure(rollup_table(data_dir, kind), fresh)
    delta.ensure(requests_dir(Path(data_dir)), raw)  # on S3 only the raw files a rollup cannot replace
    return fresh, raw
