"""A limit's current period (day, ISO week, month) in its time zone, cached until it ends.

Why local midnights from dates, as `alerts/_periods.py` does (not imported: the gateway keeps
off the alerts stack): a period boundary is a wall-clock fact, and the ids (`2026-03-29`,
`2026-W13`, `2026-03`) match the budgets' so a limit and a budget of the same period agree.
The cache keeps the request path to one comparison per limit.

Example:
    >>> PeriodCache("UTC").of(Limit("x", period="day", amount=1.0), 0.0).id
    '1970-01-01'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ._limit_rules import Limit


@dataclass(frozen=True)
class LimitPeriod:
    id: str
    start: float
    end: float
    end_label: str
    """The reset instant as local ISO time with its offset, e.g. 2026-03-30T00:00:00+02:00."""


def minute_of(now: float) -> int:
    return int(now // 60)


def _bounds(kind: str, day: date) -> tuple[date, date, str]:
    if kind == "day":
        return day, day + timedelta(days=1), day.isoformat()
    if kind == "week":
        monday = day - timedelta(days=day.weekday())
        year, week, _ = monday.isocalendar()
        return monday, monday + timedelta(days=7), f"{year}-W{week:02d}"
    first = day.replace(day=1)
    return first, (first + timedelta(days=32)).replace(day=1), f"{first.year}-{first.month:02d}"


def period_at(kind: str, now: float, zone: str) -> LimitPeriod:
    tz = ZoneInfo(zone)
    first, following, ident = _bounds(kind, datetime.fromtimestamp(now, tz).date())
    start, end = datetime.combine(first, time(), tzinfo=tz), datetime.combine(following, time(), tzinfo=tz)
    return LimitPeriod(ident, start.timestamp(), end.timestamp(), end.isoformat())


class PeriodCache:
    def __init__(self, default_zone: str) -> None:
        self.default_zone = default_zone
        self.cache: dict[tuple[str, str], LimitPeriod] = {}

    def of(self, limit: Limit, now: float) -> LimitPeriod:
        key = (limit.period, limit.timezone or self.default_zone)
        found = self.cache.get(key)
        if found is None or not found.start <= now < found.end:
            found = self.cache[key] = period_at(key[0], now, key[1])
        return found
