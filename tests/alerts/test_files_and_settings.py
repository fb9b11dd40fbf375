"""The budgets file (hand-edited or saved by the page) and the [alerts]/[smtp] sections."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts import Budget, BudgetFileError, load_budgets, parse_alerts, parse_budget, parse_smtp, save_budgets
from foundation.errors import ConfigError

GOOD = """# hand-written
[[budgets]]
name = "search monthly"
amount = 500
project = "search"
recipients = ["ops@example.com"]

[[budgets]]
name = "keys weekly"
period = "week"
amount = 120.5
api_key = ["key_a", "key_b"]
model = "mistral-large-latest"
thresholds = [90, 25]
forecast = false
"""


def test_hand_written_file_round_trips_through_save(tmp_path):
    path = tmp_path / "budgets.toml"
    path.write_text(GOOD)
    budgets = load_budgets(path)
    assert budgets[0] == Budget(
        name="search monthly", amount=500.0, projects=("search",), recipients=("ops@example.com",)
    )
    assert budgets[1].thresholds == (25.0, 90.0) and budgets[1].api_keys == ("key_a", "key_b")
    assert budgets[1].scope_label() == "model mistral-large-latest; api key key_a, key_b"
    save_budgets(path, budgets)
    assert load_budgets(path) == budgets
    left = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert left == [".budgets.toml.lock"]  # no temp file left behind; the saves' lock file stays (never deleted)


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (
            GOOD.replace("amount = 500", "amount = -5"),
            "line 4: budgets[0].amount: must be greater than 0, got -5; use a number",
        ),
        (
            GOOD.replace('["ops@example.com"]', '["ops-at-example.com"]'),
            "line 6: budgets[0].recipients: 'ops-at-example.com' is not an email address; write it like ops@",
        ),
        (
            GOOD.replace('period = "week"', 'period = "fortnight"'),
            "line 10: budgets[1].period: 'fortnight' is not supported; use one of month, week, day",
        ),
        (GOOD.replace("forecast = false", "forcast = false"), "line 15: budgets[1].forcast: unknown key"),
        (
            GOOD.replace('name = "keys weekly"', 'name = "Search Monthly"'),
            "line 9: budgets[1].name: 'Search Monthly' is empty or used twice",
        ),
        (GOOD.replace("amount = 500", "amount = "), "invalid TOML: Invalid value (at line 4, column 10)"),
        (
            GOOD.replace("thresholds = [90, 25]", "thresholds = [0]"),
            "line 14: budgets[1].thresholds: [0] is not a list of percentages",
        ),
    ],
)
def test_errors_name_the_file_line_and_fix(tmp_path, broken, message):
    path = tmp_path / "budgets.toml"
    path.write_text(broken)
    with pytest.raises(BudgetFileError) as caught:
        load_budgets(path)
    assert f"{path}" in str(caught.value)
    assert message in str(caught.value)


def test_missing_file_is_no_budgets(tmp_path):
    assert load_budgets(tmp_path / "nope.toml") == []


def test_form_validation_uses_the_same_rules():
    with pytest.raises(BudgetFileError, match="^amount: must be greater than 0, got 0; use a number above 0$"):
        parse_budget({"name": "x", "amount": 0})
    assert parse_budget({"name": "x", "amount": 1, "project": "new-project"}).projects == ("new-project",)


def test_alert_settings_defaults_and_errors(tmp_path):
    settings = parse_alerts({}, tmp_path)
    assert settings.interval_seconds == 300 and settings.budgets_file == tmp_path / "budgets.toml"
    assert settings.enabled("anomaly") and settings.digest == "off"
    assert not parse_alerts({"rules_enabled": ["threshold"]}, tmp_path).enabled("error_rate")
    for raw, message in [
        ({"error_rate_pct": 150}, "alerts.error_rate_pct: 150 is out of range; use 0..100"),
        ({"error_rate_pct": "5"}, "alerts.error_rate_pct: expected"),
        ({"digest": "hourly"}, "alerts.digest: 'hourly' is not supported; use one of off, daily, weekly"),
        ({"rules_enabled": ["spend"]}, "alerts.rules_enabled: unknown rule 'spend'"),
        ({"recipients": ["nobody"]}, "alerts.recipients: 'nobody' is not an email address"),
        ({"min_requests": True}, "alerts.min_requests: expected a number"),
    ]:
        with pytest.raises(ConfigError) as caught:
            parse_alerts(raw, tmp_path)
        assert message in str(caught.value)


def test_smtp_settings(monkeypatch):
    smtp = parse_smtp(
        {
            "host": "smtp.example.com",
            "sender": "m@example.com",
            "security": "tls",
            "username": "m",
            "password_env": "TEST_SMTP_PW",
        },
        Path("/etc/monitor"),
    )
    assert smtp.port == 465
    with pytest.raises(ConfigError, match="environment variable TEST_SMTP_PW is not set"):
        smtp.password()
    monkeypatch.setenv("TEST_SMTP_PW", "s3cret")
    assert smtp.password() == "s3cret"
    for raw, message in [
        ({"sender": "m@example.com"}, "smtp.host: missing"),
        ({"host": "h", "sender": "m@example.com", "password": "x"}, "smtp.password: never put the password"),
        ({"host": "h", "sender": "m@example.com", "security": "ssl"}, "smtp.security: 'ssl' is not supported"),
    ]:
        with pytest.raises(ConfigError) as caught:
            parse_smtp(raw)
        assert message in str(caught.value)
