"""Channels with the engine as separate processes: `python -m collector --once`, a SIGKILL in the
middle of a post, and the webhook URLs (the credentials) never on disk or in the log."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from alerts import StateStore
from tests.alerts.test_process import KILLED, collector, write_config
from tests.paths import REPO
from tests.support.alerts import WEBHOOK_SECRET, budgets_toml, paris, rows
from tests.support.receivers import URL_TOKEN

pytestmark = pytest.mark.process

CHANNELS_TOML = """
[alerts.channels.slack]
kind = "slack"
url_env = "TEST_SLACK_URL"

[alerts.channels.teams]
kind = "teams"
url_env = "TEST_TEAMS_URL"

[alerts.channels.hook]
kind = "webhook"
url_env = "TEST_HOOK_URL"
secret_env = "TEST_HOOK_SECRET"
"""
BUDGET = """
[[budgets]]
name = "org monthly"
amount = 100
recipients = ["ops@example.com"]
forecast = false
channels = ["slack", "teams", "hook"]
"""


def config(tmp_path: Path, port: int) -> Path:
    return write_config(tmp_path / "monitor.toml", port, extra=CHANNELS_TOML)


def accepted(receivers) -> dict[str, int]:
    return {name: len(r.accepted) for name, r in receivers.items()}


@pytest.mark.slow
def test_collector_once_three_times_posts_once_per_channel(tmp_path, smtp_server, receivers):
    budgets_toml(tmp_path / "data" / "budgets.toml", BUDGET)
    rows(tmp_path / "data", [{"timestamp": datetime.now(UTC), "cost": 90.0}])
    runs = [collector(config(tmp_path, smtp_server.port), "--once") for _ in range(3)]
    assert [done.returncode for done in runs] == [0, 0, 0], runs[0].stderr
    assert accepted(receivers) == {"slack": 1, "teams": 1, "hook": 1}
    assert len(smtp_server.messages) == 1
    assert '"posts_queued":3,"posted":3' in runs[0].stderr
    assert '"posts_queued":0,"posted":0' in runs[2].stderr


def _engine_child(config_path: Path, now: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", KILLED, str(config_path), now], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}
    )


def _rerun(config_path: Path, now: str) -> None:
    subprocess.run(
        [sys.executable, "-c", KILLED, str(config_path), now],
        cwd=REPO,
        check=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def _killed_during_a_post(tmp_path: Path, port: int, receiver: Any, hold: str) -> Path:
    """Run the engine on a crossing budget until `receiver` holds a post (its `hold` event), SIGKILL
    the engine, then let the receiver answer; returns the config for the reruns."""
    budgets_toml(tmp_path / "data" / "budgets.toml", BUDGET)
    rows(tmp_path / "data", [{"timestamp": paris("2026-11-10T10:00"), "cost": 90.0}])
    path = config(tmp_path, port)
    setattr(receiver, hold, threading.Event())
    child = _engine_child(path, paris("2026-11-20T12:00").isoformat())
    assert receiver.seen.wait(60), f"the engine never reached the post ({hold})"
    os.kill(child.pid, signal.SIGKILL)
    child.wait(30)
    getattr(receiver, hold).set()
    setattr(receiver, hold, None)
    return path


@pytest.mark.slow
def test_sigkill_during_a_slack_post_then_restart_posts_exactly_once_per_channel(tmp_path, smtp_server, receivers):
    slack = receivers["slack"]
    path = _killed_during_a_post(tmp_path, smtp_server.port, slack, "hold")  # answered 503: Slack did not take it
    posts = {m["channel"]: m for m in StateStore(tmp_path / "data").read()["outbox"] if m.get("channel")}
    assert posts["slack"]["status"] == "pending"  # persisted before the post began
    assert posts["teams"]["status"] == "pending"  # not reached yet
    assert posts["hook"]["status"] == "sent"  # drained (and saved) before Slack
    for _ in range(2):
        _rerun(path, paris("2026-11-20T12:10").isoformat())
    assert accepted(receivers) == {"slack": 1, "teams": 1, "hook": 1}
    assert len(slack.attempts) == 2
    states = {m["channel"]: m["status"] for m in StateStore(tmp_path / "data").read()["outbox"] if m.get("channel")}
    assert states == {"slack": "sent", "teams": "sent", "hook": "sent"}


@pytest.mark.slow
def test_sigkill_after_the_webhook_accepted_resends_the_same_delivery_id(tmp_path, smtp_server, receivers):
    """The one duplicate window (accepted, then killed before the save): the consumer gets the
    same `X-Monitor-Delivery` id and body twice, so it can drop the copy."""
    hook = receivers["hook"]
    path = _killed_during_a_post(tmp_path, smtp_server.port, hook, "hold_after_accept")
    for _ in range(2):
        _rerun(path, paris("2026-11-20T12:10").isoformat())
    assert len(hook.accepted) == 2
    assert len({r.headers["X-Monitor-Delivery"] for r in hook.accepted}) == 1
    assert hook.accepted[0].body == hook.accepted[1].body
    assert accepted(receivers) == {"slack": 1, "teams": 1, "hook": 2}


def _files_holding(root: Path, needles: list[bytes]) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and any(n in p.read_bytes() for n in needles)]


@pytest.mark.slow
def test_webhook_urls_and_secret_never_on_disk_or_in_the_log(tmp_path, smtp_server, receivers):
    """Every failure mode at once: Slack answers 404 echoing its own URL, Teams is down, the
    webhook says 429; then all recover. Nothing under the data dir, the config or the log
    holds the URL's secret part or the signing secret."""
    budgets_toml(tmp_path / "data" / "budgets.toml", BUDGET)
    rows(tmp_path / "data", [{"timestamp": datetime.now(UTC), "cost": 90.0}])
    path = config(tmp_path, smtp_server.port)
    receivers["slack"].replies = [(404, {}, f"no_service {receivers['slack'].url}".encode())]
    receivers["teams"].stop()
    receivers["hook"].replies = [(429, {"Retry-After": "0"}, receivers["hook"].url.encode())]
    logs = [collector(path, "--once")]
    receivers["teams"].start()
    state = StateStore(tmp_path / "data").read()
    errors = {m["channel"]: m["last_error"] for m in state["outbox"] if m.get("channel")}
    assert errors["slack"].startswith("the slack channel slack answered HTTP 404 (no_service <url>)")
    assert "connection refused" in errors["teams"]
    needles = [URL_TOKEN.encode(), URL_TOKEN.split("/")[-1].encode(), WEBHOOK_SECRET.encode()]
    assert _files_holding(tmp_path, needles) == []
    for done in logs:
        assert done.returncode == 0, done.stderr
        assert not any(n.decode() in done.stdout + done.stderr for n in needles)
    assert len(receivers["slack"].attempts) == 1


@pytest.mark.slow
def test_an_unset_or_malformed_url_variable_stops_the_collector_naming_it(
    tmp_path, smtp_server, receivers, monkeypatch
):
    budgets_toml(tmp_path / "data" / "budgets.toml", BUDGET)
    path = config(tmp_path, smtp_server.port)
    monkeypatch.delenv("TEST_TEAMS_URL")
    done = collector(path, "--once")
    assert done.returncode == 2
    assert "alerts.channels.teams.url_env: environment variable TEST_TEAMS_URL is not set" in done.stderr
    monkeypatch.setenv("TEST_TEAMS_URL", f"ftp://127.0.0.1/{URL_TOKEN}")
    done = collector(path, "--once")
    assert done.returncode == 2 and "$TEST_TEAMS_URL is not an http(s) URL" in done.stderr
    assert URL_TOKEN not in done.stderr


@pytest.mark.slow
def test_a_budget_naming_an_unknown_channel_stops_the_collector(tmp_path, smtp_server, receivers):
    budgets_toml(tmp_path / "data" / "budgets.toml", BUDGET.replace('"hook"]', '"hoook"]'))
    done = collector(config(tmp_path, smtp_server.port), "--once")
    assert done.returncode == 2
    expected = "budget 'org monthly': channels: channel 'hoook' is not configured; add [alerts.channels.hoook]"
    assert expected in done.stderr
