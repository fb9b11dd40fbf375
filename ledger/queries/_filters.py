"""The `Filters` value object: which slice of the ledger a question is about.

Why one object: the dashboard sidebar, the URL, the alerts engine and the benchmark all
describe a slice the same way (a half-open time window in a time zone plus dimension
filters), and the data functions turn it into partition pruning and a SQL WHERE clause.

Example:
    >>> f = Filters.for_dates(date(2026, 11, 1), date(2026, 11, 30), "Europe/Paris", models=("mistral-large-latest",))
    >>> f.previous().start
    datetime.datetime(2026, 10, 2, 0, 0, tzinfo=zoneinfo.ZoneInfo(key='Europe/Paris'))
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DIMENSIONS: dict[str, str] = {
    "model": "model",
    "project": "coalesce(project, '(no project)')",
    "api_key": "coalesce(api_key_id, '(no key recorded)')",
    "endpoint": "coalesce(endpoint, '(unknown)')",
    "source": "source",
    "priced_model": "coalesce(priced_model, '(unpriced)')",
    "status_class": "(status_code // 100)::VARCHAR || 'xx'",
    "status_code": "status_code::VARCHAR",
    "error_type": "coalesce(error_type, '(none)')",
}
"""Dimension name -> SQL expression over a ledger row. Nulls get a label that says why
(usage-API rows, for instance, carry no key)."""

GRAINS = ("hour", "day", "week", "month")


def zone(name: str) -> ZoneInfo:
    """A ZoneInfo, or ValueError naming the bad time zone and the fix."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"time zone {name!r} is unknown; use an IANA name like 'Europe/Paris'") from None


def check_choice(kind: str, value: str, allowed: tuple[str, ...] | list[str]) -> str:
    """Return `value` if allowed, else a ValueError listing the choices."""
    if value not in allowed:
        raise ValueError(f"{kind} {value!r} is not supported; use one of {', '.join(allowed)}")
    return value


def _as_instant(value: datetime | date, tz: ZoneInfo, end: bool) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"Filters: {value.isoformat()} has no time zone; pass a tz-aware datetime or a date")
        return value
    day = value + timedelta(days=1) if end else value
    return datetime.combine(day, time(), tzinfo=tz)


HOURLY_UP_TO_DAYS = 2
"""Windows this many days long or shorter are charted per hour by default, longer ones per day."""


@dataclass(frozen=True, kw_only=True)
class Filters:
    """A half-open window [start, end) plus dimension filters (an empty tuple = all).

    `scope` (None = unrestricted) is the projects a signed-in user may see: `projects` is
    narrowed to it (all of it when no project is picked), and a pick outside it matches no
    row (`denies_all`). Every query, export and the SQL box read rows through these fields.

    `start`/`end` may be given as tz-aware datetimes or as dates in `timezone`; a date `end`
    is inclusive (the whole day), so `Filters(date(2026,11,1), date(2026,11,30))` is November.
    After construction both are tz-aware datetimes.
    """

    start: datetime | date
    end: datetime | date
    timezone: str = "UTC"
    projects: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    api_keys: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    scope: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        tz = zone(self.timezone)
        start, end = _as_instant(self.start, tz, end=False), _as_instant(self.end, tz, end=True)
        if end <= start:
            raise ValueError(f"Filters: end {end.isoformat()} is not after start {start.isoformat()}; swap them")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        for name in ("projects", "models", "api_keys", "sources"):
            object.__setattr__(self, name, tuple(sorted(set(getattr(self, name)))))
        if self.scope is not None:
            scope = tuple(sorted(set(self.scope)))
            narrowed = tuple(p for p in self.projects if p in scope) if self.projects else scope
            object.__setattr__(self, "scope", scope)
            # picks all outside the scope stay as they are (`denies_all`): narrowed to nothing, they would
            # read as "no pick", the whole scope, in the next window (`previous`, `with_window`)
            object.__setattr__(self, "projects", narrowed or self.projects)

    @property
    def denies_all(self) -> bool:
        """True when the scope leaves no project to show (the WHERE clause is then FALSE)."""
        return self.scope is not None and not set(self.projects) & set(self.scope)

    @classmethod
    def for_dates(cls, first: date, last: date, timezone: str = "UTC", **dims: tuple[str, ...] | None) -> Filters:
        """The whole local days first..last (inclusive); `dims` may include `scope`."""
        return cls(start=first, end=last, timezone=timezone, **dims)  # type: ignore[arg-type]

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.timezone)

    @property
    def start_at(self) -> datetime:
        assert isinstance(self.start, datetime)
        return self.start

    @property
    def end_at(self) -> datetime:
        assert isinstance(self.end, datetime)
        return self.end

    @property
    def days(self) -> int:
        """Whole days the window spans (a day-to-day window is 1; DST days still count as one)."""
        return (self.end_at - self.start_at).days

    @property
    def default_grain(self) -> str:
        """The time bucket a chart starts with: hours up to two days, days beyond (every page alike)."""
        return "hour" if self.days <= HOURLY_UP_TO_DAYS else "day"

    def utc_days(self) -> tuple[date, date]:
        """The UTC date partitions the window touches (inclusive): what must be read."""
        last = self.end_at.astimezone(UTC) - timedelta(microseconds=1)
        return self.start_at.astimezone(UTC).date(), last.date()

    def previous(self) -> Filters:
        """The equal-length window just before this one, same dimension filters."""
        length = self.end_at - self.start_at
        return replace(self, start=self.start_at - length, end=self.start_at)

    def with_window(self, start: datetime | date, end: datetime | date) -> Filters:
        """The same dimension filters over another window."""
        return replace(self, start=start, end=end)

    def unfiltered(self) -> Filters:
        """The same window with no dimension filters (the scope stays: it is not a filter)."""
        return replace(self, projects=(), models=(), api_keys=(), sources=())

    def dimension_filters(self) -> dict[str, tuple[str, ...]]:
        """Dimension name (a DIMENSIONS key) -> accepted values, only the non-empty ones."""
        pairs = {"project": self.projects, "model": self.models, "api_key": self.api_keys, "source": self.sources}
        return {k: v for k, v in pairs.items() if v}
