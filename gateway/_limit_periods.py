"""A limit's current period (day, ISO week, month) in its time zone, cached until it ends.

The boundaries and ids are foundation.periods', as the budgets' are (alerts/_periods.py), so a
limit and a budget of the same period agree: local midnights, ids `2026-03-29`, `2026-W13`, `2026-03`.
The cache keeps the request path to one comparison per limit.

Example:
    >>> PeriodCache("UTC").of(Limit(name="x", period="day", amount=1.0), 0.0).id
    '1970-01-01'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from foundation.limit_rules import Limit
from foundation.periods import next_period_start, period_key, period_start


@dataclass(frozen=True, kw_only=True)
class LimitPeriod:
    id: str
    start: float
    end: float
    end_label: str
    """The reset instant as local ISO time with its offset, e.g. 2026-03-30T00:00:00+02:00."""


def minute_of(now: float) -> int:
    return int(now // 60)


def period_at(kind: str, now: float, zone: str) -> LimitPeriod:
    tz = ZoneInfo(zone)
    instant = datetime.fromtimestamp(now, tz)
    start, end = period_start(kind, instant, tz), next_period_start(kind, instant, tz)
    return LimitPeriod(
        id=period_key(kind, instant, tz), start=start.timestamp(), end=end.timestamp(), end_label=end.isoformat()
    )


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
