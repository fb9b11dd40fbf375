"""Benchmark: a local backfill into the Delta ledger against the old part-file format; print a table.

Both runs take the same priced rows (tests/builders.py), in pages of `--page` records, through
each format's exactly-once Appender (dedupe on (source, id)); Delta's pages are commits with a
batch number (`txn`), the old format's are one `part-<seq>.parquet` per day and page. Each run
is its own process, so its peak RSS is its own. The old format's code is read from git (the
commit before the ledger became a Delta table), so both run in the same invocation. Not a test:
figures depend on the machine. Goal on 2 cores: >= 100,000 records/s and < 500 MB.

    .venv/bin/python bench/bench_delta.py                 # 300k records, about a minute
    .venv/bin/python bench/bench_delta.py --records 1000000
    .venv/bin/python bench/bench_delta.py --s3            # adds the same backfill into s3:// (moto, loopback)

With `--s3` the bench starts a moto S3 server on a loopback port (tests/support/s3.py), backfills
the same rows into `s3://bench/ledger` and then reads the whole ledger twice more from a fresh
working folder: cold (every data file downloaded into the cache) and warm (all cached), beside
the local table's read; then times `list_files` when nothing was committed since (what each of a
dashboard's queries asks first).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import records_parser

REPO = Path(__file__).resolve().parent.parent
OLD_COMMIT = "34d00d0"
"""main before issue 21: ledger/storage with the part-<seq> files and their visibility rule."""
OLD_FILES = ("__init__.py", "atomic.py", "ingest.py", "schema.py", "store.py", "upsert.py")
RUN = """
import sys, time
from pathlib import Path
import pyarrow.parquet as pq
sys.path.insert(0, sys.argv[4])
def peak_mb():  # VmHWM: ru_maxrss would carry the parent's peak across fork and exec
    line = next(x for x in open("/proc/self/status") if x.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024
fmt, seed, data, page = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[5])
if fmt == "delta":
    from ledger.storage import Appender, list_files, read_ledger
else:
    from oldstorage import Appender, list_files, read_ledger
rows = pq.read_table(seed)
base = peak_mb()
appender = Appender(data)
start = time.perf_counter()
for n, first in enumerate(range(0, rows.num_rows, page), start=1):
    part = rows.slice(first, page)
    appender.append(part, ("bench", n)) if fmt == "delta" else appender.append(part)
seconds = time.perf_counter() - start
stored = read_ledger(data, columns=["id"]).num_rows
rss = peak_mb()
print("RESULT", seconds, rss, base, stored, len(list_files(data)))
"""


def old_package(folder: Path) -> Path:
    """The old format's storage package, as `oldstorage`, from git."""
    package = folder / "oldstorage"
    package.mkdir(parents=True)
    for name in OLD_FILES:
        text = subprocess.run(
            ["git", "show", f"{OLD_COMMIT}:ledger/storage/{name}"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout
        (package / name).write_text(text.replace("from ledger.storage", "from oldstorage"))
    return folder


def run(
    fmt: str, seed: Path, data: Path, extra: Path, page: int, env: dict[str, str] | None = None
) -> tuple[float, float, float, int, int]:
    out = subprocess.run(
        [sys.executable, "-c", RUN, "delta" if fmt == "s3" else fmt, str(seed), str(data), str(extra), str(page)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", **(env or {})},
    )
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT")), None)
    if line is None:
        raise SystemExit(f"{fmt} run failed:\n{out.stderr[-3000:]}")
    seconds, rss, base, stored, files = line.split()[1:]
    return float(seconds), float(rss), float(base), int(stored), int(files)


def main() -> None:
    parser = records_parser(__doc__, records=300_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--page", type=int, default=10_000, help="records per append (one commit each)")
    parser.add_argument("--s3", action="store_true", help="also backfill into s3:// on a loopback moto server")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    import pyarrow.parquet as pq

    from ledger.storage import read_ledger
    from tests.builders import build_ledger

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build_ledger(
            root / "built", n_records=args.records, days=args.days, seed=1, end=datetime(2026, 11, 30, tzinfo=UTC)
        )
        rows = read_ledger(root / "built").sort_by("timestamp")  # a backfill goes forward in time
        pq.write_table(rows, root / "seed.parquet")
        extra = old_package(root / "old")
        print(f"{rows.num_rows:,} records over {args.days} days, {args.page:,} per append\n")
        head = f"{'format':<28}{'seconds':>9}{'records/s':>12}{'peak RSS MB':>13}{'of it input':>13}"
        print(f"{head}{'stored':>11}{'files':>7}")
        runs = [("delta", "Delta (txn per commit)"), ("old", "old part files (seq rule)")]
        server = s3_server(root) if args.s3 else None
        if server is not None:
            runs.insert(1, ("s3", "Delta on s3:// (moto)"))
        try:
            for fmt, label in runs:
                data = server[1] if fmt == "s3" and server is not None else root / fmt
                env = server[2] if fmt == "s3" and server is not None else None
                seconds, rss, base, stored, files = run(fmt, root / "seed.parquet", data, extra, args.page, env)
                rate = rows.num_rows / seconds
                print(f"{label:<28}{seconds:>9.2f}{rate:>12,.0f}{rss:>13.0f}{base:>13.0f}{stored:>11,}{files:>7}")
            log = root / "delta" / "requests" / "_delta_log"
            checkpoints = len(list(log.glob("*.checkpoint.parquet")))
            print(f"\nDelta log: {len(list(log.glob('*.json')))} commits, {checkpoints} checkpoints")
            if server is not None:
                reads(root, server[2])
        finally:
            if server is not None:
                server[0].stop()


def s3_server(root: Path) -> tuple[Any, Path, dict[str, str]]:
    """A moto server, a bucket, and the bench ledger's working folder and environment."""
    import os

    from foundation import location
    from ledger.storage import remote
    from tests.support.s3 import S3, Server

    server = Server()
    env = S3(endpoint=server.endpoint, bucket="bench").env()
    os.environ.update(env)
    remote.client().create_bucket(Bucket="bench")
    return server, location.data_dir("s3://bench/ledger", base=root, cache_dir=str(root / "s3-host-a")), env


def reads(root: Path, env: dict[str, str]) -> None:
    """The whole ledger read (read_ledger): local, then s3 from a fresh host's empty cache, then warm."""
    import statistics
    import time

    from foundation import location
    from ledger.storage import list_files, read_ledger
    from ledger.storage.remote import cache_bytes

    fresh = location.data_dir("s3://bench/ledger", base=root, cache_dir=str(root / "s3-host-b"))
    read_ledger(root / "delta")  # imports and the table's first open, outside the timings
    print(f"\n{'read the whole ledger':<28}{'seconds':>9}{'rows':>12}{'cache MB':>10}")
    for label, data in (("local", root / "delta"), ("s3, cold cache", fresh), ("s3, warm cache", fresh)):
        start = time.perf_counter()
        n = read_ledger(data).num_rows
        seconds = time.perf_counter() - start
        size = cache_bytes(data / "requests") / 1e6 if label.startswith("s3") else 0.0
        print(f"{label:<28}{seconds:>9.2f}{n:>12,}{size:>10.1f}")
    calls = []
    for _ in range(50):  # a dashboard's query asking for the snapshot's files when nothing was committed
        start = time.perf_counter()
        list_files(fresh)
        calls.append(time.perf_counter() - start)
    print(f"\nlist_files on s3, nothing new committed: {statistics.median(calls) * 1000:.1f} ms a call (median of 50)")


if __name__ == "__main__":
    main()
