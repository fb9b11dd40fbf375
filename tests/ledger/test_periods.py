"""foundation.periods: day, ISO week and month boundaries in a time zone, across DST changes.

Expected instants are written out by hand from the zones' published rules (Paris: +01 in
winter, +02 from the last Sunday of March 01:00 UTC to the last Sunday of October 01:00 UTC;
Kiritimati: +14 all year; Santiago: clocks go from 00:00 to 01:00 on 6 September 2026), never
computed with the code under test. The budgets (alerts) and the gateway's limits must agree
with them too, since both now take their periods from here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from alerts import period_of
from foundation.periods import (
    days_in_period,
    month_days,
    next_period_start,
    parse_month,
    period_key,
    period_start,
    previous_month,
)
from gateway._limit_periods import period_at
from ledger.queries.statement import month_window

PARIS = "Europe/Paris"
PLUS_14 = "Pacific/Kiritimati"
SANTIAGO = "America/Santiago"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def hours(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600


@pytest.mark.parametrize(
    ("kind", "instant", "start", "end", "key"),
    [
        # spring forward in Paris: 29 March 2026 has 23 hours, its week 167, March 743
        ("day", utc(2026, 3, 29, 1, 30), utc(2026, 3, 28, 23), utc(2026, 3, 29, 22), "2026-03-29"),
        ("week", utc(2026, 3, 29, 1, 30), utc(2026, 3, 22, 23), utc(2026, 3, 29, 22), "2026-W13"),
        ("month", utc(2026, 3, 29, 1, 30), utc(2026, 2, 28, 23), utc(2026, 3, 31, 22), "2026-03"),
        # fall back: 25 October 2026 has 25 hours, October 745
        ("day", utc(2026, 10, 25, 0, 30), utc(2026, 10, 24, 22), utc(2026, 10, 25, 23), "2026-10-25"),
        ("day", utc(2026, 10, 25, 1, 30), utc(2026, 10, 24, 22), utc(2026, 10, 25, 23), "2026-10-25"),
        ("month", utc(2026, 10, 31, 23, 30), utc(2026, 10, 31, 23), utc(2026, 11, 30, 23), "2026-11"),
        ("month", utc(2026, 10, 31, 22, 59), utc(2026, 9, 30, 22), utc(2026, 10, 31, 23), "2026-10"),
    ],
)
def test_paris_periods_across_dst(kind: str, instant: datetime, start: datetime, end: datetime, key: str) -> None:
    assert period_start(kind, instant, PARIS) == start
    assert next_period_start(kind, instant, PARIS) == end
    assert period_key(kind, instant, PARIS) == key
    budget = period_of(kind, instant, PARIS)
    assert (budget.start, budget.end, budget.id) == (start, end, key)
    limit = period_at(kind, instant.timestamp(), PARIS)
    assert (limit.start, limit.end, limit.id) == (start.timestamp(), end.timestamp(), key)


def test_hours_of_the_dst_periods() -> None:
    spring, autumn = utc(2026, 3, 29, 12), utc(2026, 10, 25, 12)
    assert [period_of(k, spring, PARIS).hours for k in ("day", "week", "month")] == [23.0, 167.0, 743.0]
    assert [period_of(k, autumn, PARIS).hours for k in ("day", "month")] == [25.0, 745.0]
    assert period_at("day", autumn.timestamp(), PARIS).end_label == "2026-10-26T00:00:00+01:00"


def test_a_utc_plus_14_zone_starts_its_month_ten_hours_before_utc() -> None:
    """Kiritimati's 1 April begins at 10:00 UTC on 31 March, when UTC is still in March."""
    first = utc(2026, 3, 31, 10)
    assert period_start("month", first, PLUS_14) == first
    assert period_key("month", first, PLUS_14) == "2026-04"
    assert period_key("month", first, "UTC") == "2026-03"
    assert period_key("month", first - timedelta(microseconds=1), PLUS_14) == "2026-03"
    assert next_period_start("month", first, PLUS_14) == utc(2026, 4, 30, 10)
    assert period_key("day", first, PLUS_14) == "2026-04-01"


def test_an_instant_at_local_midnight_on_the_first_belongs_to_the_new_month() -> None:
    midnight = datetime(2026, 11, 1, tzinfo=timezone(timedelta(hours=1)))  # Paris, winter time
    assert period_key("month", midnight, PARIS) == "2026-11"
    assert period_start("month", midnight, PARIS) == midnight
    assert period_key("month", midnight - timedelta(microseconds=1), PARIS) == "2026-10"
    assert next_period_start("month", midnight - timedelta(microseconds=1), PARIS) == midnight
    assert period_of("month", midnight, PARIS).previous().id == "2026-10"


def test_a_midnight_skipped_by_dst_starts_the_day_at_its_first_instant() -> None:
    """Santiago jumps from 00:00 (-04) to 01:00 (-03) on 6 September 2026: the day starts at 04:00 UTC."""
    noon = utc(2026, 9, 6, 15)
    assert period_start("day", noon, SANTIAGO) == utc(2026, 9, 6, 4)
    assert next_period_start("day", utc(2026, 9, 5, 15), SANTIAGO) == utc(2026, 9, 6, 4)
    assert hours(period_start("day", noon, SANTIAGO), next_period_start("day", noon, SANTIAGO)) == 23


def test_iso_weeks_across_the_new_year_and_days_in_periods() -> None:
    assert period_key("week", utc(2027, 1, 1, 12), "UTC") == "2026-W53"
    assert period_key("week", utc(2027, 1, 4, 12), "UTC") == "2027-W01"
    assert [days_in_period("month", date(y, 2, 10)) for y in (2026, 2028)] == [28, 29]
    assert days_in_period("week", date(2026, 3, 29)) == 7 and days_in_period("day", date(2026, 3, 29)) == 1
    assert month_days("2026-12") == (date(2026, 12, 1), date(2026, 12, 31))
    assert previous_month("2026-01") == "2025-12"


def test_the_statement_month_is_the_period_month() -> None:
    window = month_window("2026-03", PARIS)
    assert (window.start_at, window.end_at) == (utc(2026, 2, 28, 23), utc(2026, 3, 31, 22))


@pytest.mark.parametrize("month", ["2026-3", "2026-13", "26-03", "2026-03-01", "march"])
def test_a_bad_month_names_the_fix(month: str) -> None:
    with pytest.raises(ValueError, match="write it as YYYY-MM"):
        parse_month(month)


def test_an_unknown_period_or_a_naive_instant_names_the_fix() -> None:
    with pytest.raises(ValueError, match="use one of month, week, day"):
        period_start("quarter", utc(2026, 1, 1), "UTC")
    with pytest.raises(ValueError, match="pass an aware datetime"):
        period_start("day", datetime(2026, 1, 1), "UTC")
