"""Spend anomalies per project, API key and model: the last hour (and day) against its own usual.

Why per scope: a key going from 0.03 to 4 an hour is invisible next to 50 an hour of steady
traffic in the organisation's total. Each scope is compared with the same window of the week
in the last 4 weeks (`ledger.queries.anomaly.scope_usage`), with a robust band: the median,
plus `sensitivity` robust deviations (1.4826 x the median absolute deviation, and at least a
share of the median, since 4 samples can agree by chance; for request counts at least their
Poisson noise). A scope fires when it spent at least the floor and its requests leave their
band, or its spend leaves its band with enough requests behind it (a single large request is
not a pattern); a new key (no traffic in any earlier window) is judged against its project's
band. One email per episode: the key `anomaly_hour:api_key:<id>` fires once and resolves when
the scope is back within its band.

Only scopes that fire, or whose stored state is firing, are reported each run, so the state
file does not grow with the number of keys.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from foundation.money import email_money
from ledger.queries import Filters, top_contributors
from ledger.queries.anomaly import GRAIN_HOURS, ScopeUsage, onset, scope_filters, scope_usage

from ._anomaly_settings import AnomalyFileError, AnomalySettings, load_anomaly
from ._limits import key_labels, label_for
from ._observation import Contributor, Observation, dashboard_link
from ._rule import Rule
from ._state import StateStore

MIN_WEEKS = 2
"""Earlier weeks a scope needs before it is judged (a young ledger has fewer)."""
MIN_SHARE = {"spend": 1.0, "requests": 0.2}
"""The band's deviation is at least this share of the usual: 4 weekly samples can sit close
together by chance, and spend is heavy-tailed (one long prompt or OCR document)."""
MAD_SIGMA = 1.4826
"""MAD x this estimates a standard deviation for normal data."""
SPEND_ONLY_REQUESTS = 30
SPEND_ONLY_FLOORS = 10
"""A spend jump with requests inside their band fires only when carried by at least this many
requests, or when it exceeds the usual by this many floors: below that it is one or two
large requests, not a pattern (measured on the simulator's traffic: tests/anomaly)."""
GRAINS = ("hour", "day")
_WINDOW = {"hour": "the last hour", "day": "the last 24 hours"}
_DIM_LABEL = {"project": "project", "api_key": "API key", "model": "model"}


@dataclass(frozen=True)
class Band:
    """The usual value (median of the samples) and the top of the band around it."""

    usual: float
    upper: float


def band(samples: Sequence[float], sensitivity: float, min_share: float, counts: bool = False) -> Band:
    """median + sensitivity x max(1.4826 x MAD, min_share x median[, sqrt(median + 1) for counts])."""
    usual = statistics.median(samples)
    mad = statistics.median(abs(v - usual) for v in samples)
    poisson = math.sqrt(usual + 1) if counts else 0.0
    return Band(usual, usual + sensitivity * max(MAD_SIGMA * mad, min_share * usual, poisson))


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """`level` 1 firing, 0 within the band, None not enough history; `basis` names a borrowed baseline."""

    level: float | None
    spend: Band | None = None
    requests: Band | None = None
    basis: str | None = None


def judge(usage: ScopeUsage, project: ScopeUsage | None, settings: AnomalySettings, grain: str) -> Verdict:
    """The verdict on one scope; a new API key is judged against its project's usual.

    Fires when the spend reaches the floor and either the requests leave their band (a retry
    loop, a leaked key) or the spend leaves its band with enough requests behind it.
    """
    basis, past = None, usage
    if usage.dim == "api_key" and not usage.has_history and project is not None:
        basis, past = f"project {project.value}", project
    if len(past.past_spend) < MIN_WEEKS:
        return Verdict(level=None)
    floor = settings.floor * GRAIN_HOURS[grain]
    spend = band(past.past_spend, settings.sensitivity, MIN_SHARE["spend"])
    requests = band(past.past_requests, settings.sensitivity, MIN_SHARE["requests"], counts=True)
    broad = usage.requests >= SPEND_ONLY_REQUESTS or usage.spend - spend.usual >= SPEND_ONLY_FLOORS * floor
    above = usage.requests > requests.upper or (usage.spend > spend.upper and broad)
    firing = above and usage.spend >= floor
    return Verdict(level=1.0 if firing else 0.0, spend=spend, requests=requests, basis=basis)


def alert_key(grain: str, dim: str, value: str) -> str:
    return f"anomaly_{grain}:{dim}:{value}"


def _scoped(key: str) -> bool:
    """A key of this rule (`anomaly_hour:api_key:<id>`), not the organisation's (`anomaly_hour:org`)."""
    parts = key.split(":", 2)
    return len(parts) == 3 and parts[0] in {f"anomaly_{g}" for g in GRAINS} and parts[1] in _DIM_LABEL


class ScopeAnomalyRule(Rule):
    """Every project, API key and model, over the last hour and the last 24 hours."""

    def observe(self, now: datetime, grains: tuple[str, ...] = GRAINS) -> list[Observation]:
        """Observations of the scopes that fire, or are stored as firing, over each of `grains`."""
        if not self.settings.enabled("anomaly"):
            return []
        try:
            tuning = load_anomaly(self.settings.budgets_file)
        except AnomalyFileError:
            tuning = AnomalySettings()  # the budget rules report the broken file; anomalies go on
        labels = key_labels(self.settings.budgets_file)
        stored = StateStore(self.data_dir).read()["alerts"]
        firing = {k for k, v in stored.items() if _scoped(k) and v.get("state") == "firing"}
        out: list[Observation] = []
        for grain in grains:
            usages = [u for u in scope_usage(self.data_dir, now, grain, self.timezone) if u.dim is not None]
            projects = {u.value: u for u in usages if u.dim == "project"}
            seen: set[str] = set()
            for usage in usages:
                assert usage.dim is not None
                key = alert_key(grain, usage.dim, usage.value)
                seen.add(key)
                if tuning.muted(usage.dim, usage.value, labels.get(usage.value)):
                    continue
                verdict = judge(usage, projects.get(usage.project or ""), tuning, grain)
                if verdict.level == 1.0 or key in firing:
                    out.append(self.observation(usage, verdict, grain, now, tuning, labels))
            for key in sorted(firing - seen):
                if key.startswith(f"anomaly_{grain}:"):
                    out.append(self.gone(key, grain, now, stored[key].get("scope", key)))
        return out

    def scope_label(self, usage: ScopeUsage, labels: dict[str, str]) -> str:
        """e.g. 'API key nightly batch (key_9e0f4c88), project data-pipeline' or 'model mistral-large-latest'."""
        assert usage.dim is not None
        if usage.dim != "api_key":
            return f"{_DIM_LABEL[usage.dim]} {usage.value}"
        label = label_for(usage.value, labels) or usage.value
        name = usage.value if label == usage.value else f"{label} ({usage.value})"
        return f"API key {name}" + (f", project {usage.project}" if usage.project else "")

    def observation(
        self,
        usage: ScopeUsage,
        verdict: Verdict,
        grain: str,
        now: datetime,
        tuning: AnomalySettings,
        labels: dict[str, str],
    ) -> Observation:
        assert usage.dim is not None
        cur, hours = self.currency, GRAIN_HOURS[grain]
        scope = self.scope_label(usage, labels)
        window = scope_filters(usage.dim, usage.value, now - timedelta(hours=hours), now, self.timezone)
        spend_band = verdict.spend or Band(0.0, 0.0)
        requests_band = verdict.requests or Band(0.0, 0.0)
        usual = email_money(round(spend_band.usual, 2), cur)
        ratio = f"{usage.spend / spend_band.usual:.1f}x the usual {usual}" if spend_band.usual else f"usually {usual}"
        spent = email_money(round(usage.spend, 2), cur)
        firing = verdict.level == 1.0
        if firing:
            subject = f"[Mistral spend] unusual spend on {scope}: {spent} in {_WINDOW[grain]}, {ratio}"
        else:
            subject = f"[Mistral spend] back to usual: {scope}, {spent} in {_WINDOW[grain]} ({ratio})"
        basis = verdict.basis or "its own"
        req_ratio = f" ({usage.requests / requests_band.usual:.1f}x)" if requests_band.usual else ""
        figures = [
            (
                f"Spend in {_WINDOW[grain]}",
                f"{spent}, {ratio}; +{email_money(round(usage.spend - spend_band.usual, 2), cur)}",
            ),
            ("Requests", f"{usage.requests:,.0f}, usually {requests_band.usual:,.0f}{req_ratio}"),
            (
                "Usual",
                f"{basis} median of the same {'hour' if grain == 'hour' else 'day'} of the week over the last "
                f"{len(usage.past_spend)} weeks; the band ends at {email_money(round(spend_band.upper, 2), cur)} "
                f"and {requests_band.upper:,.0f} requests (sensitivity {tuning.sensitivity:g})",
            ),
        ]
        if firing:
            started = onset(self.data_dir, window, spend_band.usual / hours, 5 if grain == "hour" else 60)
            since = (
                f"{started.astimezone(window.tz):%Y-%m-%d %H:%M} ({self.timezone})" if started else "within the window"
            )
            figures.append(("Since", since))
        if usage.dim == "api_key":
            figures.append(("API key", f"{label_for(usage.value, labels)} (recorded as {usage.value})"))
            figures.append(("Project", usage.project or "(none recorded)"))
        figures.append(("Alert when", f"above the band and at least {email_money(tuning.floor * hours, cur)}"))
        return Observation(
            key=alert_key(grain, usage.dim, usage.value),
            rule=f"anomaly_{grain}",
            scope=scope,
            level=verdict.level,
            resolvable=True,
            subject=subject,
            recipients=self.settings.recipients,
            figures=tuple(figures),
            contributors=self._top(window, usage.dim, labels) if firing else (),
            link=dashboard_link(self.dashboard_url, window),
            expires=(now + timedelta(days=1)).isoformat(),
        )

    def _top(
        self, window: Filters, dim: str, labels: dict[str, str]
    ) -> tuple[tuple[str, tuple[Contributor, ...]], ...]:
        """The top keys, models and endpoints behind the scope's spend in the window."""
        out = []
        for title, by in (("Top API keys", "api_key"), ("Top models", "model"), ("Top endpoints", "endpoint")):
            if by == dim:
                continue
            df = top_contributors(self.data_dir, window, by, 3)
            people = tuple(
                Contributor(str(label_for(r[by], labels) if by == "api_key" else r[by]), float(r["spend"]), _share(r))
                for _, r in df.iterrows()
                if r["spend"] > 0
            )
            out.append((title, people))
        return tuple(out)

    def gone(self, key: str, grain: str, now: datetime, scope: str) -> Observation:
        """A firing scope with no traffic left in any window: back to usual."""
        return Observation(
            key=key,
            rule=f"anomaly_{grain}",
            scope=scope,
            level=0.0,
            resolvable=True,
            subject=f"[Mistral spend] back to usual: {scope}, no spend in {_WINDOW[grain]}",
            recipients=self.settings.recipients,
            expires=(now + timedelta(days=1)).isoformat(),
        )


def _share(row: object) -> float | None:
    try:
        value = float(row["share"])  # type: ignore[index]
    except (TypeError, ValueError, KeyError):
        return None
    return None if value != value else value


@dataclass(frozen=True, kw_only=True)
class AnomalyEpisode:
    """One anomaly from its first notice to its resolution (None while it is still open)."""

    key: str
    rule: str
    scope: str
    started: datetime
    resolved: datetime | None
    subject: str
    link: str | None

    @property
    def open(self) -> bool:
        return self.resolved is None


def anomaly_episodes(data_dir: Path, now: datetime, days: int = 30) -> list[AnomalyEpisode]:
    """Anomaly episodes from the alert history: the open ones and those started in the last
    `days`, newest first (what the Overview's Anomalies panel lists)."""
    episodes: list[AnomalyEpisode] = []
    open_at: dict[str, int] = {}
    for row in StateStore(data_dir).rows().history:
        if not row.rule.startswith("anomaly_"):
            continue
        at = datetime.fromisoformat(row.at)
        if row.kind == "fired" and row.key not in open_at:
            open_at[row.key] = len(episodes)
            episodes.append(
                AnomalyEpisode(
                    key=row.key,
                    rule=row.rule,
                    scope=row.scope,
                    started=at,
                    resolved=None,
                    subject=row.subject,
                    link=row.link,
                )
            )
        elif row.kind == "resolved" and row.key in open_at:
            index = open_at.pop(row.key)
            episodes[index] = replace(episodes[index], resolved=at)
    cutoff = now - timedelta(days=days)
    kept = [e for e in episodes if e.open or e.started >= cutoff]
    return sorted(kept, key=lambda e: (not e.open, -e.started.timestamp()))
