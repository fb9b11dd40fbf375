"""Budget periods: calendar months, ISO weeks and days, aligned in the configured time zone.

Why local midnights built from dates (never `start + timedelta(days=n)` on an aware
datetime): the boundary of a period is a wall-clock fact ("1 March 00:00 in Paris"), and
the period containing the spring DST change really is an hour shorter. Each period has a
stable id (`2026-03`, `2026-W13`, `2026-03-29`) that keys the alert state, so a new
period starts clean.

Example:
    >>> p = period_of("month", datetime(2026, 3, 15, tzinfo=UTC), "Europe/Paris")
    >>> p.id, p.hours
    ('2026-03', 743.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

PERIODS = ("month", "week", "day")
ADJECTIVE = {"month": "monthly", "week": "weekly", "day": "daily"}


@dataclass(frozen=True)
class Period:
    """A half-open window [start, end) of local time, with its id."""

    kind: str
    id: str
    start: datetime
    end: datetime

    @property
    def hours(self) -> float:
        return (self.end.astimezone(UTC) - self.start.astimezone(UTC)).total_seconds() / 3600

    def elapsed_share(self, now: datetime) -> float:
        """How much of the period lies before `now`, 0..1."""
        done = (min(now, self.end).astimezone(UTC) - self.start.astimezone(UTC)).total_seconds() / 3600
        return max(0.0, done / self.hours)

    def label(self) -> str:
        """'2026-03-01 to 2026-03-31' (the last day inclusive)."""
        last = (self.end - timedelta(seconds=1)).date()
        return f"{self.start:%Y-%m-%d} to {last:%Y-%m-%d}"

    def previous(self) -> Period:
        return period_of(self.kind, self.start - timedelta(seconds=1), str(self.start.tzinfo))


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz)


def _first_days(kind: str, day: date) -> tuple[date, date, str]:
    """The first day of the period containing `day`, the first day after it, and its id."""
    if kind == "day":
        return day, day + timedelta(days=1), day.isoformat()
    if kind == "week":
        monday = day - timedelta(days=day.weekday())
        year, week, _ = monday.isocalendar()
        return monday, monday + timedelta(days=7), f"{year}-W{week:02d}"
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following, f"{first.year}-{first.month:02d}"


def period_of(kind: str, instant: datetime, timezone: str) -> Period:
    """The period of `kind` that contains `instant` (aware), in `timezone`."""
    if kind not in PERIODS:
        raise ValueError(f"period {kind!r} is not supported; use one of {', '.join(PERIODS)}")
    tz = ZoneInfo(timezone)
    first, following, ident = _first_days(kind, instant.astimezone(tz).date())
    return Period(kind, ident, _midnight(first, tz), _midnight(following, tz))
