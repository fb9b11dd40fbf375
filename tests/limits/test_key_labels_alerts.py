"""A budget email names API keys by their label from the budgets file, not by fingerprint."""

from __future__ import annotations

from tests.support.alerts import bodies, budgets_toml, paris, rows

BUDGETS = """
[key_labels]
"key-0123456789abcdef" = "search prod"

[[budgets]]
name = "Search monthly"
amount = 500
project = "search"
thresholds = [50]
forecast = false
recipients = ["ops@example.com"]
"""


def test_the_top_keys_of_a_budget_email_carry_their_labels(tmp_path, smtp_server, make_engine) -> None:
    data = tmp_path / "data"
    budgets_toml(data / "budgets.toml", BUDGETS)
    rows(
        data,
        [
            {"timestamp": paris("2026-11-02T10:00"), "cost": 300.0, "api_key_id": "key-0123456789abcdef"},
            {"timestamp": paris("2026-11-03T10:00"), "cost": 100.0, "api_key_id": "key-ffffffffffffffff"},
        ],
    )
    make_engine(smtp_server.port).run(paris("2026-11-20T12:00"))
    [message] = smtp_server.messages
    text, _ = bodies(message)
    assert "search prod: 300.00 (75%)" in text
    assert "key-ffffffffffffffff: 100.00 (25%)" in text
    assert "key-0123456789abcdef" not in text
