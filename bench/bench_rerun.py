"""Benchmark: the dashboard's whole Overview run (the frame included) under AppTest, before and after a change.

bench_dashboard.py times the data functions a page calls; this times what a person waits for on
the server: the frame's run (sidebar, freshness line) and the Overview page's, in one process,
for a first visit (nothing cached), for filter changes (the sidebar's model and project picks,
each a new view), for a rerun that changes nothing, and for the same rerun `LATER_SECONDS` later (Streamlit's
time-to-live clock moved on, no sleep: a visit once the figures' time to live passed, the ledger unchanged): wall
time, and the process's CPU time (all
threads: DuckDB's too), steadier than wall time on a shared machine. Each figure is the median of
`--repeat` runs, each repeat in a fresh process; `--repo` runs another checkout's app.py (e.g. main's, for a
baseline in the same run), so two columns side by side share the machine's load.

    .venv/bin/python bench/bench_rerun.py --ledger /tmp/bench10m/ledger-10000000-90 --repo /tmp/main
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHANGES = (
    {"f_model": ["mistral-large-latest"]},
    {"f_project": ["search", "analytics"]},
    {"f_model": ["codestral-latest"], "f_key": ["key_02c9d0"]},
)
"""Each change is applied on top of the previous one (a person narrowing the view), so each is a new view."""
LATER_SECONDS = 31.0
"""How far Streamlit's cache clock moves before the last rerun: past the 30 s the figures used to live."""


def _frame_and_page(page_path: str) -> None:
    """app.py's frame and one page, as tests/dashboard/test_app.py runs them (AppTest loses st.navigation's
    sidebar on a rerun)."""
    import cProfile
    import os
    import runpy
    import time

    from pages._frame import draw_frame

    to = os.environ.get("BENCH_PROFILE_TO")  # the script runs in AppTest's thread: profiled here
    profiler = cProfile.Profile() if to else None
    if profiler:
        profiler.enable()
    try:
        if draw_frame() is not None:
            runpy.run_path(page_path, run_name="__page__")
    finally:
        if profiler:
            profiler.disable()
            profiler.dump_stats(f"{to}.{time.monotonic_ns()}")


def child(repo: Path, ledger: Path, profile: Path | None) -> dict[str, float]:
    sys.path.insert(0, str(repo))
    os.chdir(repo)
    from streamlit.runtime.caching import cache_utils
    from streamlit.testing.v1 import AppTest

    moved = [0.0]
    cache_utils.TTLCACHE_TIMER = lambda: time.monotonic() + moved[0]  # before any cache is made

    at = AppTest.from_function(_frame_and_page, args=(str(repo / "pages" / "overview.py"),), default_timeout=300)

    def timed() -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        at.run()
        if at.exception:
            raise RuntimeError(str(at.exception))
        return time.perf_counter() - wall, time.process_time() - cpu

    cold = timed()
    changes = []
    if profile:
        os.environ["BENCH_PROFILE_TO"] = str(profile)
    for change in CHANGES:
        for key, value in change.items():
            at.sidebar.multiselect(key=key).set_value(value)
        changes.append(timed())
    os.environ.pop("BENCH_PROFILE_TO", None)
    same = timed()
    moved[0] += LATER_SECONDS
    later = timed()
    median = (statistics.median(c[0] for c in changes), statistics.median(c[1] for c in changes))
    return {
        f"{name}{kind}": pair[i]
        for name, pair in (("cold", cold), ("change", median), ("same", same), ("later", later))
        for i, kind in enumerate(("", "_cpu"))
    }


def spawn(repo: Path, ledger: Path, profile: Path | None = None) -> dict[str, float]:
    env = {**os.environ, "DATA_DIR": str(ledger), "MONITOR_TIMEZONE": "UTC", "MONITOR_SIGNIN": "open"}
    env.pop("MONITOR_CONFIG", None)
    cmd = [sys.executable, __file__, "--child", "--repo", str(repo), "--ledger", str(ledger)]
    cmd += ["--profile", str(profile)] if profile else []
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, cwd=repo).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--ledger", type=Path, required=True, help="a data_dir (bench_dashboard.py builds one)")
    parser.add_argument("--repo", type=Path, action="append", help="checkouts to compare (default: this one)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", type=Path, help="cProfile the filter changes into <path>.*")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    repos = args.repo or [REPO]
    if args.child:
        print(json.dumps(child(repos[0], args.ledger, args.profile)))
        return
    if args.profile:
        spawn(repos[0], args.ledger, args.profile)
        parts = sorted(str(p) for p in args.profile.parent.glob(args.profile.name + ".*"))
        pstats.Stats(*parts).sort_stats("cumulative").print_stats(80)
        return
    runs: dict[Path, list[dict[str, float]]] = {repo: [] for repo in repos}
    for _ in range(args.repeat):
        for repo in repos:  # interleaved, so load on the machine falls on each alike
            runs[repo].append(spawn(repo, args.ledger))
    print(
        "| checkout | first visit s | CPU s | filter change s | CPU s | rerun, no change s | CPU s "
        f"| the same {LATER_SECONDS:.0f} s later s | CPU s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    keys = ("cold", "cold_cpu", "change", "change_cpu", "same", "same_cpu", "later", "later_cpu")
    for repo, results in runs.items():
        cells = [statistics.median(r[k] for r in results) for k in keys]
        print(f"| {repo} | " + " | ".join(f"{c:.3f}" for c in cells) + " |", flush=True)


if __name__ == "__main__":
    main()
