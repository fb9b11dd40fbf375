"""A ledger with USD and EUR rows, a rate file written by hand, and the independent conversion.

Rates here are test values (units per 1 EUR, ECB style), not the ECB's: expected figures are
computed in plain Python from the rows the test wrote and this dict, never by ledger.pricing.fx.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.alerts import rows

USD_PER_EUR = {date(2026, 10, d): 1.05 + d / 1000 for d in range(1, 32) if date(2026, 10, d).weekday() < 5}
"""Weekdays of October 2026 only, like the ECB (no publication at weekends)."""
STALE = 7
"""ledger.pricing.fx.MAX_STALE_DAYS, restated: a rate stands for the 7 days after its publication."""


def rate_on(day: date) -> float | None:
    """USD per EUR on `day` the way the docs define it: the last publication at most 7 days before."""
    for back in range(STALE + 1):
        found = USD_PER_EUR.get(day - timedelta(days=back))
        if found is not None:
            return found
    return None


def write_rates(data_dir: Path, rates: dict[date, float]) -> None:
    lines = ["date,currency,per_eur,source"] + [f"{d.isoformat()},USD,{v!r},test" for d, v in sorted(rates.items())]
    (data_dir / "fx").mkdir(parents=True, exist_ok=True)
    (data_dir / "fx" / "rates.csv").write_text("\n".join(lines) + "\n")


def at(day: int, hour: int = 12, month: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


MIXED: list[dict[str, Any]] = [
    {"timestamp": at(1, 9), "cost": 2.0, "currency": "USD", "model": "gpt-4o", "project": "search"},
    {"timestamp": at(1, 15), "cost": 10.0, "currency": "EUR", "project": "search"},
    {"timestamp": at(2, 8), "cost": 3.5, "currency": "EUR", "project": "chat"},
    {"timestamp": at(3, 10), "cost": 1.25, "currency": "EUR", "project": "chat"},  # a Saturday: Friday's rate
    {"timestamp": at(4, 23), "cost": 4.0, "currency": "USD", "model": "gpt-4o", "project": "chat"},
    {"timestamp": at(5, 0), "cost": 7.0, "currency": "EUR", "project": "search"},
    {"timestamp": at(5, 1), "cost": None, "currency": "EUR", "project": "search", "model": "acme-ft"},
    {"timestamp": at(20, 12), "cost": 0.5, "currency": "EUR", "project": "search"},
    {"timestamp": at(21, 12), "cost": 5.0, "currency": "USD", "model": "gpt-4o", "project": "search"},
]


def expected_usd(records: list[dict[str, Any]], rate: Any = rate_on) -> tuple[float, int]:
    """(USD spend over convertible rows, requests whose EUR cost has no rate)."""
    total, missing = 0.0, 0
    for r in records:
        if r["cost"] is None:
            continue
        if r["currency"] == "USD":
            total += r["cost"]
        elif (found := rate(r["timestamp"].date())) is None:
            missing += 1
        else:
            total += r["cost"] * found
    return total, missing


@pytest.fixture
def usd_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A data dir and a config showing money in USD (as the dashboard reads it: $MONITOR_CONFIG)."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    config = tmp_path / "monitor.toml"
    config.write_text(f'data_dir = "{data_dir}"\ncurrency = "USD"\n')
    monkeypatch.setenv("MONITOR_CONFIG", str(config))
    yield data_dir


@pytest.fixture
def mixed(usd_config: Path) -> Path:
    rows(usd_config, MIXED)
    write_rates(usd_config, USD_PER_EUR)
    return usd_config
