"""Calendar periods (day, ISO week, month) in a time zone: the one place their boundaries are computed.

Why local midnights built from dates (never `start + timedelta(days=n)` on an aware
datetime): a period boundary is a wall-clock fact ("1 March 00:00 in Paris"), and the period
holding the spring DST change really is an hour shorter. A midnight that a DST change skips
(America/Santiago in September) becomes the first instant of that day. Budgets, gateway limits,
statements, forecasts and reconciliation all take their periods from here, so a budget and a
limit of the same month agree to the microsecond, and keys (`2026-03`, `2026-W13`,
`2026-03-29`) match everywhere.

Example:
    >>> start = period_start("month", datetime(2026, 3, 15, tzinfo=UTC), "Europe/Paris")
    >>> start.isoformat(), period_key("month", start, "Europe/Paris"), days_in_period("month", start.date())
    ('2026-03-01T00:00:00+01:00', '2026-03', 31)
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

PERIODS = ("month", "week", "day")


def _zone(timezone: str | tzinfo) -> tzinfo:
    return ZoneInfo(timezone) if isinstance(timezone, str) else timezone


def _check(kind: str) -> str:
    if kind not in PERIODS:
        raise ValueError(f"period {kind!r} is not supported; use one of {', '.join(PERIODS)}")
    return kind


def first_day(kind: str, day: date) -> date:
    """The first day of the period of `kind` that holds `day` (a Monday for weeks, the 1st for months)."""
    if _check(kind) == "day":
        return day
    if kind == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def next_first_day(kind: str, day: date) -> date:
    """The first day of the period after the one that holds `day`."""
    first = first_day(kind, day)
    if kind == "day":
        return first + timedelta(days=1)
    if kind == "week":
        return first + timedelta(days=7)
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def day_key(kind: str, day: date) -> str:
    """The period's key: `2026-03-29`, `2026-W13` (ISO week) or `2026-03`."""
    first = first_day(kind, day)
    if kind == "day":
        return first.isoformat()
    if kind == "week":
        year, week, _ = first.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{first.year:04d}-{first.month:02d}"


def days_in_period(kind: str, day: date) -> int:
    """Calendar days in the period that holds `day` (28..31 for a month)."""
    return (next_first_day(kind, day) - first_day(kind, day)).days


def local_midnight(day: date, timezone: str | tzinfo) -> datetime:
    """The first instant of `day` in the zone (aware), as a wall time that exists.

    Why the round trip through UTC: where DST skips midnight, `00:00` does not exist, and
    Python compares such a datetime unequal to every instant of another zone (PEP 495).
    """
    zone = _zone(timezone)
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC).astimezone(zone)


def local_day(instant: datetime, timezone: str | tzinfo) -> date:
    """The calendar day `instant` (aware) falls on in the zone."""
    if instant.tzinfo is None:
        raise ValueError(f"{instant.isoformat()} has no time zone; pass an aware datetime")
    return instant.astimezone(_zone(timezone)).date()


def period_start(kind: str, instant: datetime, timezone: str | tzinfo) -> datetime:
    """The first instant of the period of `kind` that holds `instant` (aware), in the zone."""
    return local_midnight(first_day(kind, local_day(instant, timezone)), timezone)


def next_period_start(kind: str, instant: datetime, timezone: str | tzinfo) -> datetime:
    """The first instant after the period of `kind` that holds `instant`: where it ends (exclusive)."""
    return local_midnight(next_first_day(kind, local_day(instant, timezone)), timezone)


def period_key(kind: str, instant: datetime, timezone: str | tzinfo) -> str:
    """The key of the period of `kind` that holds `instant`, in the zone."""
    return day_key(kind, local_day(instant, timezone))


def month_key(day: date) -> str:
    """`YYYY-MM` of a date."""
    return day_key("month", day)


def parse_month(month: str) -> date:
    """The first day of a `YYYY-MM` month; ValueError naming the fix."""
    try:
        year, number = month.split("-")
        if len(year) != 4 or len(number) != 2 or not (year + number).isdigit():
            raise ValueError
        return date(int(year), int(number), 1)
    except ValueError:
        raise ValueError(f"month {month!r}: write it as YYYY-MM, e.g. 2026-05") from None


def month_days(month: str) -> tuple[date, date]:
    """The first and the last day of a `YYYY-MM` month."""
    first = parse_month(month)
    return first, next_first_day("month", first) - timedelta(days=1)


def previous_month(month: str) -> str:
    """The `YYYY-MM` before `month`."""
    return month_key(parse_month(month) - timedelta(days=1))


def hours_between(start: datetime, end: datetime) -> float:
    """Elapsed hours between two aware instants, DST-correct (aware subtraction in one zone is not)."""
    return (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() / 3600
