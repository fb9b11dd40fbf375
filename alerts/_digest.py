"""The optional daily or weekly digest: spend, change, budget status and reliability.

Why it goes through the same outbox and state file as alerts: a digest is due once per
period, after `digest_hour` local time on the first day of the next one; recording
"digest for 2026-11-20 queued" in the same atomic write as the queued emails makes it
exactly-once across restarts like any alert.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from foundation.money import amount, email_money, percent_change
from ledger.queries import Filters, spend_summary, top_contributors

from ._budget_rules import view_budget
from ._budgets import Budget
from ._observation import Contributor, Observation, dashboard_link, pct
from ._periods import Period, period_of
from ._settings import AlertSettings

KIND = {"daily": "day", "weekly": "week"}


def digest_due(settings: AlertSettings, now: datetime, timezone: str, sent: dict[str, str]) -> Period | None:
    """The finished period a digest is now due for, or None."""
    if settings.digest == "off" or not settings.digest_recipients:
        return None
    current = period_of(KIND[settings.digest], now, timezone)
    ready = current.start.replace(hour=settings.digest_hour)
    previous = current.previous()
    if now < ready or f"{settings.digest}:{previous.id}" in sent:
        return None
    return previous


def _change(now_spend: float, before: float) -> str:
    change = percent_change(now_spend, before, digits=0)
    if change is None:
        return "no spend in the period before"
    return f"{change} vs the period before ({amount(before)})"


def digest_observation(
    data_dir: Path,
    settings: AlertSettings,
    period: Period,
    budgets: list[Budget],
    timezone: str,
    currency: str,
    dashboard_url: str | None,
    now: datetime,
) -> Observation:
    """The digest's content as an Observation (so it is composed like an alert)."""
    filters = Filters(start=period.start, end=period.end, timezone=timezone)
    summary = spend_summary(data_dir, filters)
    before = spend_summary(data_dir, filters.with_window(period.previous().start, period.start)).spend
    figures = [
        ("Period", f"{period.id} ({period.label()}, {timezone})"),
        ("Spend", email_money(round(summary.spend, 2), currency)),
        ("Change", _change(summary.spend, before)),
        ("Requests", f"{summary.requests:,}"),
        ("Error rate", pct(100 * (summary.error_rate or 0.0))),
        ("429 rate", pct(100 * (summary.rate_429 or 0.0))),
    ]
    for budget in budgets:
        view = view_budget(data_dir, budget, period_of(budget.period, now, timezone), timezone, currency, now)
        figures.append(
            (
                f"Budget {budget.name}",
                f"{pct(view.spent_pct)} of {budget.describe(currency)}, "
                f"forecast {email_money(round(view.forecast.forecast, 2), currency)}",
            )
        )
    tops = tuple(
        (
            title,
            tuple(
                Contributor(str(r[dim]), float(r["spend"]), None)
                for _, r in top_contributors(data_dir, filters, dim, 5).iterrows()
            ),
        )
        for title, dim in (("Top projects", "project"), ("Top models", "model"))
    )
    return Observation(
        key=f"digest:{settings.digest}:{period.id}",
        rule="digest",
        scope="the organisation",
        level=1.0,
        subject=f"[Mistral digest] {settings.digest} {period.id}: {email_money(round(summary.spend, 2), currency)} "
        f"({_change(summary.spend, before).split(' (')[0]})",
        recipients=settings.digest_recipients,
        figures=tuple(figures),
        contributors=tops,
        link=dashboard_link(dashboard_url, filters),
        expires=(period.end + timedelta(days=1)).isoformat(),
    )
