"""Billed against measured: alert when Mistral's bill and the ledger disagree this month.

Why per month and only with a bill: the Admin API bills by calendar month, and with no bill
for the month there is nothing to compare (level None keeps the stored state). The rule
fires when any model's gap passes `reconcile_gap_pct` (and `reconcile_min_gap` in money), a
model is billed but never seen (traffic that bypasses the gateway), or a model's bill cannot
be read; it resolves when the figures agree again. Its totals are those of the page
(`comparable_totals`): over the models whose gap is known, the others named apart.
"""

from __future__ import annotations

from datetime import UTC, datetime

from foundation.money import email_money
from foundation.periods import next_period_start, period_start
from ledger.billing import STATUS_WORDS, Reconciled, comparable_totals, gap_breaches, reconcile
from ledger.queries import Filters

from ._observation import Contributor, Observation, dashboard_link, pct
from ._rule import Rule

SCOPE = "the organisation"


def _month_bounds(now: datetime) -> tuple[datetime, datetime]:
    """The UTC month of `now`: bills are per UTC month."""
    return period_start("month", now, UTC), next_period_start("month", now, UTC)


def said(row: Reconciled) -> str:
    """A row's status in words, for an email: `billed, never seen`."""
    return STATUS_WORDS[row.status].lower()


class ReconcileRule(Rule):
    def observe(self, now: datetime) -> list[Observation]:
        if not self.settings.enabled("reconciliation"):
            return []
        start, end = _month_bounds(now)
        month = f"{start:%Y-%m}"
        rows = reconcile(self.data_dir, [month], self.currency)
        if all(r.status == "seen_not_billed" for r in rows):
            return []
        breaches = gap_breaches(rows, self.settings.reconcile_gap_pct, self.settings.reconcile_min_gap)
        return [self._observation(month, rows, breaches, Filters(start=start, end=end, timezone=self.timezone))]

    def _observation(
        self, month: str, rows: list[Reconciled], breaches: list[Reconciled], window: Filters
    ) -> Observation:
        totals = comparable_totals(rows)
        billed, measured, gap, cur = totals.billed, totals.measured, totals.gap, self.currency
        share = f" ({pct(abs(gap) / billed * 100)} of the bill)" if billed else ""
        state = "differ" if breaches else "agree again"
        figures = (
            (f"Billed for {month} so far", email_money(round(billed, 2), cur)),
            ("Measured by the ledger", email_money(round(measured, 2), cur)),
            ("Gap (billed - measured)", f"{email_money(round(gap, 2), cur)}{share}"),
            ("Totals cover", f"{totals.compared} models; {len(totals.left_out)} left out (listed below)"),
            (
                "Alert when a model's gap is above",
                f"{pct(self.settings.reconcile_gap_pct)} and "
                f"{email_money(self.settings.reconcile_min_gap, cur)}, or it is billed but never seen, "
                "or its bill cannot be read",
            ),
        )
        gaps = tuple(Contributor(f"{r.model} ({said(r)})", round(r.gap or 0.0, 2)) for r in breaches if r.comparable)
        apart = tuple(Contributor(f"{r.model} ({said(r)})", round(r.measured or 0.0, 2)) for r in totals.left_out)
        groups = (
            ("Models with a gap (billed - measured)", gaps[:5]),
            ("Left out of the totals, no gap known (measured)", apart[:5]),
        )
        return Observation(
            key=f"reconciliation:{month}",
            rule="reconciliation",
            scope=SCOPE,
            level=1.0 if breaches else 0.0,
            resolvable=True,
            subject=(
                f"[Mistral billing] bill and ledger {state} for {month}: "
                f"billed {email_money(round(billed, 2), cur)}, measured {email_money(round(measured, 2), cur)}"
            ),
            recipients=self.settings.recipients,
            figures=figures,
            contributors=tuple((title, people) for title, people in groups if people),
            link=dashboard_link(self.dashboard_url, window, page="reconciliation"),
            expires=window.end_at.isoformat(),
        )
