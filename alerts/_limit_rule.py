"""Soft spend limits: one email when a `hard = false` limit's period spend reaches its amount.

Why here and not in the gateway: a soft limit never refuses, so the gateway only adds a header,
a log line and a counter; the people who own the money learn of it from this rule, once per
limit per period (the key holds the period id, so the next period starts clean, and there is no
reminder or "resolved" email: the period's end resets it). Spend is the ledger's, through the
budgets' own query (`spend_summary` on the limit's scope in its time zone), so the email and the
Budgets page agree. Rate limits (`requests_per_minute`, `tokens_per_minute`) are not alerted: the
ledger cannot see per-minute warnings; they show as the gateway's header, log line and
`gateway_limit_warnings_total`.

Example:
    >>> from datetime import UTC
    >>> from pathlib import Path
    >>> from tests.builders import build_ledger
    >>> now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    >>> _ = build_ledger(Path("data"), n_records=2000, days=2, seed=7, end=now)
    >>> _ = Path("data/budgets.toml").write_text('''
    ... [[limits]]
    ... name = "search daily"
    ... project = "search"
    ... amount = 0.01
    ... hard = false
    ... ''')
    >>> from alerts._settings import AlertSettings
    >>> settings = AlertSettings(budgets_file=Path("data/budgets.toml"))
    >>> rule = LimitRule(data_dir=Path("data"), settings=settings, timezone="Europe/Paris", currency="EUR",
    ...                  dashboard_url=None)
    >>> rule.observe(now)[0].key
    'limits:search daily:2026-11-20'
"""

from __future__ import annotations

from datetime import datetime

from foundation.money import email_money
from ledger.queries import Filters, spend_summary
from ledger.queries.budgets import clip_to_now

from ._budgets import BudgetFileError, load_limits
from ._limits import Limit
from ._observation import Observation, dashboard_link
from ._periods import ADJECTIVE, Period
from ._rule import Rule

RULE = "limits"


class LimitRule(Rule):
    def observe(self, now: datetime) -> list[Observation]:
        """Each soft spend limit in its current period (and the previous one within `late_grace_minutes`)."""
        if not self.settings.enabled(RULE):
            return []
        try:
            limits, _ = load_limits(self.settings.budgets_file)
        except BudgetFileError:
            return []  # the engine already reports the broken file (load_budgets validates limits too)
        soft = [limit for limit in limits if not limit.hard and limit.amount is not None]
        return [
            self._observation(limit, period, now)
            for limit in soft
            for period in self.periods(limit.period, now, limit.timezone)
        ]

    def filters(self, limit: Limit, period: Period) -> Filters:
        """The ledger rows a limit covers: every scope it names (a key label stands for its fingerprints)."""

        def one(value: str | None) -> tuple[str, ...]:
            return (value,) if value is not None else ()

        return Filters(
            start=period.start,
            end=period.end,
            timezone=limit.timezone or self.timezone,
            projects=one(limit.project),
            models=one(limit.model),
            api_keys=tuple(sorted(limit.key_ids)),
        )

    def _observation(self, limit: Limit, period: Period, now: datetime) -> Observation:
        amount = float(limit.amount or 0)
        filters = self.filters(limit, period)
        so_far = clip_to_now(filters, now)
        spent = float(spend_summary(self.data_dir, so_far).spend or 0) if so_far else 0.0
        cur, zone = self.currency, limit.timezone or self.timezone
        described = f"{email_money(amount, cur)} {ADJECTIVE[period.kind]} soft limit"
        figures = (
            ("Limit", f"{limit.name}: {described} for {limit.scope_label()}"),
            ("Period", f"{period.id} ({period.label()}, {zone})"),
            ("Spent so far", email_money(round(spent, 2), cur)),
            ("What happens", "nothing is refused (hard = false): answers carry the X-Gateway-Limit-Warning header"),
        )
        return Observation(
            key=f"{RULE}:{limit.name}:{period.id}",
            rule=RULE,
            scope=limit.name,
            level=1.0 if spent >= amount else 0.0,
            resolvable=False,
            repeats=False,
            subject=f"[Mistral limits] {limit.name}: {email_money(round(spent, 2), cur)} spent reaches the {described}",
            recipients=self.settings.recipients,
            figures=figures,
            link=dashboard_link(self.dashboard_url, filters),
            expires=period.end.isoformat(),
        )
