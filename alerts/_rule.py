"""What every alert rule is built from: the engine hands each rule the same five things.

Example:
    >>> from datetime import UTC, datetime
    >>> from alerts._unpriced_rule import UnpricedRule
    >>> settings = AlertSettings(budgets_file=Path("data/budgets.toml"))
    >>> rule = UnpricedRule(data_dir=Path("data"), settings=settings, timezone="Europe/Paris", currency="EUR",
    ...                     dashboard_url="http://dash")
    >>> rule.observe(datetime(2026, 11, 20, tzinfo=UTC))     # an empty ledger: nothing to say
    []
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from ._periods import Period, period_of
from ._settings import AlertSettings


class Rule:
    """The ledger's folder, the alert settings, the time zone and currency, and the dashboard link base."""

    def __init__(
        self, *, data_dir: Path, settings: AlertSettings, timezone: str, currency: str, dashboard_url: str | None
    ) -> None:
        self.data_dir, self.settings, self.timezone = Path(data_dir), settings, timezone
        self.currency, self.dashboard_url = currency, dashboard_url

    def periods(self, kind: str, now: datetime, timezone: str | None = None) -> list[Period]:
        """The period of `now` (in `timezone`, else the rule's), and the previous one too while
        `late_grace_minutes` have not passed since it ended, so late rows still count there."""
        current = period_of(kind, now, timezone or self.timezone)
        grace = timedelta(minutes=self.settings.late_grace_minutes)
        return [current.previous(), current] if now - current.start < grace else [current]
