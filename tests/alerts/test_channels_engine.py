"""Slack, Teams and webhook channels end to end against local HTTP receivers on loopback:
one message per threshold per period per channel, 429 + Retry-After, an outage, the signature
checked with hmac/hashlib from the documented recipe (not the product's code)."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from alerts import StateStore
from ledger import compact_day
from tests.alerts.test_engine_smtp import BUDGET, NOW, seed_november
from tests.support.alerts import CHANNELS, WEBHOOK_SECRET, budgets_toml, paris, rows

pytestmark = pytest.mark.slow

WITH_CHANNELS = BUDGET + 'channels = ["slack", "teams", "hook"]\n'
ALL = ("slack", "teams", "hook")


def setup(tmp_path, budgets: str = WITH_CHANNELS):
    data = tmp_path / "data"
    budgets_toml(data / "budgets.toml", budgets)
    seed_november(data)
    return data


def accepted(receivers) -> dict[str, int]:
    return {name: len(r.accepted) for name, r in receivers.items()}


def test_one_message_per_threshold_per_period_per_channel_across_restarts(
    tmp_path, smtp_server, receivers, make_engine
):
    data = setup(tmp_path)
    result = make_engine(smtp_server.port, channels=CHANNELS).run(NOW)
    assert (result.posts_queued, result.posted, result.post_failed) == (3, 3, 0)
    for i in range(5):
        make_engine(smtp_server.port, channels=CHANNELS).run(NOW + timedelta(minutes=5 * (i + 1)))
    for day in (2, 10):
        rows(data, [{"timestamp": paris(f"2026-11-{day:02d}T11:00"), "cost": 1.0}])  # late records, 82.4%
        compact_day(data, paris(f"2026-11-{day:02d}T11:00").date())
    make_engine(smtp_server.port, channels=CHANNELS).run(NOW + timedelta(hours=2))
    assert accepted(receivers) == {"slack": 1, "teams": 1, "hook": 1}
    rows(data, [{"timestamp": paris("2026-11-20T12:30"), "cost": 90.0}])  # 502 = 100.4%: the next threshold
    for i in range(3):
        make_engine(smtp_server.port, channels=CHANNELS).run(NOW + timedelta(hours=3 + i))
    assert accepted(receivers) == {"slack": 2, "teams": 2, "hook": 2}
    rows(data, [{"timestamp": paris("2026-12-02T10:00"), "cost": 260.0}])  # December: a new period, 52%
    for i in range(3):
        make_engine(smtp_server.port, channels=CHANNELS).run(paris("2026-12-02T12:00") + timedelta(minutes=5 * i))
    assert accepted(receivers) == {"slack": 3, "teams": 3, "hook": 3}
    assert len(smtp_server.messages) == 3  # email alongside, unchanged
    ids = [r.json()["id"] for r in receivers["hook"].accepted]
    assert len(set(ids)) == 3


def test_slack_message_carries_the_figures_and_the_dashboard_link(tmp_path, smtp_server, receivers, make_engine):
    setup(tmp_path)
    make_engine(smtp_server.port, channels=CHANNELS).run(NOW)
    [request] = receivers["slack"].accepted
    assert request.headers["Content-Type"].startswith("application/json")
    message = request.json()
    texts = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section" and "text" in b]
    fields = [f["text"] for b in message["blocks"] for f in b.get("fields", [])]
    assert texts[0].startswith("*[Mistral spend] project search at 82% of EUR 500 monthly budget")
    assert "*Spent so far*\nEUR 410 (82%)" in fields
    assert any(t.startswith("*Top models*\n• mistral-large-latest: 300.00 (73%)") for t in texts)
    [button] = [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
    query = parse_qs(urlsplit(button["url"]).query)
    assert button["url"].startswith("http://dash.test:8501/spend?")
    assert query == {
        "range": ["custom"],
        "from": ["2026-11-01"],
        "to": ["2026-11-30"],
        "tz": ["Europe/Paris"],
        "project": ["search"],
    }


def test_teams_card_carries_the_figures(tmp_path, smtp_server, receivers, make_engine):
    setup(tmp_path)
    make_engine(smtp_server.port, channels=CHANNELS).run(NOW)
    [request] = receivers["teams"].accepted
    message = request.json()
    assert message["type"] == "message"
    [attachment] = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    [facts] = [b["facts"] for b in card["body"] if b["type"] == "FactSet"]
    assert {"title": "Spent so far", "value": r"EUR 410 \(82%\)"} in facts
    assert card["actions"][0]["type"] == "Action.OpenUrl"
    assert card["actions"][0]["url"].startswith("http://dash.test:8501/spend?")


WEBHOOK_FIELDS = {
    "schema",
    "id",
    "channel",
    "event",
    "rule",
    "key",
    "scope",
    "level",
    "since",
    "subject",
    "created_at",
    "figures",
    "contributors",
    "link",
}


def test_webhook_body_and_signature_verify_with_an_independent_implementation(
    tmp_path, smtp_server, receivers, make_engine
):
    setup(tmp_path)
    make_engine(smtp_server.port, channels=CHANNELS).run(NOW)
    [request] = receivers["hook"].accepted
    header = request.headers["X-Monitor-Signature"]
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(WEBHOOK_SECRET.encode(), parts["t"].encode() + b"." + request.body, hashlib.sha256)
    assert hmac.compare_digest(parts["v1"], expected.hexdigest())
    assert abs(int(parts["t"]) - time.time()) < 600
    body = request.json()
    assert set(body) == WEBHOOK_FIELDS
    assert body["schema"] == "mistral-usage-monitor/alert/v1"
    assert request.headers["X-Monitor-Delivery"] == body["id"]
    assert (body["event"], body["rule"], body["key"], body["level"]) == (
        "fired",
        "threshold",
        "threshold:search-monthly:2026-11",
        80.0,
    )
    assert {"label": "Spent so far", "value": "EUR 410 (82%)"} in body["figures"]
    assert body["contributors"][0]["title"] == "Top models"
    assert body["contributors"][0]["items"][0] == {"name": "mistral-large-latest", "value": 300.0, "share": 300 / 410}
    tampered = hmac.new(WEBHOOK_SECRET.encode(), parts["t"].encode() + b"." + request.body + b" ", hashlib.sha256)
    assert not hmac.compare_digest(parts["v1"], tampered.hexdigest())


def test_429_with_retry_after_pauses_only_that_channel_until_then(tmp_path, smtp_server, receivers, make_engine):
    daily = (
        BUDGET.replace("Search monthly", "Org daily")
        .replace('period = "month"', 'period = "day"')
        .replace('project = "search"\n', "")
        .replace("amount = 500", "amount = 40")
    )
    data = setup(tmp_path, WITH_CHANNELS + daily + 'channels = ["slack", "teams"]\n')
    rows(data, [{"timestamp": paris("2026-11-20T09:00"), "cost": 45.0, "project": "analytics"}])
    slack = receivers["slack"]
    slack.replies = [(429, {"Retry-After": "120"}, b"rate_limited")]
    first = make_engine(smtp_server.port, channels=CHANNELS).run(NOW)
    assert (first.posts_queued, first.posted, first.post_failed) == (5, 3, 1)  # 2 budgets: slack x2, teams x2, hook
    assert len(slack.attempts) == 1  # the second Slack message waits too: no hammering
    assert accepted(receivers) == {"slack": 0, "teams": 2, "hook": 1}
    state = StateStore(data).read()
    assert datetime.fromisoformat(state["channels"]["slack"]["not_before"]) == NOW + timedelta(seconds=120)
    assert "HTTP 429 (rate_limited); retrying after 120 s as asked" in state["channels"]["slack"]["last_error"]
    make_engine(smtp_server.port, channels=CHANNELS).run(NOW + timedelta(seconds=119))
    assert len(slack.attempts) == 1
    assert make_engine(smtp_server.port, channels=CHANNELS).run(NOW + timedelta(seconds=120)).posted == 2
    for i in range(3):
        make_engine(smtp_server.port, channels=CHANNELS).run(NOW + timedelta(minutes=5 + i))
    assert accepted(receivers) == {"slack": 2, "teams": 2, "hook": 1}
    assert len(slack.attempts) == 3


def test_receiver_outage_then_back_delivers_once(tmp_path, smtp_server, receivers, make_engine):
    data = setup(tmp_path)
    slack = receivers["slack"]
    slack.stop()
    first = make_engine(smtp_server.port, channels=CHANNELS).run(NOW)
    assert (first.posted, first.post_failed) == (2, 1)
    [pending] = [m for m in StateStore(data).read()["outbox"] if m.get("channel") == "slack"]
    assert pending["status"] == "pending"
    assert "could not connect to the slack channel slack (connection refused)" in pending["last_error"]
    slack.start()
    assert make_engine(smtp_server.port, channels=CHANNELS).run(NOW + timedelta(seconds=30)).posted == 0  # backoff
    assert make_engine(smtp_server.port, channels=CHANNELS).run(NOW + timedelta(minutes=1)).posted == 1
    for i in range(3):
        make_engine(smtp_server.port, channels=CHANNELS).run(NOW + timedelta(minutes=10 + i))
    assert accepted(receivers) == {"slack": 1, "teams": 1, "hook": 1}
    last_ok = StateStore(data).read()["channels"]["slack"]["last_ok_at"]
    assert datetime.fromisoformat(last_ok) == NOW + timedelta(minutes=1)


def test_5xx_is_retried_and_an_undeliverable_message_expires_as_failed(tmp_path, smtp_server, receivers, make_engine):
    data = setup(tmp_path)
    receivers["teams"].replies = [(500, {}, b"boom")] * 5
    make_engine(smtp_server.port, channels=CHANNELS, outbox_expire_hours=1).run(NOW)
    make_engine(smtp_server.port, channels=CHANNELS, outbox_expire_hours=1).run(NOW + timedelta(minutes=1))
    [teams] = [m for m in StateStore(data).read()["outbox"] if m.get("channel") == "teams"]
    assert (teams["status"], teams["attempts"]) == ("pending", 2)
    assert teams["last_error"] == "the teams channel teams answered HTTP 500 (boom)"
    make_engine(smtp_server.port, channels=CHANNELS, outbox_expire_hours=1).run(NOW + timedelta(hours=2))
    [teams] = [m for m in StateStore(data).read()["outbox"] if m.get("channel") == "teams"]
    assert teams["status"] == "failed" and teams["last_error"].startswith("not delivered after 2 attempts")


def test_rule_channels_route_organisation_wide_rules(tmp_path, smtp_server, receivers, make_engine):
    from datetime import UTC

    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    rows(
        tmp_path / "data",
        [
            {"timestamp": now - timedelta(minutes=5, seconds=i), "cost": 0.01, "status_code": 500 if i < 30 else 200}
            for i in range(100)
        ],
    )
    settings = {"rules_enabled": ["error_rate"], "channels": CHANNELS, "rule_channels": {"error_rate": ["hook"]}}
    make_engine(smtp_server.port, **settings).run(now)
    make_engine(smtp_server.port, **settings).run(now + timedelta(minutes=5))
    assert accepted(receivers) == {"slack": 0, "teams": 0, "hook": 1}
    body = receivers["hook"].accepted[0].json()
    assert (body["rule"], body["event"]) == ("error_rate", "fired")
    assert body["subject"] == "[Mistral reliability] error rate 30% over the last 15 min (30 of 100)"


def test_budget_naming_an_unconfigured_channel_fails_that_message_alone(tmp_path, smtp_server, receivers, make_engine):
    data = setup(tmp_path, BUDGET + 'channels = ["slack", "nowhere"]\n')
    result = make_engine(smtp_server.port, channels=CHANNELS).run(NOW)
    assert (result.posted, len(smtp_server.messages)) == (1, 1)
    [gone] = [m for m in StateStore(data).read()["outbox"] if m.get("channel") == "nowhere"]
    assert gone["status"] == "failed"
    assert "channel 'nowhere' is not configured; add [alerts.channels.nowhere]" in gone["last_error"]


def test_no_channels_configured_changes_nothing(tmp_path, smtp_server, receivers, make_engine):
    setup(tmp_path, BUDGET)
    result = make_engine(smtp_server.port).run(NOW)
    assert (result.queued, result.sent, result.posts_queued, result.posted) == (1, 1, 0, 0)
    assert accepted(receivers) == {"slack": 0, "teams": 0, "hook": 0}


def test_the_digest_goes_to_its_routed_channels_once(tmp_path, smtp_server, receivers, make_engine):
    rows(tmp_path / "data", [{"timestamp": paris("2026-11-20T10:00"), "cost": 25.0}])
    settings = {
        "rules_enabled": [],
        "digest": "daily",
        "digest_recipients": ["boss@example.com"],
        "channels": CHANNELS,
        "rule_channels": {"digest": ["teams"]},
    }
    for minutes in (0, 5, 60):
        make_engine(smtp_server.port, **settings).run(paris("2026-11-21T08:00") + timedelta(minutes=minutes))
    assert accepted(receivers) == {"slack": 0, "teams": 1, "hook": 0}
    card = receivers["teams"].accepted[0].json()["attachments"][0]["content"]
    assert card["body"][0]["text"].startswith(r"\[Mistral digest\] daily 2026\-11\-20\: EUR 25")


def test_a_message_built_for_another_kind_is_failed_not_posted(tmp_path, smtp_server, receivers, make_engine):
    data = setup(tmp_path, BUDGET + 'channels = ["slack"]\n')
    receivers["slack"].stop()
    make_engine(smtp_server.port, channels=CHANNELS).run(NOW)
    receivers["slack"].start()
    swapped = {**CHANNELS, "slack": {**CHANNELS["teams"], "url_env": "TEST_SLACK_URL"}}
    make_engine(smtp_server.port, channels=swapped).run(NOW + timedelta(minutes=5))
    [message] = [m for m in StateStore(data).read()["outbox"] if m.get("channel") == "slack"]
    assert message["status"] == "failed"
    assert message["last_error"] == "not sent: built for a slack channel, but slack is now teams"
    assert receivers["slack"].attempts == []
