"""Benchmark: backfill N records from the simulator into a fresh ledger; print a table.

Runs the simulator and the collector (`--once`) as separate processes on loopback, as in
production. Reports records/s end to end (`--once`: the poll, then the compaction and rollups a
daemon runs on their own schedules) and over the poll alone (its `poll` log line's duration: the
time from the first page to the last cursor move), and the collector's peak RSS. Not a test:
figures depend on the machine. Goal on 2 cores: >= 100,000 records/s and < 500 MB.

    .venv/bin/python bench/bench_collector.py --records 1000000
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _common import free_port, records_parser

REPO = Path(__file__).resolve().parent.parent
RUN_COLLECTOR = """
import resource, sys, time
from collector.__main__ import main
start = time.perf_counter()
code = main(["--config", sys.argv[1], "--once"])
print("RESULT", code, time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def wait_ready(url: str, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"simulator at {url} did not become ready")


def main() -> None:
    parser = records_parser(__doc__, records=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--page-limit", type=int, default=10_000)
    args = parser.parse_args()
    rate = args.records / (args.days * 1440)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator",
            "--port",
            str(port),
            "--days",
            str(args.days),
            "--rate",
            f"{rate:.3f}",
            "--seed",
            "7",
            "--preload",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(url)
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "bench.toml"
            config.write_text(
                f'data_dir = "{tmp}/data"\n[[sources]]\nname = "sim"\nkind = "usage_endpoint"\n'
                f'url = "{url}"\npage_limit = {args.page_limit}\nmax_requests_per_second = 1000\n'
            )
            proc = subprocess.run(
                [sys.executable, "-c", RUN_COLLECTOR, str(config)],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")), None)
            if line is None:
                raise SystemExit(f"collector failed:\n{proc.stderr[-2000:]}")
            _, code, seconds, maxrss_kb = line.split()
            polls = [json.loads(ln) for ln in proc.stderr.splitlines() if '"event":"poll"' in ln]
            poll_secs = sum(float(p["duration_s"]) for p in polls)
            sys.path.insert(0, str(REPO))
            from ledger import read_ledger
            from ledger.storage.store import disk_bytes

            stored = read_ledger(Path(tmp) / "data", columns=["id"]).num_rows
            size = disk_bytes(Path(tmp) / "data")
    finally:
        sim.terminate()
        sim.wait(timeout=30)
    secs = float(seconds)
    rows = [
        ("records stored", f"{stored:,}"),
        ("exit code", code),
        ("wall time (s)", f"{secs:.1f}"),
        ("records/s (end to end)", f"{stored / secs:,.0f}"),
        ("poll time (s)", f"{poll_secs:.1f}"),
        ("records/s (poll)", f"{stored / poll_secs:,.0f}" if poll_secs else "-"),
        ("collector peak RSS (MB)", f"{int(maxrss_kb) / 1024:.0f}"),
        ("ledger on disk (MB)", f"{size / 1e6:.1f}"),
        ("page size", f"{args.page_limit:,}"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"{'metric'.ljust(width)} | value\n{'-' * width}-|------")
    for key, value in rows:
        print(f"{key.ljust(width)} | {value}")


if __name__ == "__main__":
    main()
