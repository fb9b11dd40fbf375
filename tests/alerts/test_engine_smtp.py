"""The engine end to end against a real SMTP server on loopback: exactly-once, retries, resolve."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from alerts import StateStore
from collector.errors import LeaseLost
from ledger import compact_day
from tests.support.alerts import SEARCH_MONTHLY, bodies, budgets_toml, paris, rows

BUDGET = SEARCH_MONTHLY
NOW = paris("2026-11-20T12:00")


def seed_november(data_dir: Path) -> None:
    """Project search spends 410 EUR in November (82%): 300 large + 110 small, keys a and b."""
    rows(
        data_dir,
        [
            {
                "timestamp": paris("2026-11-02T10:00"),
                "cost": 300.0,
                "model": "mistral-large-latest",
                "api_key_id": "key_a",
            },
            {"timestamp": paris("2026-11-10T10:00"), "cost": 60.0, "api_key_id": "key_b"},
            {"timestamp": paris("2026-11-19T23:30"), "cost": 50.0, "api_key_id": "key_b"},
            # Not search, or not November: must not count.
            {"timestamp": paris("2026-11-05T10:00"), "cost": 1000.0, "project": "support-bot"},
            {"timestamp": paris("2026-10-31T23:30"), "cost": 400.0},
            {"timestamp": paris("2026-11-01T00:30"), "cost": None, "model": "acme-finetune-1"},
        ],
    )


@pytest.mark.slow
def test_threshold_crossing_sends_exactly_one_email_with_the_figures(tmp_path, smtp_server, make_engine):
    data = tmp_path / "data"
    budgets_toml(data / "budgets.toml", BUDGET)
    seed_november(data)
    result = make_engine(smtp_server.port).run(NOW)
    assert (result.queued, result.sent) == (1, 1)
    [message] = smtp_server.messages
    assert message["To"] == "ops@example.com"
    assert message["Subject"].startswith("[Mistral spend] project search at 82% of EUR 500 monthly budget, forecast")
    assert message["Message-ID"].endswith("@mistral-usage-monitor.local>")
    text, html = bodies(message)
    assert "Spent so far: EUR 410 (82%)" in text
    assert "mistral-large-latest: 300.00 (73%)" in text  # 300 / 410
    assert "key_b: 110.00 (27%)" in text
    link = next(line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("Dashboard: "))
    query = parse_qs(urlsplit(link).query)
    assert link.startswith("http://dash.test:8501/spend?")
    assert query == {
        "range": ["custom"],
        "from": ["2026-11-01"],
        "to": ["2026-11-30"],
        "tz": ["Europe/Paris"],
        "project": ["search"],
    }
    assert "EUR 410 (82%)" in html and "<a href=" in html


@pytest.mark.slow
def test_ten_more_runs_restarts_compaction_and_late_records_send_nothing_more(tmp_path, smtp_server, make_engine):
    data = tmp_path / "data"
    budgets_toml(data / "budgets.toml", BUDGET)
    seed_november(data)
    make_engine(smtp_server.port).run(NOW)
    engine = make_engine(smtp_server.port)
    for i in range(10):
        engine.run(NOW + timedelta(minutes=5 * i))
    for i in range(3):  # "restarts": fresh engines over the same data dir
        make_engine(smtp_server.port).run(NOW + timedelta(hours=1 + i))
    for day in (2, 10, 19):
        rows(data, [{"timestamp": paris(f"2026-11-{day:02d}T11:00"), "cost": 1.0}])  # late arrivals, 413 = 82.6%
        compact_day(data, datetime(2026, 11, day).date())
    make_engine(smtp_server.port).run(NOW + timedelta(hours=5))
    assert len(smtp_server.messages) == 1
    rows(data, [{"timestamp": paris("2026-11-20T12:30"), "cost": 90.0}])  # 503 = 100.6%: a new threshold
    make_engine(smtp_server.port).run(NOW + timedelta(hours=6))
    make_engine(smtp_server.port).run(NOW + timedelta(hours=7))
    assert len(smtp_server.messages) == 2
    assert "project search at 101% of EUR 500 monthly budget" in smtp_server.messages[1]["Subject"]


@pytest.mark.slow
def test_smtp_down_then_back_delivers_once(tmp_path, smtp_port, make_engine):
    from tests.support.alerts import SmtpServer

    data = tmp_path / "data"
    budgets_toml(data / "budgets.toml", BUDGET)
    seed_november(data)
    first = make_engine(smtp_port).run(NOW)
    assert (first.queued, first.sent, first.failed) == (1, 0, 1)
    [pending] = StateStore(data).read()["outbox"]
    assert pending["status"] == "pending" and "connection refused" in pending["last_error"]
    server = SmtpServer(smtp_port)
    server.start()
    try:
        assert make_engine(smtp_port).run(NOW + timedelta(seconds=30)).sent == 0  # backoff: not due yet
        assert make_engine(smtp_port).run(NOW + timedelta(minutes=2)).sent == 1
        for i in range(3):
            make_engine(smtp_port).run(NOW + timedelta(minutes=10 + i))
        assert len(server.messages) == 1
        assert StateStore(data).read()["outbox"][0]["status"] == "sent"
    finally:
        server.stop()


@pytest.mark.slow
def test_4xx_and_5xx_replies_are_retried(tmp_path, smtp_server, make_engine):
    data = tmp_path / "data"
    budgets_toml(data / "budgets.toml", BUDGET)
    seed_november(data)
    smtp_server.handler.replies = ["451 4.3.0 Try again later", "554 5.7.1 Message rejected for now"]
    assert make_engine(smtp_server.port).run(NOW).sent == 0
    assert "451 4.3.0 Try again later" in StateStore(data).read()["outbox"][0]["last_error"]
    assert make_engine(smtp_server.port).run(NOW + timedelta(minutes=1)).sent == 0
    assert "554 5.7.1" in StateStore(data).read()["outbox"][0]["last_error"]
    assert make_engine(smtp_server.port).run(NOW + timedelta(minutes=3)).sent == 1
    assert len(smtp_server.messages) == 1


@pytest.mark.slow
def test_undeliverable_email_expires_as_failed(tmp_path, smtp_port, make_engine):
    data = tmp_path / "data"
    budgets_toml(data / "budgets.toml", BUDGET)
    seed_november(data)
    make_engine(smtp_port, outbox_expire_hours=1).run(NOW)
    make_engine(smtp_port, outbox_expire_hours=1).run(NOW + timedelta(hours=2))
    [message] = StateStore(data).read()["outbox"]
    assert message["status"] == "failed"
    assert "connection refused" in message["last_error"]


@pytest.mark.slow
def test_error_rate_fires_then_resolves(tmp_path, smtp_server, make_engine):
    data = tmp_path / "data"
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    bad = [
        {"timestamp": now - timedelta(minutes=5, seconds=i), "cost": 0.01, "status_code": 500 if i < 30 else 200}
        for i in range(100)
    ]
    rows(data, bad)
    settings = {"rules_enabled": ["error_rate"], "error_rate_pct": 10, "min_requests": 50, "window_minutes": 15}
    make_engine(smtp_server.port, **settings).run(now)
    make_engine(smtp_server.port, **settings).run(now + timedelta(minutes=5))
    assert [m["Subject"] for m in smtp_server.messages] == [
        "[Mistral reliability] error rate 30% over the last 15 min (30 of 100)"
    ]
    assert smtp_server.messages[0]["To"] == "oncall@example.com"
    later = now + timedelta(minutes=40)
    rows(data, [{"timestamp": later - timedelta(minutes=1, seconds=i), "cost": 0.01} for i in range(60)])
    make_engine(smtp_server.port, **settings).run(later)
    make_engine(smtp_server.port, **settings).run(later + timedelta(minutes=1))
    assert len(smtp_server.messages) == 2
    resolved = "[Resolved] [Mistral reliability] error rate 0.0% over the last 15 min (0 of 60)"
    assert smtp_server.messages[1]["Subject"] == resolved


def test_too_few_requests_neither_fires_nor_resolves(tmp_path, smtp_server, make_engine):
    data = tmp_path / "data"
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    rows(data, [{"timestamp": now - timedelta(minutes=1), "cost": 0.0, "status_code": 500} for _ in range(10)])
    make_engine(smtp_server.port, rules_enabled=["error_rate"], min_requests=50).run(now)
    assert smtp_server.messages == []


@pytest.mark.slow
def test_alerts_of_one_run_go_out_as_one_email_per_recipient(tmp_path, smtp_server, make_engine):
    data = tmp_path / "data"
    daily = (
        BUDGET.replace("Search monthly", "Org daily")
        .replace('period = "month"', 'period = "day"')
        .replace('project = "search"\n', "")
        .replace("amount = 500", "amount = 40")
        .replace('["ops@example.com"]', '["ops@example.com", "cfo@example.com"]')
    )
    budgets_toml(data / "budgets.toml", BUDGET + daily)
    seed_november(data)
    rows(data, [{"timestamp": paris("2026-11-20T09:00"), "cost": 45.0, "project": "analytics"}])
    make_engine(smtp_server.port).run(NOW)
    by_to = {m["To"]: m["Subject"] for m in smtp_server.messages}
    assert sorted(by_to) == ["cfo@example.com", "ops@example.com"]
    assert by_to["ops@example.com"].endswith("(+1 more)")
    assert by_to["cfo@example.com"].startswith("[Mistral spend] the organisation at 112% of EUR 40 daily budget")


@pytest.mark.slow
def test_spend_anomaly_this_hour_fires_then_resolves(tmp_path, smtp_server, make_engine):
    """1 EUR at 14:10 on each of the last 7 days; 10 EUR at 14:10 today is 10x the usual (factor 3)."""
    data = tmp_path / "data"
    today = paris("2026-11-20T14:10")
    rows(data, [{"timestamp": today - timedelta(days=d), "cost": 1.0} for d in range(1, 8)])
    rows(data, [{"timestamp": today, "cost": 10.0}])
    settings = {"rules_enabled": ["anomaly"], "anomaly_factor": 3, "anomaly_min_spend": 2}
    make_engine(smtp_server.port, **settings).run(paris("2026-11-20T14:30"))
    make_engine(smtp_server.port, **settings).run(paris("2026-11-20T14:45"))
    make_engine(smtp_server.port, **settings).run(paris("2026-11-20T15:05"))
    assert [m["Subject"] for m in smtp_server.messages] == [
        "[Mistral spend] unusual spend: EUR 10 this hour (14:00), 10.0x the usual EUR 1",
        "[Resolved] [Mistral spend] back to usual spend: EUR 0 this hour (15:00), usually EUR 0",
    ]


def test_daily_digest_is_sent_once_after_the_digest_hour(tmp_path, smtp_server, make_engine):
    data = tmp_path / "data"
    rows(
        data,
        [
            {"timestamp": paris("2026-11-19T10:00"), "cost": 20.0},
            {"timestamp": paris("2026-11-20T10:00"), "cost": 25.0},
            {"timestamp": paris("2026-11-20T23:30"), "cost": 5.0, "project": "analytics"},
        ],
    )
    settings = {"rules_enabled": [], "digest": "daily", "digest_recipients": ["boss@example.com"], "digest_hour": 8}
    make_engine(smtp_server.port, **settings).run(paris("2026-11-21T07:59"))
    assert smtp_server.messages == []
    for minutes in (0, 5, 60):
        make_engine(smtp_server.port, **settings).run(paris("2026-11-21T08:00") + timedelta(minutes=minutes))
    [digest] = smtp_server.messages
    assert digest["To"] == "boss@example.com"
    assert digest["Subject"] == "[Mistral digest] daily 2026-11-20: EUR 30 (+50% vs the period before)"
    text = digest.get_body(("plain",)).get_content()
    assert "  - search: 25.00" in text and "  - analytics: 5.00" in text


def test_a_fenced_off_engine_neither_saves_nor_sends_and_the_new_leader_sends_once(tmp_path, smtp_server, make_engine):
    """Collector failover: the old leader's fence fails (its lease token is stale); the alert goes out once."""
    data = tmp_path / "data"
    budgets_toml(data / "budgets.toml", BUDGET)
    seed_november(data)
    checks: list[str] = []

    def stale_token() -> None:
        checks.append("fence")
        raise LeaseLost("fencing token 1 is no longer current; not writing", 1)

    old = make_engine(smtp_server.port)
    old.fence = stale_token
    with pytest.raises(LeaseLost):
        old.run(NOW)
    assert checks == ["fence"] and smtp_server.messages == []
    saved = StateStore(data).read()
    assert (saved["alerts"], saved["outbox"], saved["history"]) == ({}, [], [])  # nothing saved either
    assert make_engine(smtp_server.port).run(NOW).sent == 1  # the new leader (its fence passes)
    with pytest.raises(LeaseLost):
        old.run(NOW + timedelta(minutes=5))
    assert len(smtp_server.messages) == 1
