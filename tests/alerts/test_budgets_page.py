"""The Budgets page under AppTest: figures, unknown-scope flag, form validation and save, history,
outbox and the test-email button against a real SMTP server (and a dead port)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from alerts import load_budgets
from tests.paths import REPO
from tests.support.alerts import budgets_toml, free_port, rows, write_monitor_toml

BUDGETS = """
[[budgets]]
name = "search monthly"
amount = 200
project = "search"
recipients = ["ops@example.com"]

[[budgets]]
name = "ghost"
period = "week"
amount = 10
project = "no-such-project"
"""


def shown(markdown: str) -> str:
    """What a reader sees of escaped page text: backslash escapes resolved, zero-width joiners gone."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")


def config(tmp_path: Path, port: int) -> Path:
    return write_monitor_toml(tmp_path / "monitor.toml", port, 'recipients = ["oncall@example.com"]')


@pytest.fixture
def page_env(tmp_path, monkeypatch):
    def setup(port: int) -> Path:
        data = tmp_path / "data"
        budgets_toml(data / "budgets.toml", BUDGETS)
        now = datetime.now(UTC)
        rows(data, [{"timestamp": now, "cost": 123.45}, {"timestamp": now, "cost": 10.0, "project": "analytics"}])
        monkeypatch.setenv("MONITOR_CONFIG", str(config(tmp_path, port)))
        return data

    return setup


def page() -> AppTest:
    return AppTest.from_file(str(REPO / "pages" / "budgets.py"), default_timeout=60)


@pytest.mark.slow
def test_budget_figures_and_unknown_scope_flag(page_env, smtp_server):
    page_env(smtp_server.port)
    at = page().run()
    assert not at.exception, at.exception
    tiles = {(m.label, m.value) for m in at.metric}
    assert ("Spent so far", "€123.45") in tiles  # the dashboard's tile style (tile_money), not the email's
    first = {m.label: m.proto.help for m in reversed(at.metric)}  # the first budget's: "search monthly"
    assert first["Spent so far"] == "€123.45" and first["Forecast"].startswith("€")  # the exact figure
    assert ("Used", "61.7%") in tiles  # 123.45 / 200
    assert [s.value for s in at.subheader] == ["search monthly", "ghost"]
    assert any("project no-such-project" in w.value for w in at.warning)
    assert not any("project search" in w.value for w in at.warning)


@pytest.mark.slow
def test_form_refuses_bad_values_and_saves_good_ones(page_env, smtp_server):
    data = page_env(smtp_server.port)
    at = page().run()
    form = at.get("form")[0]
    name, projects = form.text_input[0], form.text_input[1]
    name.set_value("support daily")
    projects.set_value("support-bot")
    form.number_input[0].set_value(0.0)
    form.button[0].click().run()
    assert any("Not saved: amount: must be greater than 0, got 0;" in e.value for e in at.error)
    assert len(load_budgets(data / "budgets.toml")) == 2
    at.get("form")[0].number_input[0].set_value(25.0)
    at.get("form")[0].text_input[5].set_value("ops@example.com, not-an-email")
    at.get("form")[0].button[0].click().run()
    assert any("'not-an-email' is not an email address" in e.value for e in at.error)
    at.get("form")[0].text_input[5].set_value("ops@example.com")
    at.get("form")[0].button[0].click().run()
    assert not at.exception, at.exception
    saved = load_budgets(data / "budgets.toml")
    assert [b.name for b in saved] == ["search monthly", "ghost", "support daily"]
    assert (saved[2].amount, saved[2].projects, saved[2].recipients) == (25.0, ("support-bot",), ("ops@example.com",))


@pytest.mark.slow
def test_history_outbox_and_test_email(page_env, smtp_server):
    data = page_env(smtp_server.port)
    from alerts import Engine
    from foundation.config import load_config

    Engine.from_config(load_config()).run()
    at = page().run()
    assert not at.exception, at.exception
    history = at.dataframe[0].value
    assert list(history["rule"]) == ["threshold"] and "at 62% of EUR 200" in history["subject"].iloc[0]
    outbox = at.dataframe[1].value
    assert list(outbox["status"]) == ["sent"] and list(outbox["to"]) == ["ops@example.com"]
    at.selectbox(key="test_to").set_value("ops@example.com")
    at.button(key="send_test").click().run()
    assert any("sent a test email to ops@example.com via 127.0.0.1" in shown(s.value) for s in at.success)
    assert smtp_server.messages[-1]["To"] == "ops@example.com"
    assert (data / "alerts" / "state.json").exists()


@pytest.mark.slow
def test_test_email_reports_the_smtp_error_in_plain_words(page_env):
    port = free_port()
    page_env(port)
    at = page().run()
    at.button(key="send_test").click().run()
    assert any(f"could not connect to 127.0.0.1:{port} (connection refused)" in e.value for e in at.error)


@pytest.mark.slow
def test_invalid_budgets_file_is_shown_with_its_line(page_env, smtp_server):
    data = page_env(smtp_server.port)
    (data / "budgets.toml").write_text(BUDGETS.replace("amount = 200", "amount = -1"))
    at = page().run()
    assert not at.exception, at.exception
    assert any("line 4: budgets[0].amount: must be greater than 0, got -1" in shown(e.value) for e in at.error)


@pytest.mark.slow
def test_test_email_offers_only_configured_recipients_one_at_a_time(page_env, smtp_server):
    """A pick among the budgets' and [alerts] recipients, one address per email; no free text.
    (Streamlit refuses a value outside the options; `send_test_email` checks again, below.)"""
    page_env(smtp_server.port)
    at = page().run()
    box = at.selectbox(key="test_to")
    assert box.options == ["oncall@example.com", "ops@example.com"]
    assert "test_to" not in [t.key for t in at.text_input]
    for address in ("ops@example.com", "oncall@example.com"):
        at.selectbox(key="test_to").set_value(address)
        at.button(key="send_test").click().run()
        assert not at.exception, at.exception
    assert [(m["To"], m["Cc"], m["Bcc"]) for m in smtp_server.messages] == [
        ("ops@example.com", None, None),
        ("oncall@example.com", None, None),
    ]


def test_send_test_email_refuses_anything_but_one_configured_address(smtp_server):
    from alerts import DeliveryError, parse_smtp, send_test_email

    smtp = parse_smtp(
        {"host": "127.0.0.1", "port": smtp_server.port, "security": "none", "sender": "monitor@example.com"}
    )
    allowed = ("ops@example.com",)
    for bad in ("me@example.com", "ops@example.com, me@example.com", "ops@example.com\n", "ops@example.com\r\n"):
        with pytest.raises(DeliveryError, match="is not a configured recipient"):
            send_test_email(smtp, bad, allowed)
    assert smtp_server.messages == []
    assert send_test_email(smtp, "ops@example.com", allowed).startswith("sent a test email to ops@example.com")
    assert [m["To"] for m in smtp_server.messages] == ["ops@example.com"]


@pytest.mark.slow
def test_control_character_in_a_budget_name_is_shown_not_crashed(page_env, smtp_server):
    data = page_env(smtp_server.port)
    (data / "budgets.toml").write_text(BUDGETS.replace('name = "ghost"', 'name = "gh\\u0007ost"'))
    at = page().run()
    assert not at.exception, at.exception
    assert any("line 9: budgets[1].name: 'gh\\x07ost' contains a control character" in shown(e.value) for e in at.error)


@pytest.mark.slow
def test_an_invalid_budgets_file_cannot_be_overwritten_from_the_page(page_env, smtp_server):
    data = page_env(smtp_server.port)
    broken = BUDGETS.replace("amount = 10", "amount = -10")
    (data / "budgets.toml").write_text(broken)
    at = page().run()
    assert not at.exception, at.exception
    assert any("invalid" in e.value for e in at.error)
    assert not [b for b in at.button if b.key and b.key.startswith("FormSubmitter")]
    assert not [b for b in at.button if b.key == "delete"]
    assert (data / "budgets.toml").read_text() == broken


@pytest.mark.slow
def test_a_save_over_a_file_changed_since_the_page_loaded_is_refused_and_keeps_the_other_edit(page_env, smtp_server):
    data = page_env(smtp_server.port)
    first, second = page().run(), page().run()  # two sessions, both showing the file as it was
    for session in (first, second):
        session.selectbox(key="edit_pick").set_value("search monthly").run()
    second.get("form")[0].number_input[0].set_value(300.0)
    second.get("form")[0].button[0].click().run()
    assert not second.error and not second.exception
    assert load_budgets(data / "budgets.toml")[0].amount == 300.0
    first.get("form")[0].number_input[0].set_value(250.0)
    first.get("form")[0].button[0].click().run()
    assert any("changed since this page was loaded" in e.value and "nothing was saved" in e.value for e in first.error)
    assert [b.amount for b in load_budgets(data / "budgets.toml")] == [300.0, 10.0]
    first.get("form")[0].number_input[0].set_value(250.0)  # the page now shows the file as it is: a retry saves
    first.get("form")[0].button[0].click().run()
    assert not first.error, [e.value for e in first.error]
    assert [b.amount for b in load_budgets(data / "budgets.toml")] == [250.0, 10.0]


@pytest.mark.slow
def test_a_hand_edit_after_the_page_loaded_is_not_overwritten_by_a_limit_save(page_env, smtp_server):
    data = page_env(smtp_server.port)
    at = page().run()
    edited = (data / "budgets.toml").read_text().replace("amount = 10", "amount = 11")
    (data / "budgets.toml").write_text(edited)
    form = at.get("form")[1]
    form.text_input[0].set_value("cap")
    form.number_input[0].set_value(50.0)
    form.button[0].click().run()
    assert any("changed since this page was loaded" in e.value for e in at.error)
    assert (data / "budgets.toml").read_text() == edited
