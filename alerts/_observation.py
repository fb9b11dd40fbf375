"""What a rule reports each run: one Observation per (rule, scope, period) key.

Why a level instead of a boolean: a budget crosses 50%, then 80%, then 100% in one period,
and each first crossing is worth exactly one email; a higher level than the one stored is
news, the same or a lower one is not. `level=None` means "not enough data to judge": the
stored state is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time, timedelta

from foundation.view import ViewState, dashboard_url
from ledger.queries import Filters


@dataclass(frozen=True)
class Contributor:
    name: str
    value: float
    share: float | None = None


@dataclass(frozen=True, kw_only=True)
class Observation:
    """A rule's verdict on one key, with everything an email about it needs."""

    key: str
    rule: str
    scope: str
    level: float | None
    subject: str
    resolvable: bool = False
    recipients: tuple[str, ...] = ()
    figures: tuple[tuple[str, str], ...] = ()
    contributors: tuple[tuple[str, tuple[Contributor, ...]], ...] = field(default=())
    link: str | None = None
    expires: str | None = None
    """ISO instant after which the key's state may be forgotten (the end of its period)."""
    channels: tuple[str, ...] | None = None
    """Chat/webhook channels by name (a budget's own); None = the rule's `[alerts.rule_channels]`."""
    repeats: bool = True
    """False: never a reminder (`repeat_hours`), whatever the settings (an unpriced model)."""


def dashboard_link(base: str | None, filters: Filters, page: str = "spend") -> str | None:
    """The dashboard page with the slice in its query string, as the sidebar reads it.

    e.g. `http://localhost:8501/spend?range=custom&from=2026-11-01&to=2026-11-30&tz=Europe%2FParis&project=search`
    """
    if not base:
        return None
    return dashboard_url(base, page, view_of(filters))


def view_of(filters: Filters) -> ViewState:
    """The sidebar state showing `filters`: its whole local days, its zone, its project/model/key filters."""
    end = filters.end_at.astimezone(filters.tz)
    last = end.date() - timedelta(days=1) if end.time() == time() else end.date()
    first = filters.start_at.astimezone(filters.tz).date()
    return ViewState(
        preset="custom",
        first=first,
        last=last,
        timezone=filters.timezone,
        projects=filters.projects,
        models=filters.models,
        api_keys=filters.api_keys,
    )


def pct(value: float) -> str:
    return f"{value:.0f}%" if value >= 10 else f"{value:.1f}%"
