"""Calendar periods in Europe/Paris: month boundaries, late records, DST days, and the forecast guard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts import period_of
from tests.support.alerts import budgets_toml, paris, rows


@pytest.mark.parametrize(
    ("kind", "instant", "ident", "start_utc", "hours"),
    [
        ("month", "2026-03-15T12:00:00+00:00", "2026-03", "2026-02-28T23:00:00+00:00", 31 * 24 - 1),
        ("month", "2026-10-15T12:00:00+00:00", "2026-10", "2026-09-30T22:00:00+00:00", 31 * 24 + 1),
        ("day", "2026-03-29T12:00:00+00:00", "2026-03-29", "2026-03-28T23:00:00+00:00", 23),
        ("day", "2026-10-25T12:00:00+00:00", "2026-10-25", "2026-10-24T22:00:00+00:00", 25),
        ("week", "2026-03-29T12:00:00+00:00", "2026-W13", "2026-03-22T23:00:00+00:00", 7 * 24 - 1),
        ("month", "2026-11-30T23:30:00+00:00", "2026-12", "2026-11-30T23:00:00+00:00", 31 * 24),
        ("week", "2027-01-01T12:00:00+00:00", "2026-W53", "2026-12-27T23:00:00+00:00", 7 * 24),
    ],
)
def test_periods_are_calendar_aligned_in_the_zone(kind, instant, ident, start_utc, hours):
    period = period_of(kind, datetime.fromisoformat(instant), "Europe/Paris")
    assert period.id == ident
    assert period.start.astimezone(UTC) == datetime.fromisoformat(start_utc)
    assert period.hours == hours


DAILY = """
[[budgets]]
name = "org daily"
period = "day"
amount = 10
recipients = ["ops@example.com"]
forecast = false
"""


def test_dst_day_is_23_hours(tmp_path, smtp_server, make_engine):
    """29 March 2026 in Paris ends at 22:00 UTC, not 23:00: a row at 22:30 UTC is the 30th's."""
    data = tmp_path / "data"
    budgets_toml(data / "budgets.toml", DAILY)
    rows(
        data,
        [
            {"timestamp": datetime(2026, 3, 28, 23, 30, tzinfo=UTC), "cost": 4.0},  # 29th 00:30 CET
            {"timestamp": datetime(2026, 3, 29, 21, 30, tzinfo=UTC), "cost": 5.0},  # 29th 23:30 CEST
            {"timestamp": datetime(2026, 3, 29, 22, 30, tzinfo=UTC), "cost": 9.0},  # 30th 00:30 CEST
            {"timestamp": datetime(2026, 3, 28, 22, 30, tzinfo=UTC), "cost": 9.0},  # 28th 23:30 CET
        ],
    )
    make_engine(smtp_server.port, late_grace_minutes=0).run(datetime(2026, 3, 29, 21, 55, tzinfo=UTC))
    [message] = smtp_server.messages
    assert message["Subject"].startswith("[Mistral spend] the organisation at 90% of EUR 10 daily budget")
    assert "Period: 2026-03-29 (2026-03-29 to 2026-03-29, Europe/Paris)" in message.get_body(("plain",)).get_content()


def test_autumn_dst_day_is_25_hours(tmp_path, smtp_server, make_engine):
    data = tmp_path / "data"
    budgets_toml(data / "budgets.toml", DAILY)
    rows(
        data,
        [
            {"timestamp": datetime(2026, 10, 24, 22, 30, tzinfo=UTC), "cost": 3.0},  # 25th 00:30 CEST
            {"timestamp": datetime(2026, 10, 25, 22, 30, tzinfo=UTC), "cost": 5.0},  # 25th 23:30 CET
            {"timestamp": datetime(2026, 10, 24, 21, 30, tzinfo=UTC), "cost": 9.0},  # 24th 23:30 CEST
        ],
    )
    make_engine(smtp_server.port, late_grace_minutes=0).run(datetime(2026, 10, 25, 22, 45, tzinfo=UTC))
    [message] = smtp_server.messages
    assert message["Subject"].startswith("[Mistral spend] the organisation at 80% of EUR 10 daily budget")


MONTHLY = """
[[budgets]]
name = "org monthly"
amount = 100
recipients = ["ops@example.com"]
forecast = false
"""


@pytest.mark.slow
def test_month_boundary_starts_clean_and_late_records_still_count(tmp_path, smtp_server, make_engine):
    data = tmp_path / "data"
    budgets_toml(data / "budgets.toml", MONTHLY)
    rows(data, [{"timestamp": paris("2026-11-29T10:00"), "cost": 85.0}])
    make_engine(smtp_server.port).run(paris("2026-11-30T23:50"))
    # Records of 30 November 23:55 arrive at 00:20 on 1 December: November reaches 100%.
    rows(data, [{"timestamp": paris("2026-11-30T23:55"), "cost": 20.0}])
    make_engine(smtp_server.port).run(paris("2026-12-01T00:20"))
    rows(data, [{"timestamp": paris("2026-12-01T00:30"), "cost": 55.0}])
    for minutes in (40, 50, 120, 180):
        make_engine(smtp_server.port).run(paris("2026-12-01T00:00") + timedelta(minutes=minutes))
    subjects = [m["Subject"].split(", forecast")[0] for m in smtp_server.messages]
    assert subjects == [
        "[Mistral spend] the organisation at 85% of EUR 100 monthly budget",
        "[Mistral spend] the organisation at 105% of EUR 100 monthly budget",
        "[Mistral spend] the organisation at 55% of EUR 100 monthly budget",
    ]
    assert smtp_server.messages[1]["Subject"].endswith("forecast EUR 105")  # a closed period: forecast = spend


FORECAST = """
[[budgets]]
name = "org monthly"
amount = 250
recipients = ["ops@example.com"]
forecast = true
"""


@pytest.mark.slow
def test_forecast_alert_waits_for_enough_period_and_data(tmp_path, smtp_server, make_engine):
    """10 EUR every day at 06:00: on 10 Nov at 12:00, 100 spent + 0.5 day + 20 days at 10 = 305 > 250."""
    data = tmp_path / "data"
    budgets_toml(data / "budgets.toml", FORECAST)
    start = paris("2026-10-20T06:00")
    rows(data, [{"timestamp": start + timedelta(days=i), "cost": 10.0} for i in range(22)])
    settings = {"rules_enabled": ["forecast"], "forecast_min_elapsed_pct": 20}
    make_engine(smtp_server.port, **settings).run(paris("2026-11-05T12:00"))  # 14% of the month: too early
    assert smtp_server.messages == []
    make_engine(smtp_server.port, **settings).run(paris("2026-11-10T12:00"))
    make_engine(smtp_server.port, **settings).run(paris("2026-11-10T13:00"))
    [message] = smtp_server.messages
    assert message["Subject"] == (
        "[Mistral spend] forecast EUR 305 exceeds EUR 250 monthly budget for the organisation (40% used)"
    )
    # 100 spent + 5 for the rest of the 10th = 105 on the 11th 00:00; 145 more at 10 a day is 14.5 days.
    assert "Projected to reach 100%: 2026-11-25 12:00" in message.get_body(("plain",)).get_content()


@pytest.mark.slow
def test_forecast_needs_history(tmp_path, smtp_server, make_engine):
    data = tmp_path / "data"
    budgets_toml(data / "budgets.toml", FORECAST.replace("amount = 250", "amount = 20"))
    rows(data, [{"timestamp": paris("2026-11-01T06:00"), "cost": 10.0}])
    make_engine(smtp_server.port, rules_enabled=["forecast"], forecast_min_elapsed_pct=0).run(paris("2026-11-02T12:00"))
    assert smtp_server.messages == []
