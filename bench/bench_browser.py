"""Benchmark: the dashboard in a real browser against a bare Streamlit page, in the same run.

Debian's chromium (headless, through Playwright) opens, for the demo's data (the simulator's 30
days at 6 requests a minute, built the collector's way) and for a big ledger (`--records`,
default 1M; `--records 10000000` as the issue measures):
- a bare Streamlit page (a title, three st.metric, one plotly chart) and each dashboard page:
  time to idle (the script done, no stStatusWidget or skeleton, an h1, every plotly chart drawn, and the
  same elements 0.3 s later) on the first visit after a server start, and on a later visit (a new session),
  medians over `--repeat` (3) servers;
- a filter change on the Overview (a model picked in the sidebar), and on the bare page with a Model filter
  (Streamlit's own floor for a rerun): the medians of 4 (each a model not picked before, so a view not cached),
  time to idle after the pick and the server's CPU;
- 5 visitors opening the Overview (and the bare page) together, on a server that just started:
  the slowest visitor's time to idle and the server's CPU seconds per visit, from
  /proc/<pid>/stat (utime + stime of the streamlit process and its descendants, live or reaped).
The 5 visitors are one measurement each, on a shared machine: read them as a shape, not a constant.

    .venv/bin/python bench/bench_browser.py                     # demo data and 1M records
    .venv/bin/python bench/bench_browser.py --records 10000000  # the issue's 10M
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from _common import free_port, records_parser  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
PAGES = {
    "overview": "",
    "spend": "spend",
    "reliability": "reliability",
    "explore": "explore",
    "savings": "savings",
    "budgets": "budgets",
    "reconciliation": "reconciliation",
    "statement": "statement",
}
VISITORS = 5
PICKS = ("mistral-large-latest", "codestral-latest", "mistral-embed", "mistral-small-latest")
"""Models both ledgers hold; a filter change picks each once, so each is a view nobody asked for yet."""
BARE = """import plotly.express as px
import streamlit as st

st.title("Bare page")
a, b, c = st.columns(3)
a.metric("Spend", "$1,234.56")
b.metric("Requests", "674.5M")
c.metric("Errors", "0.4%")
st.plotly_chart(px.line(x=list(range(30)), y=[i * i % 17 for i in range(30)]))
"""
BARE_FILTER = (
    BARE
    + f"""picked = st.sidebar.multiselect("Model", {list(PICKS)!r})
if picked:
    st.query_params["model"] = picked
"""
)
"""The bare page with a Model filter in its sidebar that, as the dashboard's, puts its pick in the URL: Streamlit's
own floor for a filter change (a rerun of a page of four elements)."""
BARE_SHAPE = f"""import random

import pandas as pd
import streamlit as st

picked = st.sidebar.multiselect("Model", {list(PICKS)!r})
for label in ("Project", "API key", "Source"):
    st.sidebar.multiselect(label, ["a", "b", "c"])
st.sidebar.selectbox("Date range", ["Last 30 days", "Last 7 days"])
st.sidebar.selectbox("Time zone", ["UTC", "Europe/Paris"])
if picked:
    st.query_params["model"] = picked
rng = random.Random(",".join(picked))
st.warning("Open dashboard: no sign-in is configured.")
a, b = st.columns([5, 1])
a.caption("data up to 07 Dec 12:00 (UTC) · money in USD")
b.badge("Simulated data")
st.title("Bare page, the Overview's shape")
st.warning(f"{{rng.randint(1, 99999):,}} requests went to 1 model with no price.")
for row in range(2):
    for col in st.columns(3):
        col.metric("Spend (USD)", f"${{rng.random() * 9999:,.2f}}", "-2.3%", border=True, help="exact")
st.caption("08 Nov – 07 Dec 2026, changes vs the 30 days before")
left, right, note = st.columns([1, 1, 2])
left.metric("Month to date", f"${{rng.random() * 999:,.2f}}", border=True, help="exact")
right.metric("Forecast", f"${{rng.random() * 9999:,.2f}}", border=True, help="exact")
note.caption("Forecast: spend so far plus the days left to 31 Dec.")
days = pd.date_range("2026-11-08", periods=30, freq="D")
bars = pd.DataFrame([{{"day": d, "model": m, "spend": rng.random() * 20}} for m in {list(PICKS)!r} for d in days])
spec = {{
    "mark": "bar",
    "encoding": {{
        "x": {{"field": "day", "type": "temporal"}},
        "y": {{"field": "spend", "type": "quantitative", "stack": "zero"}},
        "color": {{"field": "model", "type": "nominal"}},
    }},
}}
st.vega_lite_chart(bars, spec, width="stretch")
for col, name in zip(st.columns(2), ("project", "api_key")):
    with col:
        st.subheader(f"Top {{name}}")
        df = pd.DataFrame({{
            name: [f"{{name}}-{{i}}" for i in range(10)],
            "spend": [rng.random() * 400 for _ in range(10)],
            "share": [rng.random() for _ in range(10)],
            "requests": [rng.randint(1, 10**6) for _ in range(10)],
            "tokens": [rng.randint(1, 10**9) for _ in range(10)],
        }})
        config = {{
            "share": st.column_config.ProgressColumn("Share", format="percent", min_value=0, max_value=1),
            "tokens": st.column_config.NumberColumn("Tokens", format="compact"),
        }}
        st.dataframe(df, hide_index=True, width="stretch", column_config=config)
st.subheader("Anomalies")
st.caption("No spend anomaly in the last 30 days.")
"""
"""A bare page of the Overview's shape (its sidebar, ~45 elements: banners, eight tiles in three rows, captions, a
stacked Vega-Lite bar chart whose rows change per pick, as the Overview's, two tables), from no ledger: Streamlit's
own floor for a filter change on a page of that many elements, so the rest of the Overview's time is the app's own
work."""
IDLE = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    const busy = document.querySelector('[data-testid="stStatusWidget"], [data-testid="stSkeleton"]');
    const charts = document.querySelectorAll('[data-testid="stPlotlyChart"], [data-testid="stVegaLiteChart"]').length;
    const drawn = document.querySelectorAll(
        '[data-testid="stPlotlyChart"] .main-svg, [data-testid="stVegaLiteChart"] svg.marks').length;
    const done = app !== null && app.getAttribute('data-test-script-state') === 'notRunning';
    if (!done || busy || document.querySelector('h1') === null || drawn < charts) return null;
    return document.querySelectorAll('[data-testid="stElementContainer"]').length + '/' + drawn;
}"""
"""The page's shape when it is idle (its script done, nothing running or loading, an h1, every chart drawn:
plotly or Vega-Lite), else null: idle_after wants the same shape 0.3 s later, so an element still to come is
waited for."""
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(root: int) -> float:
    """utime + stime of `root` and every live descendant, plus the children it reaped (cutime + cstime)."""
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                text = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            stats[int(entry)] = text[text.rindex(")") + 2 :].split()
    tree, grew = {root}, True
    while grew:
        found = {pid for pid, fields in stats.items() if int(fields[1]) in tree} - tree
        grew, tree = bool(found), tree | found
    total = 0.0
    for pid in tree & stats.keys():
        fields = stats[pid]
        total += int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if pid == root else 0)
    return total / TICK


WARMED: list[float] = []
"""The server CPU seconds each dashboard start spent before its first visitor (the start-up run)."""


@contextmanager
def streamlit(script: Path, data_dir: Path | None, product: bool = False) -> Iterator[tuple[str, int]]:
    """`streamlit run script` on loopback; (its URL, its pid), once /_stcore/health answers.

    `product`: started as `mistral-monitor dashboard` starts it (its start-up run included), and
    yielded once that run is over (the server's CPU still for a second), as a visitor arriving later finds it.
    """
    import httpx

    port = free_port()
    env = {**os.environ, "MONITOR_TIMEZONE": "UTC", "MONITOR_SIGNIN": "open"}
    env.pop("MONITOR_CONFIG", None)
    if data_dir is not None:
        env["DATA_DIR"] = str(data_dir)
    cmd = [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true"]
    cmd += ["--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false"]
    if product:
        cmd = [sys.executable, "-m", "monitor_cli", "dashboard", "--server.port", str(port)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit {script.name} did not start")
            try:
                if httpx.get(url + "/_stcore/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        if product:
            WARMED.append(quiet(proc.pid))
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def quiet(pid: int, timeout: float = 180.0) -> float:
    """Wait until the server's CPU stays still for a second; its CPU seconds so far."""
    deadline, last = time.monotonic() + timeout, -1.0
    while time.monotonic() < deadline:
        time.sleep(1.0)
        used = cpu_seconds(pid)
        if used - last < 0.05:
            return used
        last = used
    return last


def idle_after(page: Any, started: float, timeout: float = 180.0) -> float:
    """Seconds from `started` until the page is idle and still idle, in the same shape, 0.3 s later."""
    deadline = started + timeout
    while time.monotonic() < deadline:
        shape = page.wait_for_function(IDLE, timeout=max(1.0, deadline - time.monotonic()) * 1000, polling=50)
        reached, seen = time.monotonic(), shape.json_value()
        page.wait_for_timeout(300)
        if page.evaluate(IDLE) == seen:
            return reached - started
    raise TimeoutError("the page never became idle")


def visit(browser: Any, url: str) -> float:
    """A new session opening `url`: its time to idle."""
    context = browser.new_context(viewport={"width": 1440, "height": 1400})
    page = context.new_page()
    started = time.monotonic()
    page.goto(url)
    took = idle_after(page, started)
    context.close()
    return took


def filter_change(browser: Any, url: str, pid: int, picks: tuple[str, ...] = PICKS) -> tuple[float, float]:
    """On a page already drawn, pick one of `picks` in the sidebar's Model filter, each in a new session: (the
    median time to idle after the pick, the median of the server's CPU seconds from the pick to idle)."""
    times, cpus = [], []
    for pick in picks:
        context = browser.new_context(viewport={"width": 1440, "height": 1400})
        page = context.new_page()
        page.goto(url)
        idle_after(page, time.monotonic())
        model = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]', has_text="Model")
        model.locator("input").click()
        page.keyboard.type(pick)
        cpu, started = cpu_seconds(pid), time.monotonic()
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile("model="), timeout=60_000)  # the rerun has begun
        times.append(idle_after(page, started))
        cpus.append(cpu_seconds(pid) - cpu)
        page.keyboard.press("Escape")
        context.close()
    return statistics.median(times), statistics.median(cpus)


def together(browser: Any, url: str, pid: int, n: int = VISITORS) -> tuple[float, float]:
    """`n` sessions opening `url` at once: (the slowest one's time to idle, server CPU seconds per visit)."""
    contexts = [browser.new_context(viewport={"width": 1440, "height": 1400}) for _ in range(n)]
    pages = [context.new_page() for context in contexts]
    cpu, started = cpu_seconds(pid), time.monotonic()
    for page in pages:
        page.goto(url, wait_until="commit")
    slowest = max(idle_after(page, started) for page in pages)
    used = cpu_seconds(pid) - cpu
    for context in contexts:
        context.close()
    return slowest, used / n


def measure(
    browser: Any,
    name: str,
    script: Path,
    data_dir: Path | None,
    paths: dict[str, str],
    product: bool = False,
    repeat: int = 1,
) -> list[list[str]]:
    """One row per page: first visit after a start (and the server's CPU for it), a later visit; each the
    median over `repeat` servers started afresh."""
    rows = []
    for page, path in paths.items():
        runs = []
        for _ in range(repeat):
            with streamlit(script, data_dir, product) as (url, pid):
                cpu = cpu_seconds(pid)
                first = visit(browser, f"{url}/{path}")
                first_cpu = cpu_seconds(pid) - cpu
                cpu = cpu_seconds(pid)
                later = visit(browser, f"{url}/{path}")
                runs.append((first, first_cpu, later, cpu_seconds(pid) - cpu))
        rows.append([name, page, *(f"{statistics.median(r[i] for r in runs):.2f}" for i in range(4))])
        print("| " + " | ".join(rows[-1]) + " |", flush=True)
    return rows


def demo_ledger(out: Path) -> Path:
    """The demo's data: the simulator's last 30 days (6 requests a minute), priced and appended the collector's way."""
    from tests.anomaly.sim_ledger import build_sim_ledger

    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    data_dir = out / f"demo-{end:%Y%m%d}"
    marker = data_dir / "BUILT"
    if not marker.exists():
        started = time.perf_counter()
        count = build_sim_ledger(data_dir, end - timedelta(days=30), end)
        print(f"built the demo's {count:,} records in {time.perf_counter() - started:.1f} s", flush=True)
        marker.write_text(str(count))
    return data_dir


def big_ledger(records: int, out: Path) -> Path:
    """A seeded ledger of `records` over 90 days ending today, with its rollups (as bench_dashboard builds it)."""
    from ledger import queries as q
    from tests.builders import build_ledger

    end = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    data_dir = out / f"browser-{records}-{end:%Y%m%d}"
    marker = data_dir / "BUILT"
    if not marker.exists():
        started = time.perf_counter()
        build_ledger(data_dir, n_records=records, days=90, seed=42, end=end)
        q.update_rollups(data_dir)
        print(f"built {records:,} records in {time.perf_counter() - started:.1f} s", flush=True)
        marker.write_text(str(records))
    return data_dir


def main() -> None:
    parser = records_parser(__doc__, records=1_000_000)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    parser.add_argument("--pages", default=",".join(PAGES), help="comma-separated dashboard pages to time")
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="servers started afresh per page row (medians)")
    parser.add_argument(
        "--plain",
        action="store_true",
        help="start the dashboard with a plain `streamlit run app.py` (no start-up run) instead of "
        "`mistral-monitor dashboard`",
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    bare = args.out / "bare_app.py"
    bare.write_text(BARE)
    bare_filter = args.out / "bare_filter_app.py"
    bare_filter.write_text(BARE_FILTER)
    bare_shape = args.out / "bare_shape_app.py"
    bare_shape.write_text(BARE_SHAPE)
    datasets = [] if args.skip_demo else [("demo", demo_ledger(args.out))]
    datasets.append((f"{args.records / 1e6:g}M", big_ledger(args.records, args.out)))
    paths = {name: PAGES[name] for name in args.pages.split(",")}
    app = REPO / "app.py"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        print("\n| data | page | first visit s | server CPU s | later visit s | server CPU s |")
        print("|---|---|---:|---:|---:|---:|")
        measure(browser, "-", bare, None, {"bare page": ""}, repeat=args.repeat)
        for name, ledger in datasets:
            measure(browser, name, app, ledger, paths, not args.plain, args.repeat)
        print("\n| data | what | time to idle s | server CPU s |")
        print("|---|---|---:|---:|")
        runs: list[tuple[str, Path | None]] = [("-", None), *datasets]
        for name, data_dir in runs:
            script = bare if data_dir is None else app
            what = "bare page" if data_dir is None else "overview"
            with streamlit(script, data_dir, data_dir is not None and not args.plain) as (url, pid):
                for when in ("cold", "again"):
                    slowest, per_visit = together(browser, url, pid)
                    print(
                        f"| {name} | {what}: {VISITORS} visitors at once, {when} (slowest; CPU per visit) "
                        f"| {slowest:.2f} | {per_visit:.2f} |",
                        flush=True,
                    )
                if data_dir is None:
                    continue
                took, cpu = filter_change(browser, url, pid)
                print(f"| {name} | overview: filter change (median of {len(PICKS)}) | {took:.2f} | {cpu:.2f} |")
        for what, script in (("bare page", bare_filter), ("bare page of the Overview's shape", bare_shape)):
            with streamlit(script, None) as (url, pid):
                took, cpu = filter_change(browser, url, pid)
                print(f"| - | {what}: filter change (median of {len(PICKS)}) | {took:.2f} | {cpu:.2f} |", flush=True)
        browser.close()
    if WARMED:
        started = statistics.median(WARMED)
        print(f"\nserver CPU from start to the end of its start-up run (no visitor yet): {started:.2f} s (median)")


if __name__ == "__main__":
    main()
