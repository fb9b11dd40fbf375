"""Budget periods: calendar months, ISO weeks and days, aligned in the configured time zone.

The boundaries are foundation.periods' (local midnights built from dates: the period
containing the spring DST change really is an hour shorter). Each period has a stable id
(`2026-03`, `2026-W13`, `2026-03-29`) that keys the alert state, so a new period starts clean.

Example:
    >>> from datetime import UTC
    >>> p = period_of("month", datetime(2026, 3, 15, tzinfo=UTC), "Europe/Paris")
    >>> p.id, p.hours
    ('2026-03', 743.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from foundation.periods import PERIODS, day_key, first_day, hours_between, local_day, local_midnight, next_first_day

__all__ = ["ADJECTIVE", "PERIODS", "Period", "period_of"]
ADJECTIVE = {"month": "monthly", "week": "weekly", "day": "daily"}


@dataclass(frozen=True, kw_only=True)
class Period:
    """A half-open window [start, end) of local time, with its id."""

    kind: str
    id: str
    start: datetime
    end: datetime

    @property
    def hours(self) -> float:
        return hours_between(self.start, self.end)

    def elapsed_share(self, now: datetime) -> float:
        """How much of the period lies before `now`, 0..1."""
        return max(0.0, hours_between(self.start, min(now, self.end)) / self.hours)

    def label(self) -> str:
        """'2026-03-01 to 2026-03-31' (the last day inclusive)."""
        last = (self.end - timedelta(seconds=1)).date()
        return f"{self.start:%Y-%m-%d} to {last:%Y-%m-%d}"

    def previous(self) -> Period:
        return period_of(self.kind, self.start - timedelta(seconds=1), str(self.start.tzinfo))


def period_of(kind: str, instant: datetime, timezone: str) -> Period:
    """The period of `kind` that contains `instant` (aware), in `timezone` (see foundation.periods)."""
    day = local_day(instant, timezone)
    start, end = local_midnight(first_day(kind, day), timezone), local_midnight(next_first_day(kind, day), timezone)
    return Period(kind=kind, id=day_key(kind, day), start=start, end=end)
