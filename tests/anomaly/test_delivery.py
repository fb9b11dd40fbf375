"""An anomaly alert goes out exactly once, by email and by Slack, Teams and webhook, across a
SIGKILL of the engine in the middle of the SMTP transaction (real processes, real servers)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from alerts import StateStore
from tests.alerts.test_channels_process import CHANNELS_TOML
from tests.alerts.test_process import KILLED
from tests.anomaly.test_scope_rule import LABELS, NOW, steady_history, today
from tests.paths import REPO
from tests.support.alerts import budgets_toml

pytestmark = pytest.mark.slow

KEY = "anomaly_hour:api_key:key_small"


def monitor_toml(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "monitor.toml"
    path.write_text(f"""
data_dir = "data"
timezone = "Europe/Paris"
currency = "EUR"
dashboard_url = "http://dash.test:8501"

[alerts]
rules_enabled = ["anomaly"]
recipients = ["ops@example.com"]

[alerts.rule_channels]
anomaly = ["slack", "teams", "hook"]
{CHANNELS_TOML}
[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
sender = "monitor@example.com"
timeout_seconds = 5
""")
    return path


def run_engine(config: Path, minutes: int) -> None:
    subprocess.run(
        [sys.executable, "-c", KILLED, str(config), (NOW + timedelta(minutes=minutes)).isoformat()],
        cwd=REPO,
        check=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def test_sigkill_during_the_anomaly_email_then_restarts_deliver_it_once_everywhere(tmp_path, smtp_server, receivers):
    data = tmp_path / "data"
    steady_history(data)
    today(data, small=40, each=0.1)
    budgets_toml(data / "budgets.toml", LABELS)
    config = monitor_toml(tmp_path, smtp_server.port)
    smtp_server.handler.hold = threading.Event()
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED, str(config), NOW.isoformat()],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert smtp_server.handler.data_seen.wait(60), "the engine never reached DATA"
    os.kill(child.pid, signal.SIGKILL)
    child.wait(30)
    smtp_server.handler.hold.set()
    smtp_server.handler.hold = None
    [queued] = [m for m in StateStore(data).read()["outbox"] if not m.get("channel")]
    assert queued["status"] == "pending" and KEY in queued["keys"]  # saved before the send began
    for minutes in (5, 10):
        run_engine(config, minutes)
    [message] = smtp_server.messages
    assert message["Message-ID"] == queued["id"]
    assert message["Subject"].startswith("[Mistral spend] unusual spend on API key batch runner (key_small)")
    for name, receiver in receivers.items():
        assert len(receiver.accepted) == 2, name  # one post per notice (the key, its project), once each
    bodies = [r.json() for r in receivers["hook"].accepted]
    [mine] = [b for b in bodies if b["key"] == KEY]
    assert mine["rule"] == "anomaly_hour" and mine["event"] == "fired"
    assert mine["scope"] == "API key batch runner (key_small), project batch-jobs"
    assert "key=key_small" in mine["link"]
    history = [h for h in StateStore(data).read()["history"] if h["key"] == KEY]
    assert [h["kind"] for h in history] == ["fired"]
