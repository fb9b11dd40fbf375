"""The Budgets page's Channels section under AppTest: each channel's delivery state, a test
button per channel against the loopback receivers, and the form saving a budget's channels."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from alerts import load_budgets
from tests.alerts.test_channels_process import CHANNELS_TOML
from tests.alerts.test_process import write_config
from tests.paths import REPO

pytestmark = pytest.mark.slow


def page() -> AppTest:
    return AppTest.from_file(str(REPO / "pages" / "budgets.py"), default_timeout=60)


def setup(tmp_path: Path, monkeypatch, port: int, channels: str = CHANNELS_TOML) -> Path:
    monkeypatch.setenv("MONITOR_CONFIG", str(write_config(tmp_path / "monitor.toml", port, extra=channels)))
    return tmp_path / "data"


def _channel_table(at: AppTest):
    [table] = [d.value for d in at.dataframe if "channel" in d.value.columns and "url from" in d.value.columns]
    return table


def test_channel_states_and_a_test_button_per_channel(tmp_path, monkeypatch, smtp_server, receivers):
    from alerts import Engine
    from foundation.config import load_config
    from tests.alerts.test_channels_process import BUDGET
    from tests.support.alerts import budgets_toml, rows

    data = setup(tmp_path, monkeypatch, smtp_server.port)
    budgets_toml(data / "budgets.toml", BUDGET)
    from datetime import UTC, datetime

    rows(data, [{"timestamp": datetime.now(UTC), "cost": 90.0}])
    receivers["slack"].replies = [(429, {"Retry-After": "600"}, b"rate_limited")]
    receivers["teams"].stop()
    Engine.from_config(load_config()).run()
    at = page().run()
    assert not at.exception, at.exception
    table = _channel_table(at).set_index("channel")
    assert list(table.index) == ["hook", "slack", "teams"]
    assert table.loc["hook", "state"] == "ok" and table.loc["hook", "sent"] == 1
    assert table.loc["slack", "state"].startswith("paused until ") and table.loc["slack", "pending"] == 1
    assert table.loc["teams", "state"] == "failing" and "connection refused" in table.loc["teams", "last error"]
    assert table.loc["teams", "url from"] == "$TEST_TEAMS_URL"
    assert any("teams channel teams: 1 message(s) waiting" in w.value for w in at.warning)
    at.button(key="test_channel_hook").click().run()
    assert any("posted a test message to the webhook channel hook" in s.value for s in at.success)
    test_body = receivers["hook"].accepted[-1].json()
    assert (test_body["event"], test_body["rule"]) == ("test", "test")
    at.button(key="test_channel_teams").click().run()
    assert any(
        "Not sent: could not connect to the teams channel teams (connection refused)" in e.value for e in at.error
    )
    receivers["teams"].start()
    at.button(key="test_channel_teams").click().run()
    [card] = receivers["teams"].accepted
    assert card.json()["attachments"][0]["content"]["body"][0]["text"].startswith(r"\[Test\] \[Mistral usage")


def test_no_channels_configured_says_how_to_add_one(tmp_path, monkeypatch, smtp_server):
    setup(tmp_path, monkeypatch, smtp_server.port, channels="")
    at = page().run()
    assert not at.exception, at.exception
    assert any("No Slack, Teams or webhook channels" in c.value for c in at.caption)


def test_form_saves_channels_and_refuses_an_unconfigured_one(tmp_path, monkeypatch, smtp_server, receivers):
    data = setup(tmp_path, monkeypatch, smtp_server.port)
    at = page().run()
    form = at.get("form")[0]
    form.text_input[0].set_value("ops daily")
    form.text_input[6].set_value("slack, nowhere")
    form.button[0].click().run()
    assert any("Not saved: channels: channel 'nowhere' is not configured" in e.value for e in at.error)
    assert load_budgets(data / "budgets.toml") == []
    at.get("form")[0].text_input[6].set_value("slack, hook")
    at.get("form")[0].button[0].click().run()
    assert not at.exception, at.exception
    [saved] = load_budgets(data / "budgets.toml")
    assert (saved.name, saved.channels) == ("ops daily", ("slack", "hook"))
