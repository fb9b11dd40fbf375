"""Hostile names never stop the outbox or forge a header: names from traffic are escaped,
names from config are refused at load with one line naming the key, and one bad message is
marked failed while the others go out (real SMTP server on loopback)."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

import pytest

from alerts import Budget, BudgetFileError, StateStore, load_budgets, parse_alerts, parse_smtp
from alerts._outbox import enqueue
from foundation.errors import ConfigError
from tests.alerts.test_process import collector, write_config
from tests.support.alerts import bodies, budgets_toml, paris, rows

NOW = paris("2026-11-20T12:00")
EVIL_PROJECT = "search\nBcc: evil@example.com"
EVIL_MODEL = "<i>tiny</i>\r\nX-Injected: 1"


def _headers(message: EmailMessage) -> set[str]:
    return {name.lower() for name in message.keys()}


@pytest.mark.slow
def test_newline_in_a_scope_from_traffic_leaves_the_other_emails_going(tmp_path, smtp_server, make_engine, monkeypatch):
    """A project named "search\\nBcc: ..." in the ledger and a budget on it (built in code, as
    the file now refuses it): each budget's email goes out exactly once, the bad one with the
    name escaped onto one line, no forged header, the model name escaped in both bodies (and
    HTML-escaped in the HTML part)."""
    data = tmp_path / "data"
    rows(
        data,
        [
            {"timestamp": paris("2026-11-10T10:00"), "cost": 90.0, "project": EVIL_PROJECT, "model": EVIL_MODEL},
            {"timestamp": paris("2026-11-10T11:00"), "cost": 60.0, "project": "search"},
        ],
    )
    budgets = [
        Budget(name="evil", amount=100.0, projects=(EVIL_PROJECT,), forecast=False, recipients=("a@example.com",)),
        Budget(name="plain", amount=100.0, projects=("search",), forecast=False, recipients=("b@example.com",)),
    ]
    for i in range(3):
        engine = make_engine(smtp_server.port)
        monkeypatch.setattr(engine, "budgets", lambda: budgets)
        engine.run(NOW + timedelta(minutes=5 * i))
    by_to = {m["To"]: m for m in smtp_server.messages}
    assert len(smtp_server.messages) == 2 and sorted(by_to) == ["a@example.com", "b@example.com"]
    evil, plain = by_to["a@example.com"], by_to["b@example.com"]
    assert evil["Subject"].startswith(r"[Mistral spend] project search\nBcc: evil@example.com at 90% of EUR 100")
    assert "bcc" not in _headers(evil) and "x-injected" not in _headers(evil)
    assert plain["Subject"].startswith("[Mistral spend] project search at 60% of EUR 100 monthly budget")
    text, html = bodies(evil)
    assert r"  - <i>tiny</i>\r\nX-Injected: 1: 90.00 (100%)" in text and "\nX-Injected" not in text
    assert r"&lt;i&gt;tiny&lt;/i&gt;\r\nX-Injected: 1" in html and "<i>" not in html
    outbox = StateStore(data).read()["outbox"]
    assert sorted((m["to"], m["status"]) for m in outbox) == [("a@example.com", "sent"), ("b@example.com", "sent")]
    assert "\n" not in "".join(h["subject"] + h["scope"] for h in StateStore(data).read()["history"])


def _entry(to: str, subject: str, **extra: object) -> dict[str, object]:
    return {
        "id": f"<{abs(hash((to, subject)))}@test>",
        "to": to,
        "subject": subject,
        "text": "body\n",
        "html": "<p>body</p>",
        "keys": ["k"],
        **extra,
    }


def test_one_unsendable_message_is_marked_failed_and_the_others_go_out_once(tmp_path, smtp_server, make_engine):
    """An outbox saved by an older version: a recipient with a trailing newline (a malformed
    email), a corrupt entry, a subject with a newline (once a crash on every run), a good one."""
    data = tmp_path / "data"
    store = StateStore(data)
    with store.locked() as state:
        for fields in (
            _entry("ops@example.com\n", "trailing newline"),
            _entry("c@example.com", "corrupt", html=None),
            _entry("d@example.com", "over budget\nBcc: evil@example.com"),
            _entry("e@example.com", "fine"),
        ):
            enqueue(state, fields, NOW, 24)
        store.save(state)
    for i in range(3):
        make_engine(smtp_server.port, rules_enabled=[]).run(NOW + timedelta(minutes=10 * i))
    assert sorted((m["To"], m["Subject"]) for m in smtp_server.messages) == [
        ("d@example.com", r"over budget\nBcc: evil@example.com"),
        ("e@example.com", "fine"),
    ]
    assert not any("bcc" in _headers(m) for m in smtp_server.messages)
    status = {m["to"]: (m["status"], m["attempts"], m["last_error"]) for m in store.read()["outbox"]}
    assert status["ops@example.com\n"] == (
        "failed",
        1,
        "not sent: the recipient 'ops@example.com\\n' is not an email address (one address, no control characters)",
    )
    assert status["c@example.com"][:2] == ("failed", 1)
    assert status["c@example.com"][2].startswith("not sent: the email could not be composed")
    assert status["d@example.com"] == status["e@example.com"] == ("sent", 1, None)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "recipients",
            r'["ops@example.com\n"]',
            r"line 6: budgets[0].recipients: 'ops@example.com\n' is not an email address; write it like ops@",
        ),
        (
            "recipients",
            '["ops@example.com, evil@example.com"]',
            "line 6: budgets[0].recipients: 'ops@example.com, e",
        ),
        (
            "name",
            r'"search\u0007monthly"',
            r"line 3: budgets[0].name: 'search\x07monthly' contains a control character",
        ),
        ("name", r'"search\tmonthly"', r"line 3: budgets[0].name: 'search\tmonthly' contains a control"),
        ("project", r'"search\n"', r"line 5: budgets[0].project: 'search\n' contains a control"),
        (
            "model",
            r'["ok", "large\u2028latest"]',
            r"line 5: budgets[0].model: 'large\u2028latest' contains a control character",
        ),
        ("api_key", r'"key\u0000a"', r"line 5: budgets[0].api_key: 'key\x00a' contains a control"),
    ],
)
def test_a_control_character_in_a_budgets_file_name_is_refused_at_load(tmp_path, key, value, message):
    lines = {"name": '"search monthly"', "amount": "500", "project": '"search"', "recipients": '["ops@example.com"]'}
    if key in {"model", "api_key"}:
        del lines["project"]
    lines[key] = value
    order = ["name", "amount", "project", "model", "api_key", "recipients"]
    body = "".join(f"{k} = {lines[k]}\n" for k in order if k in lines)
    path = tmp_path / "budgets.toml"
    path.write_text(f"\n[[budgets]]\n{body}")
    with pytest.raises(BudgetFileError) as caught:
        load_budgets(path)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_control_character_cannot_be_saved_into_the_budgets_file(tmp_path):
    from alerts import save_budgets

    path = tmp_path / "budgets.toml"
    with pytest.raises(BudgetFileError, match="name: 'a\\\\x1bb' contains a control character"):
        save_budgets(path, [Budget(name="a\x1bb", amount=10.0)])
    assert not path.exists()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"recipients": ["ops@example.com\n"]}, r"alerts.recipients: 'ops@example.com\n' is not an email address"),
        ({"digest_recipients": ["boss@example.com\r"]}, r"alerts.digest_recipients: 'boss@example.com\r' is not"),
        ({"recipients": ["ops\x00@example.com"]}, r"alerts.recipients: 'ops\x00@example.com' is not an email"),
    ],
)
def test_control_characters_in_alert_recipients_are_refused(tmp_path, table, message):
    with pytest.raises(ConfigError) as caught:
        parse_alerts(table, tmp_path)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"sender": "m@example.com\n"}, r"smtp.sender: 'm@example.com\n' is not an email address"),
        ({"username": "m\r\nRSET"}, r"smtp.username: 'm\r\nRSET' contains a control"),
        ({"host": "smtp.example.com\n"}, r"smtp.host: 'smtp.example.com\n' contains a control"),
    ],
)
def test_control_characters_in_smtp_settings_are_refused(table, message):
    with pytest.raises(ConfigError) as caught:
        parse_smtp({"host": "smtp.example.com", "sender": "m@example.com", **table})
    assert message in str(caught.value)


@pytest.mark.slow
def test_collector_exits_2_with_one_line_on_a_trailing_newline_recipient(tmp_path, smtp_server):
    config = write_config(tmp_path / "monitor.toml", smtp_server.port, extra=r'recipients = ["ops@example.com\n"]')
    done = collector(config, "--once")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        r"config error: alerts.recipients: 'ops@example.com\n' is not an email address; write it like ops@example.com"
    ]
    budgets_toml(tmp_path / "data" / "budgets.toml", '[[budgets]]\nname = "org\\u0007"\namount = 5\n')
    done = collector(write_config(tmp_path / "monitor.toml", smtp_server.port), "--once")
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert r"budgets.toml line 2: budgets[0].name: 'org\x07' contains a control character" in line
    assert smtp_server.messages == []
