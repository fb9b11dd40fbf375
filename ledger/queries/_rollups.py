"""Hourly rollups: the ledger pre-summed per UTC hour and key, so pages read thousands of rows, not millions.

Why: a 30-day window of a 10M-record ledger is 3M+ rows, and 100M records make it 30M; every
dashboard figure except latency percentiles is a sum, count, min or max, so it can be
answered from rows pre-grouped by (hour, source, model, project, key, endpoint, status,
error type, spend cap, attempt, aggregated, simulated, currency, priced model, priced) with
a weight `n`. Which columns a rollup keeps is derived from ledger.queries._measures.

Two kinds per day: `totals` (the sums above) and `latency` (per-request latencies counted
in 96 log-spaced bins per hour and (source, model, project, key, endpoint); see
ledger.queries._latency). A day's rollup is named after a hash of the day's visible ledger files, so it is fresh
exactly when its name matches the files now visible: a write or compaction makes it stale
at once, and stale or missing days are summed from the raw files on the fly, in the same
shape. Nothing is ever wrong, only slower, when the collector does not call
`update_rollups` after its writes.

Example:
    >>> from datetime import UTC, date, datetime
    >>> from pathlib import Path
    >>> from tests.builders import build_ledger
    >>> _ = build_ledger(Path("data"), n_records=2000, days=3, seed=7, end=datetime(2026, 11, 25, 12, tzinfo=UTC))
    >>> from ledger.queries._rollup_build import update_rollups
    >>> [path.name.split("-")[0] for path in update_rollups(Path("data"), [date(2026, 11, 24)])]
    ['totals', 'latency']
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

from ledger.storage.schema import PARTITION
from ledger.storage.store import files_by_day

from ._measures import LATENCY_KEYS, LATENCY_ROWS, rollup_columns

ROLLUPS = Path("rollups") / "hourly"
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


def rollup_dir(data_dir: Path, day: date) -> Path:
    return Path(data_dir) / ROLLUPS / f"{PARTITION}={day.isoformat()}"


def rollup_path(data_dir: Path, day: date, files: list[Path], kind: str = "totals") -> Path:
    """Where the rollup of exactly these visible files lives (a new name when they change)."""
    names = "\n".join([VERSION, *sorted(f.name for f in files)])
    digest = hashlib.sha256(names.encode()).hexdigest()[:16]
    return rollup_dir(data_dir, day) / f"{kind}-{digest}.parquet"


def plan(data_dir: Path, first: date, last: date, kind: str = "totals") -> tuple[list[Path], list[Path]]:
    """For the UTC days first..last: (fresh rollup files, raw files of days without one)."""
    fresh: list[Path] = []
    raw: list[Path] = []
    by_day = files_by_day(Path(data_dir), first, last)
    for day in sorted(by_day):
        files = by_day[day]
        target = rollup_path(data_dir, day, files, kind) if files else None
        if target is not None and target.exists():
            fresh.append(target)
        else:
            raw.extend(files)
    return fresh, raw
