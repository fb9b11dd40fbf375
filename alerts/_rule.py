"""What every alert rule is built from: the engine hands each rule the same five things.

Example:
    >>> BudgetRules(data_dir, settings, "Europe/Paris", "EUR", "http://dash").observe(now)
"""

from __future__ import annotations

from pathlib import Path

from ._settings import AlertSettings


class Rule:
    """The ledger's folder, the alert settings, the time zone and currency, and the dashboard link base."""

    def __init__(
        self, data_dir: Path, settings: AlertSettings, timezone: str, currency: str, dashboard_url: str | None
    ) -> None:
        self.data_dir, self.settings, self.timezone = Path(data_dir), settings, timezone
        self.currency, self.dashboard_url = currency, dashboard_url
