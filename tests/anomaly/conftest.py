"""Shared fixtures: eight weeks of the simulator's traffic in a ledger, built once per module."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from simulator import Runaway
from tests.alerts.conftest import smtp_server  # noqa: F401  (the real SMTP server fixture)
from tests.anomaly.sim_ledger import build_sim_ledger

END = datetime(2026, 11, 30, tzinfo=UTC)
WEEKS_BEFORE = 4
DAYS = 30
START = END - timedelta(days=DAYS + 7 * WEEKS_BEFORE)
RUNAWAY_AT = datetime(2026, 11, 24, 9, tzinfo=UTC)
"""A Tuesday, 10:00 in Paris."""
RUNAWAY_KEY = "key_9e0f4c88"
"""The data-pipeline key: the batch jobs of the simulated organisation."""
FLOOR = 0.05
"""USD per hour: the simulator's organisation spends about 0.4 an hour in all (6 requests a minute),
so the default floor of 1 would hide everything; a real organisation keeps 1."""


@pytest.fixture(scope="session")
def normal_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """58 days of seed-3 simulator traffic (4 weeks of baseline, then the 30 days judged)."""
    data = tmp_path_factory.mktemp("sim") / "data"
    build_sim_ledger(data, START, END)
    return data


def copy_ledger(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("alerts"))
    return target


@pytest.fixture
def runaway_ledger(normal_ledger: Path, tmp_path: Path) -> Path:
    """The same ledger with the runaway's day regenerated (only the hour it touches changes)."""
    data = copy_ledger(normal_ledger, tmp_path / "data")
    day = RUNAWAY_AT.replace(hour=0)
    for folder in ("requests", "rollups/hourly"):
        shutil.rmtree(data / folder / f"date={day.date().isoformat()}", ignore_errors=True)
    build_sim_ledger(
        data, day, day + timedelta(days=1), runaway=Runaway.parse(f"{RUNAWAY_KEY}@{RUNAWAY_AT.isoformat()}")
    )
    return data
