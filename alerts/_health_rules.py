"""Organisation-wide rules: error rate, 429 rate, and spend far above its usual level.

Why a minimum request count: three failures out of five requests at 3 a.m. are 60% but not
an incident. Below `min_requests` the rule reports "not enough data" and the stored state
stands, so an incident neither fires nor resolves on a trickle.

Rates use the dashboard's definitions (`ledger.queries`): error rate = status >= 400 over
per-request rows (429s included), 429 rate = status 429 over the same rows.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from foundation.money import email_money
from ledger.queries import Filters, breakdown, spend_summary
from ledger.queries.budgets import usual_spend

from ._observation import Contributor, Observation, dashboard_link, pct
from ._rule import Rule

ORG = "the organisation"
MIN_SAMPLES = {"hour": 3, "day": 2}


class HealthRules(Rule):
    def observe(self, now: datetime) -> list[Observation]:
        out: list[Observation] = []
        window = Filters(start=now - timedelta(minutes=self.settings.window_minutes), end=now, timezone=self.timezone)
        for rule in ("error_rate", "rate_429"):
            if self.settings.enabled(rule):
                out.append(self.rate(rule, window))
        if self.settings.enabled("anomaly"):
            out.extend(self.anomaly(grain, now) for grain in ("hour", "day"))
        return out

    def rate(self, rule: str, window: Filters) -> Observation:
        summary = spend_summary(self.data_dir, window)
        limit = self.settings.error_rate_pct if rule == "error_rate" else self.settings.rate_429_pct
        count = summary.errors if rule == "error_rate" else summary.rate_limited
        n = summary.measured_requests
        value = 100 * count / n if n else 0.0
        level = None if n < self.settings.min_requests else (1.0 if value > limit else 0.0)
        label = "error rate" if rule == "error_rate" else "429 rate"
        minutes = self.settings.window_minutes
        figures = (
            (label.capitalize(), f"{pct(value)} ({count:,} of {n:,} requests) over the last {minutes} min"),
            ("Alert above", f"{pct(limit)} with at least {self.settings.min_requests:,} requests"),
        )
        measure = "errors" if rule == "error_rate" else "rate_429"
        return Observation(
            key=f"{rule}:org",
            rule=rule,
            scope=ORG,
            level=level,
            resolvable=True,
            subject=f"[Mistral reliability] {label} {pct(value)} over the last {minutes} min ({count:,} of {n:,})",
            recipients=self.settings.recipients,
            figures=figures,
            contributors=(("By model", self._top(window, measure)),),
            link=dashboard_link(self.dashboard_url, window, page="reliability"),
        )

    def _top(self, window: Filters, measure: str) -> tuple[Contributor, ...]:
        df = breakdown(self.data_dir, window, ["model"], measure=measure)
        return tuple(Contributor(str(r["model"]), float(r[measure])) for _, r in df.head(3).iterrows())

    def anomaly(self, grain: str, now: datetime) -> Observation:
        org = Filters(start=now - timedelta(hours=1), end=now, timezone=self.timezone)
        usual = usual_spend(self.data_dir, org, now, grain)
        factor = self.settings.anomaly_factor
        firing = usual.current >= self.settings.anomaly_min_spend and usual.current > factor * usual.baseline
        level = None if usual.samples < MIN_SAMPLES[grain] else (1.0 if firing else 0.0)
        slot = f"{usual.slot_start:%H:%M}" if grain == "hour" else f"{usual.slot_start:%A %Y-%m-%d}"
        same = "the same hour on the last 7 days" if grain == "hour" else "the same weekday of the last 4 weeks"
        usual_text = email_money(round(usual.baseline, 2), self.currency)
        ratio = f"usually {usual_text}"
        if usual.baseline:
            ratio = f"{usual.current / usual.baseline:.1f}x the usual {usual_text}"
        cur, minimum = self.currency, self.settings.anomaly_min_spend
        figures = (
            (f"Spend this {grain} so far", f"{email_money(round(usual.current, 2), cur)} ({slot})"),
            ("Usual", f"{email_money(round(usual.baseline, 2), cur)}, the median of {same} ({usual.samples} samples)"),
            ("Alert when", f"above {factor:g}x the usual and at least {email_money(minimum, cur)}"),
        )
        slot_end = usual.slot_start + (timedelta(hours=1) if grain == "hour" else timedelta(days=1))
        return Observation(
            key=f"anomaly_{grain}:org",
            rule=f"anomaly_{grain}",
            scope=ORG,
            level=level,
            resolvable=True,
            subject=(
                f"[Mistral spend] {'unusual' if level else 'back to usual'} spend: "
                f"{email_money(round(usual.current, 2), cur)} this {grain} ({slot}), {ratio}"
            ),
            recipients=self.settings.recipients,
            figures=figures,
            link=dashboard_link(self.dashboard_url, org.with_window(usual.slot_start, slot_end)),
        )
