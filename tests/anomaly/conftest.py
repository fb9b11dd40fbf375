"""Shared fixtures: eight weeks of the simulator's traffic in a ledger, built once per module."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from ledger.storage import rewrite_day
from simulator import Runaway
from tests.anomaly.sim_ledger import END, RUNAWAY_AT, RUNAWAY_KEY, START, build_sim_ledger, copy_ledger
from tests.support.alerts import receivers, smtp_server

__all__ = ["normal_ledger", "receivers", "runaway_ledger", "smtp_server"]


@pytest.fixture(scope="session")
def normal_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """58 days of seed-3 simulator traffic (4 weeks of baseline, then the 30 days judged)."""
    data = tmp_path_factory.mktemp("sim") / "data"
    build_sim_ledger(data, START, END)
    return data


@pytest.fixture
def runaway_ledger(normal_ledger: Path, tmp_path: Path) -> Path:
    """The same ledger with the runaway's day regenerated (only the hour it touches changes)."""
    data = copy_ledger(normal_ledger, tmp_path / "data")
    day = RUNAWAY_AT.replace(hour=0)
    rewrite_day(
        data, day.date(), lambda rows: rows.slice(0, 0)
    )  # the day emptied in one Delta commit (its rollup stale)
    build_sim_ledger(
        data, day, day + timedelta(days=1), runaway=Runaway.parse(f"{RUNAWAY_KEY}@{RUNAWAY_AT.isoformat()}")
    )
    return data
