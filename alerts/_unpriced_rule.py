"""A model seen in traffic with no price for its date: one email per model, ever.

Why once per model and never resolved: an unpriced model is a gap in the price table, not an
incident; its spend is missing from every figure until someone adds a price (ledger/pricing/prices.csv
or a `[[prices]]` override) and runs `python -m collector reprice`. One email says so; a
reminder every run would teach people to filter the sender. The key is the model alone, with
no expiry, so the state file remembers it for good. Calls Mistral does not bill
(`billable = false`) cost 0.0 and are never unpriced.

Example:
    >>> from tests.builders import build_ledger
    >>> _ = build_ledger(Path("data"), n_records=2000, days=2, seed=7, end=datetime(2026, 11, 28, tzinfo=UTC))
    >>> unpriced_models_seen(Path("data"), now=datetime(2026, 11, 28, tzinfo=UTC))
    [UnpricedModel(model='acme-finetune-1', requests=..., tokens=...)]
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ledger.queries import Filters, unpriced_models

from ._observation import Observation, dashboard_link
from ._rule import Rule

LOOKBACK_DAYS = 31
"""How far back a model counts as seen: a month, so a first backfill is covered too."""
RULE = "unpriced"


@dataclass(frozen=True)
class UnpricedModel:
    model: str
    requests: int
    tokens: int


def unpriced_models_seen(
    data_dir: Path, now: datetime | None = None, days: int = LOOKBACK_DAYS, timezone: str = "UTC"
) -> list[UnpricedModel]:
    """Models with requests that have no price for their date over the last `days`, most requests first.

    The plain data behind the Overview's banner and this rule's emails.
    """
    end = (now or datetime.now(UTC)).astimezone(UTC)
    window = Filters(start=end - timedelta(days=days), end=end + timedelta(seconds=1), timezone=timezone)
    frame = unpriced_models(Path(data_dir), window)
    return [UnpricedModel(str(r.model), int(r.requests), int(r.tokens)) for r in frame.itertuples(index=False)]


class UnpricedRule(Rule):
    def observe(self, now: datetime) -> list[Observation]:
        if not self.settings.enabled(RULE):
            return []
        return [
            self._observation(found, now)
            for found in unpriced_models_seen(self.data_dir, now, LOOKBACK_DAYS, self.timezone)
        ]

    def _observation(self, found: UnpricedModel, now: datetime) -> Observation:
        window = Filters(
            start=now - timedelta(days=LOOKBACK_DAYS), end=now, timezone=self.timezone, models=(found.model,)
        )
        figures = (
            ("Model", found.model),
            (f"Requests without a price (last {LOOKBACK_DAYS} days)", f"{found.requests:,}"),
            ("Their tokens", f"{found.tokens:,}"),
            ("Their cost", f"unknown: left out of every {self.currency} figure, never counted as 0"),
            (
                "Fix",
                "add the model's dated price to ledger/pricing/prices.csv (or a [[prices]] override in the collector "
                "config), then run: python -m collector --config FILE reprice",
            ),
        )
        return Observation(
            key=f"{RULE}:{found.model}",
            rule=RULE,
            scope=found.model,
            level=1.0,
            resolvable=False,
            repeats=False,
            subject=f"[Mistral prices] {found.model} has no price: {found.requests:,} requests left out of the spend",
            recipients=self.settings.recipients,
            figures=figures,
            link=dashboard_link(self.dashboard_url, window, page="spend"),
        )
