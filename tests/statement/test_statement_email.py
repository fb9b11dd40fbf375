"""The statement email: once per project and owner per month, across restarts, through the outbox (aiosmtpd)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts import StateStore
from tests.support.alerts import SmtpServer, bodies, budgets_toml, paris, rows

pytestmark = pytest.mark.slow

BUDGETS = """
[[budgets]]
name = "search monthly"
amount = 500
project = "search"
recipients = ["lead@example.com"]

[[budgets]]
name = "analytics"
amount = 100
project = ["analytics", "<img src=x>"]
recipients = ["ana@example.com", "bob@example.com"]

[[budgets]]
name = "everything"
amount = 5000
recipients = ["cfo@example.com"]
"""
SETTINGS = {"rules_enabled": ["statement"], "statement_hour": 8}


def ledger(data) -> None:
    rows(
        data,
        [
            {"timestamp": paris("2026-09-01T10:00"), "cost": 0.0, "project": "unowned"},  # September is whole
            {"timestamp": paris("2026-09-10T10:00"), "cost": 8.0},
            {"timestamp": paris("2026-10-01T00:30"), "cost": 3.0},  # Sep 30 22:30 UTC: October in Paris
            {"timestamp": paris("2026-10-15T12:00"), "cost": 7.0, "model": "mistral-large-latest"},
            {"timestamp": paris("2026-10-20T12:00"), "cost": 0.5, "status_code": 500},
            {"timestamp": paris("2026-10-31T23:30"), "cost": 1.5},
            {"timestamp": paris("2026-11-01T00:10"), "cost": 100.0},  # November: not on the statement
            {"timestamp": paris("2026-10-12T09:00"), "cost": 4.0, "project": "analytics"},
            {"timestamp": paris("2026-10-12T09:00"), "cost": 1.25, "project": "<img src=x>"},
            {"timestamp": paris("2026-10-13T09:00"), "cost": 50.0, "project": "unowned"},
        ],
    )


def statements(server: SmtpServer) -> list:
    """The statement emails received (a folded Subject may start with a space: `<` makes the generator fold)."""
    return [m for m in server.messages if m["Subject"].strip().startswith("[Mistral statement]")]


def test_statement_goes_once_per_project_and_owner_across_restarts(tmp_path, smtp_server, make_engine):
    data = tmp_path / "data"
    ledger(data)
    budgets_toml(data / "budgets.toml", BUDGETS)
    make_engine(smtp_server.port, **SETTINGS).run(paris("2026-11-01T07:59"))
    assert statements(smtp_server) == []
    for moment in ("2026-11-01T08:00", "2026-11-01T08:05", "2026-11-01T13:00", "2026-11-20T09:00"):
        make_engine(smtp_server.port, **SETTINGS).run(paris(moment))  # a new engine each time: a restart
    sent = sorted((m["To"], m["Subject"].strip()) for m in statements(smtp_server))
    spend, before = 3.0 + 7.0 + 0.5 + 1.5, 8.0
    assert sent == [  # September is in the ledger: a project with no request then is "new"
        ("ana@example.com", "[Mistral statement] <img src=x> 2026-10: EUR 1.25 (new)"),
        ("ana@example.com", "[Mistral statement] analytics 2026-10: EUR 4.00 (new)"),
        ("bob@example.com", "[Mistral statement] <img src=x> 2026-10: EUR 1.25 (new)"),
        ("bob@example.com", "[Mistral statement] analytics 2026-10: EUR 4.00 (new)"),
        (
            "lead@example.com",
            f"[Mistral statement] search 2026-10: EUR {spend:.2f} ({100 * (spend - before) / before:+.0f}% vs 2026-09)",
        ),
    ]
    search = next(m for m in statements(smtp_server) if m["To"] == "lead@example.com")
    text = bodies(search)[0].replace("\r\n", "\n")
    assert "Requests: 4\n" in text and "Errors: 1 (25.0%)" in text
    assert "Change from 2026-09: +50% vs 2026-09 (EUR 8.00)" in text  # 3 + 7 + 0.5 + 1.5 against 8
    assert "  - mistral-small-latest: EUR 5.00, -38%, 3 requests, 1 errors" in text  # 3 + 0.5 + 1.5 against 8
    assert "  - mistral-large-latest: EUR 7.00, new, 1 requests, 0 errors" in text
    assert "  - Total: EUR 12.00, +50%, 4 requests, 1 errors" in text  # 12 against 8
    html = bodies(search)[1]
    assert "<th align='left'>Spend 2026-10</th>" in html and "<td>Total</td><td>EUR 12.00</td>" in html
    assert "Rate: none: no conversion applied" in text and "EUR" in text
    assert "http://dash.test:8501/statement" in text
    other = next(m for m in statements(smtp_server) if "img" in m["Subject"])
    assert "<img" not in bodies(other)[1] and "&lt;img src=x&gt;" in bodies(other)[1]
    done = StateStore(data).read()["statements"]
    assert sorted(done) == ["2026-10:<img src=x>", "2026-10:analytics", "2026-10:search"]


def test_statement_waits_in_the_outbox_while_smtp_is_down(tmp_path, smtp_port, make_engine):
    data = tmp_path / "data"
    ledger(data)
    budgets_toml(data / "budgets.toml", BUDGETS)
    result = make_engine(smtp_port, **SETTINGS).run(paris("2026-11-01T08:00"))
    assert result.queued == 5 and result.sent == 0
    server = SmtpServer(smtp_port)
    server.start()
    try:
        for minutes in (5, 10, 30, 60):
            make_engine(smtp_port, **SETTINGS).run(paris("2026-11-01T08:00") + timedelta(minutes=minutes))
        assert sorted(m["To"] for m in statements(server)) == [
            "ana@example.com",
            "ana@example.com",
            "bob@example.com",
            "bob@example.com",
            "lead@example.com",
        ]
    finally:
        server.stop()


def test_no_statement_when_the_rule_is_off_or_nobody_owns_a_project(tmp_path, smtp_server, make_engine):
    data = tmp_path / "data"
    ledger(data)
    make_engine(smtp_server.port, **SETTINGS).run(paris("2026-11-01T09:00"))  # no budgets file
    budgets_toml(data / "budgets.toml", BUDGETS)
    make_engine(smtp_server.port, rules_enabled=["threshold"]).run(paris("2026-11-01T09:05"))
    assert statements(smtp_server) == []
