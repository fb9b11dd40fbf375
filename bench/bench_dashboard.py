"""Benchmark: each dashboard page's data functions on an N-record ledger, next to a naive baseline.

Builds (once) a seeded ledger in the real schema under bench/out/, builds its hourly
rollups, then for each page runs, in a fresh process each:
- ours, cold: the page's data calls on a new DuckDB connection (nothing cached);
- ours, after a filter change: the same calls with other models/projects (median of 3);
- the same two with rollups disabled (DuckDB over the raw parquet files);
- the baseline: pandas reads the whole ledger (the columns the page needs), then groups.
Peak memory is the child's max RSS. Prints a table; nothing here is a pass/fail test.

    .venv/bin/python bench/bench_dashboard.py --records 10000000 --days 90
    .venv/bin/python bench/bench_dashboard.py --records 1000000 --days 30 --s3

With `--s3` the same ledger is put in a loopback S3 server (moto, tests/support/s3.py) and each
page is read, in a fresh process each, as a dashboard on another host would: from an empty
working folder (every file it reads is downloaded, no rollups), again with those files cached,
then with the host's rollups built, beside the same page on local disk.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from _common import records_parser  # noqa: E402

from ledger import list_files  # noqa: E402
from ledger import queries as q  # noqa: E402
from tests.builders import build_ledger  # noqa: E402

PAGES = ("frame", "overview", "spend", "reliability", "explore")
TOP_N = 12
"""As pages/_ui.py: charts show the top N values and an "(other)" group."""
CHANGES = (
    {"models": ("mistral-large-latest",)},
    {"projects": ("search", "analytics")},
    {"models": ("codestral-latest",), "api_keys": ("key_02c9d0",)},
)


def page_calls(page: str, data_dir: Path, f: q.Filters, now: datetime) -> list[Callable[[], Any]]:
    """The data calls a page makes for one view (the frame's are shared by every page)."""
    window = partial(_window_values, data_dir, f.unfiltered())  # one query per window, as pages/_data.py caches
    frame: list[Callable[[], Any]] = [lambda: q.holds_simulated(window(), f)]  # the simulated badge
    if not f.dimension_filters():  # after a filter change the choices are cache hits (same window)
        frame += [partial(lambda d: q.values_in(window(), d, 500), d) for d in q.VALUE_DIMS]  # sidebar choices
        frame += [lambda: q.values_in(window(), "model")]  # model colours
    calls: dict[str, list[Callable[[], Any]]] = {
        "frame": frame,
        "overview": [  # tiles, previous period, forecast, series, top tables, unpriced, rates: one query
            lambda: q.overview_figures(data_dir, f, "day", top=TOP_N, n=10, now=now),
        ],
        "spend": [
            lambda: q.unpriced_models(data_dir, f),
            lambda: q.spend_over_time(data_dir, f, "model", "day", top=TOP_N),
            lambda: q.spend_over_time(data_dir, f, None, "day"),
            lambda: q.unit_costs(data_dir, f, top=TOP_N),
            lambda: q.conversion(data_dir, f),
        ],
        "reliability": [
            lambda: q.reliability_over_time(data_dir, f, "day"),
            lambda: q.reliability_over_time(data_dir, f, "day", "status_class", top=TOP_N),
            lambda: q.retry_impact(data_dir, f),
            lambda: q.top_errors(data_dir, f, 10),
            lambda: q.latency_percentiles(data_dir, f, "model", top=TOP_N),
            lambda: q.ratelimit_headroom(data_dir, f, "day"),
        ],
        "explore": [lambda: q.breakdown(data_dir, f, ["model"], "spend", "day")],
    }
    return calls[page]


_windows: dict[q.Filters, Any] = {}


def _window_values(data_dir: Path, window: q.Filters) -> Any:
    """The sidebar's one query per window (a filter change finds it cached)."""
    if window not in _windows:
        _windows[window] = q.window_values(data_dir, window)
    return _windows[window]


def timed(calls: list[Callable[[], Any]]) -> float:
    start = time.perf_counter()
    for call in calls:
        call()
    return time.perf_counter() - start


def view(end: date, **dims: tuple[str, ...]) -> q.Filters:
    return q.Filters.for_dates(end - timedelta(days=29), end, "UTC", **dims)


def run_ours(data_dir: Path, page: str, end: date) -> dict[str, float]:
    now = datetime(end.year, end.month, end.day, 12, tzinfo=UTC)
    cold = timed(page_calls(page, data_dir, view(end), now))
    warm = [timed(page_calls(page, data_dir, view(end, **change), now)) for change in CHANGES]
    return {"cold": cold, "warm": statistics.median(warm)}


BASELINE_COLUMNS = {
    "frame": [
        "timestamp",
        "cost",
        "request_count",
        "prompt_tokens",
        "completion_tokens",
        "status_code",
        "aggregated",
        "latency_ms",
        "model",
        "project",
        "api_key_id",
        "source",
        "simulated",
    ],
    "overview": [
        "timestamp",
        "cost",
        "model",
        "project",
        "api_key_id",
        "request_count",
        "latency_ms",
        "status_code",
        "aggregated",
    ],
    "spend": ["timestamp", "cost", "model", "request_count", "prompt_tokens", "completion_tokens", "cached_tokens"],
    "reliability": ["timestamp", "status_code", "error_type", "aggregated", "attempt", "latency_ms", "model"],
    "explore": ["timestamp", "cost", "model"],
}


def run_baseline(data_dir: Path, page: str, end: date) -> dict[str, float]:
    """pandas: read the whole ledger's columns for the page, filter the 30 days, group."""
    import pandas as pd

    start = time.perf_counter()
    files = list_files(data_dir)
    df = pd.concat([pd.read_parquet(f, columns=BASELINE_COLUMNS[page]) for f in files], ignore_index=True)
    f = view(end)
    rows = df[(df["timestamp"] >= f.start_at) & (df["timestamp"] < f.end_at)]
    day = rows["timestamp"].dt.floor("D")
    if page in ("frame", "overview"):
        rows.agg({"cost": "sum", "request_count": "sum"})
        rows["latency_ms"].quantile([0.5, 0.95, 0.99])
        rows.groupby([day, "model"])["cost"].sum()
        rows.groupby("project")["cost"].sum().nlargest(10)
        rows.groupby("api_key_id")["cost"].sum().nlargest(10)
    elif page == "spend":
        rows.groupby([day, "model"])[["cost", "prompt_tokens", "completion_tokens", "cached_tokens"]].sum()
        rows.groupby("model")[["cost", "request_count"]].sum()
    elif page == "reliability":
        rows.groupby([day, rows["status_code"] // 100]).size()
        rows.groupby("model")["latency_ms"].quantile([0.5, 0.95, 0.99])
        rows.groupby(["status_code", "error_type"]).size()
    else:
        rows.groupby([day, "model"])["cost"].sum()
    return {"cold": time.perf_counter() - start}


def child(args: argparse.Namespace) -> None:
    end = date.fromisoformat(args.end)
    runner = run_baseline if args.mode == "baseline" else run_ours
    result = runner(Path(args.data_dir), args.page, end)
    result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def spawn(data_dir: Path, page: str, mode: str, end: date) -> dict[str, float]:
    env = {**os.environ, "LEDGER_ROLLUPS": "0" if mode == "raw" else "1"}
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "--mode",
        mode,
        "--page",
        page,
        "--data-dir",
        str(data_dir),
        "--end",
        end.isoformat(),
    ]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def prepare(records: int, days: int, out: Path) -> tuple[Path, date]:
    data_dir = out / f"ledger-{records}-{days}"
    marker = data_dir / "BUILT"
    if not marker.exists():
        end = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
        start = time.perf_counter()
        build_ledger(data_dir, n_records=records, days=days, seed=42, end=end)
        print(f"built {records:,} records over {days} days in {time.perf_counter() - start:.1f} s")
        marker.write_text(end.date().isoformat())
    start = time.perf_counter()
    written = q.update_rollups(data_dir)
    print(f"update_rollups: {len(written)} day rollups written in {time.perf_counter() - start:.1f} s")
    return data_dir, date.fromisoformat(marker.read_text().strip())


def main() -> None:
    parser = records_parser(__doc__, records=10_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--s3", action="store_true", help="read the ledger from a loopback S3 server instead")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="ours", help=argparse.SUPPRESS)
    parser.add_argument("--page", default="overview", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", default="", help=argparse.SUPPRESS)
    parser.add_argument("--end", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    data_dir, end = prepare(args.records, args.days, args.out)
    if args.s3:
        on_s3(data_dir, end, args)
        return
    print(f"\n{args.records:,} records, {args.days} days, view = last 30 days; 'change' = median of 3 filter changes")
    header = "| page | rollups cold s | rollups change s | rollups RSS MB | raw cold s | raw change s | raw RSS MB |"
    header += " baseline s | baseline RSS MB | speedup (cold) |"
    print(header)
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for page in PAGES:
        ours, raw = spawn(data_dir, page, "ours", end), spawn(data_dir, page, "raw", end)
        base = None if args.skip_baseline else spawn(data_dir, page, "baseline", end)
        cells = [
            page,
            f"{ours['cold']:.3f}",
            f"{ours['warm']:.3f}",
            f"{ours['rss_mb']:.0f}",
            f"{raw['cold']:.3f}",
            f"{raw['warm']:.3f}",
            f"{raw['rss_mb']:.0f}",
        ]
        speedup = f"{base['cold'] / ours['cold']:.0f}x" if base else "-"
        cells += [f"{base['cold']:.2f}", f"{base['rss_mb']:.0f}", speedup] if base else ["-", "-", "-"]
        print("| " + " | ".join(cells) + " |", flush=True)


def on_s3(data_dir: Path, end: date, args: argparse.Namespace) -> None:
    """Each page read from s3:// by a fresh host (empty cache), then cached, then with rollups, and locally."""
    import tempfile

    from foundation import location
    from ledger.storage import remote
    from tests.support.s3 import S3, Server

    server = Server()
    try:
        os.environ.update(S3(endpoint=server.endpoint, bucket="bench").env())
        remote.client().create_bucket(Bucket="bench")
        table = data_dir / "requests"
        start = time.perf_counter()
        for path in sorted(p for p in table.rglob("*") if p.is_file() and p.name != ".lock"):
            remote.client().upload_file(str(path), "bench", f"ledger/requests/{path.relative_to(table).as_posix()}")
        print(f"uploaded the ledger to s3://bench/ledger in {time.perf_counter() - start:.1f} s")
        print(f"\n{args.records:,} records, {args.days} days, view = last 30 days; 'change' = median of 3 changes")
        header = "| page | s3 fresh host cold s | s3 cached cold s | s3 cached + rollups cold s | change s |"
        print(header + " local cold s |")
        print("|---|---:|---:|---:|---:|---:|")
        with tempfile.TemporaryDirectory() as hosts:
            for page in PAGES:
                host = location.data_dir("s3://bench/ledger", base=Path(hosts), cache_dir=f"{hosts}/{page}")
                fresh, cached = spawn(host, page, "ours", end), spawn(host, page, "ours", end)
                q.update_rollups(host)
                rolled, local = spawn(host, page, "ours", end), spawn(data_dir, page, "ours", end)
                cells = [page, *(f"{r['cold']:.3f}" for r in (fresh, cached, rolled)), f"{rolled['warm']:.3f}"]
                print("| " + " | ".join([*cells, f"{local['cold']:.3f}"]) + " |", flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
