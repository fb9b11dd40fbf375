"""A soft spend limit (hard = false) reached in its period: one email per limit per period, over real SMTP.

Every spend a test asserts is summed from the rows the test wrote, never taken from the engine.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from alerts import StateStore, parse_alerts
from tests.support.alerts import CHANNELS, bodies, budgets_toml, paris, rows

LABEL = "key-0123456789abcdef"
LIMITS = f"""
[key_labels]
"{LABEL}" = "search prod"

[[limits]]
name = "search <daily> & co"
project = "search"
period = "day"
amount = 1
hard = false

[[limits]]
name = "hard one"
project = "search"
period = "day"
amount = 1

[[limits]]
name = "big soft"
project = "search"
period = "day"
amount = 100
hard = false

[[limits]]
name = "rate only"
project = "search"
requests_per_minute = 1
hard = false
"""
DAY = paris("2026-11-20T00:00")
SEARCH = [0.40, 0.35, 0.45]
"""Costs on project search on 20 November (Paris): EUR 1.20, over the soft EUR 1 limit."""


def setup(tmp_path: Path, text: str = LIMITS, day=DAY, costs=tuple(SEARCH)) -> Path:
    data = tmp_path / "data"
    budgets_toml(data / "budgets.toml", text)
    rows(data, [{"timestamp": day + timedelta(hours=8, minutes=i), "cost": c} for i, c in enumerate(costs)])
    rows(
        data,
        [
            {"timestamp": day + timedelta(hours=9), "cost": 5.0, "project": "other"},
            {"timestamp": day - timedelta(hours=2), "cost": 3.0},
        ],
    )  # another project; the day before
    return data


def engine(make_engine, smtp_server, **alerts):
    return make_engine(smtp_server.port, **{"rules_enabled": ["limits"], **alerts})


@pytest.mark.slow
def test_a_reached_soft_limit_is_mailed_once_naming_the_limit_and_its_spend(tmp_path, smtp_server, make_engine):
    setup(tmp_path)
    spent = round(sum(SEARCH), 2)
    for minutes in (0, 5, 60 * 8):
        engine(make_engine, smtp_server).run(DAY + timedelta(hours=10, minutes=minutes))
    [message] = smtp_server.messages
    assert message["To"] == "oncall@example.com"
    assert message["Subject"] == (
        f"[Mistral limits] search <daily> & co: EUR {spent:.2f} spent reaches the EUR 1 daily soft limit"
    )
    text, html = bodies(message)
    assert f"Spent so far: EUR {spent:.2f}" in text
    assert "Period: 2026-11-20 (2026-11-20 to 2026-11-20, Europe/Paris)" in text
    assert "search &lt;daily&gt; &amp; co" in html and "<daily>" not in html
    assert "hard one" not in text and "big soft" not in text and "rate only" not in text


def test_a_hard_limit_or_a_soft_limit_under_its_amount_sends_nothing(tmp_path, smtp_server, make_engine):
    under = LIMITS.replace("amount = 1\nhard = false", "amount = 1.25\nhard = false")
    data = setup(tmp_path, under)  # EUR 1.20 < 1.25; "hard one" is over but hard: the gateway refuses, no email
    assert sum(SEARCH) < 1.25
    result = engine(make_engine, smtp_server).run(DAY + timedelta(hours=10))
    assert (result.queued, smtp_server.messages) == (0, [])
    checked = {key: entry["state"] for key, entry in StateStore(data).read()["alerts"].items()}
    assert checked == {"limits:search <daily> & co:2026-11-20": "ok", "limits:big soft:2026-11-20": "ok"}


@pytest.mark.slow
def test_the_next_days_period_fires_again_once(tmp_path, smtp_server, make_engine):
    data = setup(tmp_path)
    engine(make_engine, smtp_server).run(DAY + timedelta(hours=10))
    following = DAY + timedelta(days=1)
    rows(data, [{"timestamp": following + timedelta(hours=8), "cost": 0.60}])
    engine(make_engine, smtp_server).run(following + timedelta(hours=8, minutes=30))
    assert len(smtp_server.messages) == 1  # EUR 0.60 on the 21st: under the limit
    rows(data, [{"timestamp": following + timedelta(hours=9), "cost": 0.50}])
    for minutes in (0, 5, 120):
        engine(make_engine, smtp_server).run(following + timedelta(hours=9, minutes=30 + minutes))
    assert len(smtp_server.messages) == 2
    text, _ = bodies(smtp_server.messages[1])
    assert "Spent so far: EUR 1.10" in text and "Period: 2026-11-21 " in text


def test_a_key_label_scope_counts_its_fingerprint(tmp_path, smtp_server, make_engine):
    text = f"""
[key_labels]
"{LABEL}" = "search prod"

[[limits]]
name = "prod key"
api_key = "search prod"
amount = 2
hard = false
"""
    data = setup(tmp_path, text, costs=())
    rows(
        data,
        [
            {"timestamp": DAY + timedelta(hours=8), "cost": 1.5, "api_key_id": LABEL},
            {"timestamp": DAY + timedelta(hours=8), "cost": 0.75, "api_key_id": LABEL},
            {"timestamp": DAY + timedelta(hours=8), "cost": 9.0, "api_key_id": "key-ffffffffffffffff"},
        ],
    )
    engine(make_engine, smtp_server).run(DAY + timedelta(hours=10))
    [message] = smtp_server.messages
    assert "prod key: EUR 2.25 spent" in message["Subject"]
    assert "API key search prod" in bodies(message)[0]


@pytest.mark.slow
def test_the_rule_is_on_by_default_and_routes_to_its_channels(tmp_path, smtp_server, receivers, make_engine):
    assert "limits" in parse_alerts({}, tmp_path).rules_enabled
    setup(tmp_path)
    settings = {"channels": CHANNELS, "rule_channels": {"limits": ["hook"]}}
    for minutes in (0, 5):
        engine(make_engine, smtp_server, **settings).run(DAY + timedelta(hours=10, minutes=minutes))
    assert [len(r.accepted) for r in receivers.values()] == [0, 0, 1]
    body = receivers["hook"].accepted[0].json()
    assert (body["rule"], body["event"]) == ("limits", "fired")
