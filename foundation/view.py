"""The dashboard's URL state: what a pasted link reproduces, read leniently and written plainly.

Why here: the sidebar (pages) reads and writes it, and the alert emails (alerts) write links
to it; one reader and one writer mean an email's link opens exactly the slice it names.
A link is typed, pasted and truncated by people, so reading never raises: a bad value falls
back to its default and the rest of the link still applies.

Example:
    >>> state = ViewState(preset="custom", first=date(2026, 11, 1), last=date(2026, 11, 30),
    ...                   timezone="Europe/Paris", projects=("search",))
    >>> dashboard_url("http://localhost:8501/", "spend", state)
    'http://localhost:8501/spend?range=custom&from=2026-11-01&to=2026-11-30&tz=Europe%2FParis&project=search'
    >>> ViewState.from_query({"range": "7d", "tz": "Mars/Olympus"})
    ViewState(preset='7d', first=None, last=None, timezone=None, projects=(), models=(), api_keys=(), sources=())
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from urllib.parse import urlencode
from zoneinfo import available_timezones

PRESETS = ("today", "7d", "30d", "mtd", "last_month", "custom")
DEFAULT_PRESET = "30d"
DIMENSIONS = {"project": "projects", "model": "models", "key": "api_keys", "source": "sources"}
"""URL parameter -> ViewState field (and Filters field) of each dimension filter."""
MAX_VALUES = 500
"""Values kept per dimension (the sidebar offers at most this many choices)."""
MAX_CHARS = 1_000
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)

Query = Mapping[str, str | Iterable[str]]
"""A parsed query string: one value or several per name (`st.query_params`, `parse_qs`)."""


@dataclass(frozen=True, kw_only=True)
class ViewState:
    """The sidebar's choices: date range preset (custom: `first`..`last`), time zone, dimension filters.

    `timezone=None` means the config's zone; empty tuples mean "all".
    """

    preset: str = DEFAULT_PRESET
    first: date | None = None
    last: date | None = None
    timezone: str | None = None
    projects: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    api_keys: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    @classmethod
    def from_query(cls, query: Query) -> ViewState:
        """The state a link names; anything unreadable is left at its default, never an error."""
        preset = _one(query, "range")
        return cls(
            preset=preset if preset in PRESETS else DEFAULT_PRESET,
            first=_day(_one(query, "from")),
            last=_day(_one(query, "to")),
            timezone=_zone(_one(query, "tz")),
            **{field: _values(query, param) for param, field in DIMENSIONS.items()},
        )

    def to_query(self) -> dict[str, list[str]]:
        """Parameters for a link, defaults left out so the plain URL stays plain (repeats for several values)."""
        out: dict[str, list[str]] = {}
        if self.preset != DEFAULT_PRESET:
            out["range"] = [self.preset]
        if self.first is not None:
            out["from"] = [self.first.isoformat()]
        if self.last is not None:
            out["to"] = [self.last.isoformat()]
        if self.timezone is not None:
            out["tz"] = [self.timezone]
        for param, field in DIMENSIONS.items():
            if values := getattr(self, field):
                out[param] = list(values)
        return out

    def query_string(self) -> str:
        """`range=7d&project=a&project=b`: what follows the `?` of a link."""
        return urlencode([(name, value) for name, values in self.to_query().items() for value in values])


def dashboard_url(base: str, page: str, state: ViewState) -> str:
    """`<base>/<page>?<state>`: a page of the dashboard showing `state`."""
    query = state.query_string()
    return f"{base.rstrip('/')}/{page}" + (f"?{query}" if query else "")


def _all(query: Query, name: str) -> list[str]:
    found = query.get(name)
    if found is None:
        return []
    return [found] if isinstance(found, str) else [v for v in found if isinstance(v, str)]


def _one(query: Query, name: str) -> str | None:
    values = _all(query, name)
    return values[-1] if values else None


def _clean(text: str) -> bool:
    return 0 < len(text) <= MAX_CHARS and not any(unicodedata.category(c) == "Cc" for c in text)


def _values(query: Query, name: str) -> tuple[str, ...]:
    kept = dict.fromkeys(v for v in _all(query, name) if _clean(v))
    return tuple(kept)[:MAX_VALUES]


def _day(text: str | None) -> date | None:
    if not text or len(text) > 10:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if FIRST_DAY <= day <= LAST_DAY else None


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones() | {"UTC"})


def _zone(text: str | None) -> str | None:
    return text if text and len(text) <= 64 and text in _zones() else None


__all__ = ["DEFAULT_PRESET", "DIMENSIONS", "PRESETS", "ViewState", "dashboard_url"]
