"""The engine as separate processes: `python -m collector --once`, exit codes, and a SIGKILL mid-send."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from alerts import StateStore
from tests.paths import REPO
from tests.support.alerts import budgets_toml, paris, rows, write_monitor_toml

pytestmark = pytest.mark.process

BUDGET = """
[[budgets]]
name = "org monthly"
amount = 100
recipients = ["ops@example.com"]
forecast = false
"""


def write_config(path: Path, port: int, extra: str = "") -> Path:
    return write_monitor_toml(path, port, extra)


def collector(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "collector", "--config", str(config), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def seed(tmp_path: Path) -> None:
    """90 EUR this month (in the real 'now': the CLI runs on the wall clock)."""
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    budgets_toml(tmp_path / "data" / "budgets.toml", BUDGET)
    rows(tmp_path / "data", [{"timestamp": now, "cost": 90.0}])


@pytest.mark.slow
def test_collector_once_runs_the_alert_job(tmp_path, smtp_server):
    seed(tmp_path)
    config = write_config(tmp_path / "monitor.toml", smtp_server.port)
    for _ in range(3):
        done = collector(config, "--once")
        assert done.returncode == 0, done.stderr
    [message] = smtp_server.messages
    assert message["Subject"].startswith("[Mistral spend] the organisation at 90% of EUR 100 monthly budget")


@pytest.mark.slow
def test_bad_alerts_key_exits_2_naming_it(tmp_path, smtp_server):
    config = write_config(tmp_path / "monitor.toml", smtp_server.port, extra="error_rate_pc = 5")
    done = collector(config, "--once")
    assert done.returncode == 2
    assert "alerts.error_rate_pc: unknown key" in done.stderr


@pytest.mark.slow
def test_broken_budgets_file_exits_2_naming_the_line(tmp_path, smtp_server):
    budgets_toml(tmp_path / "data" / "budgets.toml", BUDGET.replace("amount = 100", "amount = 0"))
    done = collector(write_config(tmp_path / "monitor.toml", smtp_server.port), "--once")
    assert done.returncode == 2
    assert "budgets.toml line 4: budgets[0].amount: must be greater than 0, got 0; use a number above 0" in done.stderr


KILLED = """
import sys
from datetime import datetime
from alerts import Engine
from foundation.config import load_config
from pathlib import Path
Engine.from_config(load_config(Path(sys.argv[1]))).run(datetime.fromisoformat(sys.argv[2]))
"""


@pytest.mark.slow
def test_sigkill_during_smtp_send_then_restart_delivers_exactly_once(tmp_path, smtp_server):
    budgets_toml(tmp_path / "data" / "budgets.toml", BUDGET)
    rows(tmp_path / "data", [{"timestamp": paris("2026-11-10T10:00"), "cost": 90.0}])
    config = write_config(tmp_path / "monitor.toml", smtp_server.port)
    now = paris("2026-11-20T12:00").isoformat()
    smtp_server.handler.hold = threading.Event()
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED, str(config), now], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}
    )
    assert smtp_server.handler.data_seen.wait(60), "the engine never reached DATA"
    os.kill(child.pid, signal.SIGKILL)
    child.wait(30)
    smtp_server.handler.hold.set()
    smtp_server.handler.hold = None
    [queued] = StateStore(tmp_path / "data").read()["outbox"]
    assert queued["status"] == "pending"  # persisted before the send began
    later = paris("2026-11-20T12:10").isoformat()
    for _ in range(2):
        subprocess.run(
            [sys.executable, "-c", KILLED, str(config), later],
            cwd=REPO,
            check=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
    [message] = smtp_server.messages
    assert message["Message-ID"] == queued["id"]
    [sent] = StateStore(tmp_path / "data").read()["outbox"]
    assert sent["status"] == "sent"


@pytest.mark.slow
def test_engines_in_four_processes_at_once_send_each_email_once(tmp_path, smtp_server):
    budgets = "".join(
        f'\n[[budgets]]\nname = "team {n}"\namount = 100\nrecipients = ["team{n}@example.com"]\nforecast = false\n'
        for n in range(6)
    )
    budgets_toml(tmp_path / "data" / "budgets.toml", budgets)
    rows(tmp_path / "data", [{"timestamp": paris("2026-11-10T10:00"), "cost": 90.0}])
    config = write_config(tmp_path / "monitor.toml", smtp_server.port)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for minute in ("12:00", "12:10"):
        now = paris(f"2026-11-20T{minute}").isoformat()
        engines = [
            subprocess.Popen([sys.executable, "-c", KILLED, str(config), now], cwd=REPO, env=env) for _ in range(4)
        ]
        assert [engine.wait(timeout=120) for engine in engines] == [0, 0, 0, 0]
    recipients = sorted(str(m["To"]) for m in smtp_server.messages)
    assert recipients == [f"team{n}@example.com" for n in range(6)]
    assert len({m["Message-ID"] for m in smtp_server.messages}) == 6
