"""Budget rules: a threshold crossed, and a forecast above the budget before the period ends.

Why the previous period is checked for a while after it ends: records arrive late (the
collector polls every minute, provider usage APIs lag by hours). A crossing at 23:58 on the
31st whose records land at 00:02 on the 1st still deserves its email; `late_grace_minutes`
keeps the old period under watch (thresholds only: a forecast for a closed period is moot).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from foundation.money import email_money
from ledger.queries import top_contributors
from ledger.queries.budgets import PeriodForecast, clip_to_now, period_forecast

from ._budgets import Budget
from ._limits import key_labels, label_for
from ._observation import Contributor, Observation, dashboard_link, pct
from ._periods import Period
from ._rule import Rule
from ._settings import AlertSettings

MIN_BASIS_DAYS = 3
"""A forecast needs run rates learned from at least this many full days of history."""


@dataclass(frozen=True, kw_only=True)
class BudgetView:
    """Where the engine and the page read a budget's figures for one period."""

    budget: Budget
    period: Period
    forecast: PeriodForecast
    currency: str

    @property
    def spent_pct(self) -> float:
        return 100 * self.forecast.spent / self.budget.amount

    @property
    def crossed(self) -> float:
        """The highest threshold reached (0 when none)."""
        return max((t for t in self.budget.thresholds if self.spent_pct >= t), default=0.0)

    def headline(self) -> str:
        """e.g. 'project search at 82% of EUR 500 monthly budget, forecast EUR 640'."""
        text = f"{self.budget.scope_label()} at {pct(self.spent_pct)} of {self.budget.describe(self.currency)}"
        return f"{text}, forecast {email_money(round(self.forecast.forecast, 2), self.currency)}"


def view_budget(
    data_dir: Path, budget: Budget, period: Period, timezone: str, currency: str, now: datetime
) -> BudgetView:
    filters = budget.filters(period, timezone)
    forecast = period_forecast(data_dir, filters, now, monthly=period.kind == "month")
    return BudgetView(budget=budget, period=period, forecast=forecast, currency=currency)


def forecast_is_meaningful(view: BudgetView, settings: AlertSettings) -> bool:
    """Enough of the period has passed, and the run rates come from enough days of history."""
    fc = view.forecast
    return 100 * fc.elapsed_share >= settings.forecast_min_elapsed_pct and fc.basis_days >= MIN_BASIS_DAYS


class BudgetRules(Rule):
    """Evaluate every budget for the current period (and the previous one within the grace)."""

    def observe(self, budgets: list[Budget], now: datetime) -> list[Observation]:
        out: list[Observation] = []
        labels = key_labels(self.settings.budgets_file) if budgets else {}
        for budget in budgets:
            for period in self.periods(budget.period, now):
                view = view_budget(self.data_dir, budget, period, self.timezone, self.currency, now)
                common = self._common(view, now, labels)
                if self.settings.enabled("threshold"):
                    out.append(self.threshold(view, common))
                if self.settings.enabled("forecast") and budget.forecast and period.end > now:
                    out.append(self.forecast(view, common))
        return out

    def _common(self, view: BudgetView, now: datetime, labels: dict[str, str]) -> dict[str, Any]:
        filters = view.budget.filters(view.period, self.timezone)
        so_far = clip_to_now(filters, now) or filters
        fc, cur = view.forecast, self.currency
        crossing = fc.crossing(view.budget.amount)
        projected = f"{crossing.astimezone(view.period.start.tzinfo):%Y-%m-%d %H:%M}" if crossing else None
        if fc.spent >= view.budget.amount:
            projected = "already reached"
        figures = (
            ("Budget", f"{view.budget.describe(cur)} for {view.budget.scope_label()}"),
            ("Period", f"{view.period.id} ({view.period.label()}, {self.timezone})"),
            ("Spent so far", f"{email_money(round(fc.spent, 2), cur)} ({pct(view.spent_pct)})"),
            ("Forecast for the period", email_money(round(fc.forecast, 2), cur)),
            ("Projected to reach 100%", projected or "not within the period"),
        )
        contributors = tuple(
            (
                title,
                tuple(
                    Contributor(
                        str(label_for(r[dim], labels) if dim == "api_key" else r[dim]),
                        float(r["spend"]),
                        _share(r["share"]),
                    )
                    for _, r in top_contributors(self.data_dir, so_far, dim, 3).iterrows()
                    if r["spend"] > 0
                ),
            )
            for title, dim in (("Top models", "model"), ("Top API keys", "api_key"))
        )
        return {
            "scope": view.budget.scope_label(),
            "recipients": view.budget.recipients,
            "channels": view.budget.channels,
            "figures": figures,
            "contributors": contributors,
            "link": dashboard_link(self.dashboard_url, filters),
            "expires": view.period.end.isoformat(),
        }

    def threshold(self, view: BudgetView, common: dict[str, Any]) -> Observation:
        return Observation(
            key=f"threshold:{view.budget.slug}:{view.period.id}",
            rule="threshold",
            level=view.crossed,
            subject=f"[Mistral spend] {view.headline()}",
            **common,
        )

    def forecast(self, view: BudgetView, common: dict[str, Any]) -> Observation:
        fc = view.forecast
        over = fc.forecast > view.budget.amount and fc.spent < view.budget.amount
        level = (1.0 if over else 0.0) if forecast_is_meaningful(view, self.settings) else None
        subject = (
            f"[Mistral spend] forecast {email_money(round(fc.forecast, 2), self.currency)} exceeds "
            f"{view.budget.describe(self.currency)} for {view.budget.scope_label()} "
            f"({pct(view.spent_pct)} used)"
        )
        return Observation(
            key=f"forecast:{view.budget.slug}:{view.period.id}", rule="forecast", level=level, subject=subject, **common
        )


def _share(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if number != number else number
