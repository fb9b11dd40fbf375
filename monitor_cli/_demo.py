"""`mistral-monitor demo`: what scripts/demo.sh runs, from the installed package, in ./data.

The simulator (30 days of history and a live trickle) on $SIMULATOR_PORT (default 8765, where
the collector's embedded default looks), the collector polling it, and the dashboard in the
foreground on $DASHBOARD_PORT (default 8501); Ctrl-C stops all three. Logs go to data/logs/.
Ten minutes in, the data-pipeline key runs away (x20 requests for an hour, `--runaway-in`), so
the alert engine raises an anomaly the Overview then lists.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from access import SIGNIN_ENV

from ._dashboard import DashboardMissing, app_path, streamlit_argv

SAMPLE_BUDGETS = """\
# A sample budget for the demo; edit it on the Budgets page.
[[budgets]]
name = "organisation monthly"
period = "month"
amount = 600
thresholds = [50, 80, 100]
forecast = true
recipients = ["finance@example.com"]

# The simulated organisation spends about USD 0.4 an hour in all: a floor of 1 (the default)
# would hide its anomalies. Keep 1 (or more) for real traffic.
[anomaly]
floor = 0.05
"""
RUNAWAY_KEY = "key_9e0f4c88"
"""The simulated data-pipeline key: its batch jobs are the demo's runaway."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mistral-monitor demo", description=__doc__)
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("SIMULATOR_PORT") or 8765),
        help="the simulator's port (default $SIMULATOR_PORT, else 8765)",
    )
    parser.add_argument(
        "--dashboard-port",
        type=int,
        default=int(os.environ.get("DASHBOARD_PORT") or 8501),
        help="the dashboard's port (default $DASHBOARD_PORT, else 8501)",
    )
    parser.add_argument(
        "--days",
        type=float,
        default=float(os.environ.get("SIMULATOR_DAYS") or 30),
        help="days of simulated history (default $SIMULATOR_DAYS, else 30)",
    )
    parser.add_argument(
        "--runaway-in",
        type=float,
        default=float(os.environ.get("SIMULATOR_RUNAWAY_IN") or 10),
        metavar="MINUTES",
        help=f"{RUNAWAY_KEY} sends x20 requests for an hour from this many minutes after the start "
        "(default $SIMULATOR_RUNAWAY_IN, else 10; a negative number turns it off)",
    )
    return parser


def simulator_args(args: argparse.Namespace, now: datetime) -> list[str]:
    """The simulator's command line: port, history and, unless turned off, the runaway.

    e.g. ['--port', '8765', '--days', '30', '--runaway', 'key_9e0f4c88@2026-11-20T10:10:00+00:00']
    """
    argv = ["--port", str(args.port), "--days", f"{args.days:g}"]
    if args.runaway_in >= 0:
        when = (now + timedelta(minutes=args.runaway_in)).replace(microsecond=0).isoformat()
        argv += ["--runaway", f"{RUNAWAY_KEY}@{when}"]
    return argv


def _start(module: str, args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", module, *args], stdout=out, stderr=subprocess.STDOUT, env=env)


def run_demo(argv: list[str]) -> int:
    """Start the simulator and collector in the background, run the dashboard until Ctrl-C or SIGTERM."""
    args = _parser().parse_args(argv)
    try:
        dashboard = streamlit_argv(app_path(), ["--server.port", str(args.dashboard_port)])
    except DashboardMissing as exc:
        print(f"mistral-monitor demo: {exc}", file=sys.stderr)
        return 2
    logs = _prepare(Path("data"))
    env = {**os.environ, "SIMULATOR_PORT": str(args.port)}
    signal.signal(signal.SIGTERM, _exit_on_term)
    children = [
        _start("simulator", simulator_args(args, datetime.now(UTC)), logs / "simulator.log", env),
        _start("collector", [], logs / "collector.log", env),
    ]
    print(f"simulator on http://127.0.0.1:{args.port}, collector logging to {logs / 'collector.log'}")
    print(f"dashboard on http://localhost:{args.dashboard_port} (Ctrl-C stops everything)", flush=True)
    try:
        children.append(subprocess.Popen(dashboard, env={**env, SIGNIN_ENV: "open"}))
        return children[-1].wait()
    except KeyboardInterrupt:
        return 130
    finally:
        _stop(children)


def _prepare(data: Path) -> Path:
    """Create data/logs and, once, the sample budget scripts/demo.sh writes; return the log folder."""
    (data / "logs").mkdir(parents=True, exist_ok=True)
    if not (data / "budgets.toml").exists():
        (data / "budgets.toml").write_text(SAMPLE_BUDGETS)
    return data / "logs"


def _exit_on_term(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so the children are stopped too, not orphaned."""
    raise SystemExit(128 + signum)


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each child still running, then SIGKILL whatever has not exited after 10 s."""
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
