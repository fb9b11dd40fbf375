"""A window that does not fall on whole UTC hours (one ending now, at 14:37) reads its whole hours from the
rollups and only its part-hours at the edges from raw rows, with the same answers as raw rows alone.

Why: the month-end forecast, a budget's period to date and every window ending now used to read all of
their days' raw rows (28+ days of a 10M-record ledger: 0.15 s of every Overview filter change).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ledger import queries as q
from ledger.queries._engine import planned_source, whole_hours
from tests.builders import build_ledger
from tests.ledger.test_rollup_parity import same

END = datetime(2026, 10, 30, 14, tzinfo=UTC)
NOW = datetime(2026, 10, 30, 9, 37, 12, 500, tzinfo=UTC)
"""Not on an hour: the window's last hour is unfinished."""
START = datetime(2026, 10, 21, 5, 20, tzinfo=UTC)


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("edges") / "data"
    build_ledger(data_dir, n_records=4_000, days=12, seed=11, end=END)
    assert q.update_rollups(data_dir)
    return data_dir


WINDOWS = {
    "utc": q.Filters(start=START, end=NOW),
    "paris": q.Filters(start=START, end=NOW, timezone="Europe/Paris", models=("mistral-large-latest",)),
    "inside one hour": q.Filters(start=NOW - timedelta(minutes=30), end=NOW),
    "start only": q.Filters(start=START, end=datetime(2026, 10, 29, tzinfo=UTC)),
}
CALLS: dict[str, Callable[[Path, q.Filters], Any]] = {
    "spend_summary": q.spend_summary,
    "latency_summary": q.latency_summary,
    "spend_over_time.hour": lambda d, f: q.spend_over_time(d, f, "model", "hour"),
    "spend_over_time.day": lambda d, f: q.spend_over_time(d, f, None, "day"),
    "top_contributors": lambda d, f: q.top_contributors(d, f, "project", 3),
    "conversion": q.conversion,
    "unit_costs": q.unit_costs,
    "latency_percentiles": lambda d, f: q.latency_percentiles(d, f, "model"),
    "month_forecast": lambda d, f: q.month_forecast(d, f, now=f.end_at),
}


@pytest.mark.parametrize("window", list(WINDOWS))
@pytest.mark.parametrize("call", list(CALLS))
def test_part_hours_change_no_answer(ledger: Path, window: str, call: str, monkeypatch: pytest.MonkeyPatch) -> None:
    f = WINDOWS[window]
    monkeypatch.setenv("LEDGER_ROLLUPS", "0")
    raw = CALLS[call](ledger, f)
    monkeypatch.setenv("LEDGER_ROLLUPS", "1")
    same(CALLS[call](ledger, f), raw, f"{call}[{window}]")


def test_a_window_ending_now_reads_its_whole_hours_from_rollups(ledger: Path) -> None:
    f = WINDOWS["utc"]
    assert whole_hours(f) == (datetime(2026, 10, 21, 6, tzinfo=UTC), datetime(2026, 10, 30, 9, tzinfo=UTC))
    _, files = planned_source(ledger, f, raw=False, kind="totals")
    rollups = [p for p in files if "rollups" in p.parts]
    raw_days = {p.parent.name for p in files if "rollups" not in p.parts}
    assert len(rollups) == 10  # 21 .. 30 October
    assert raw_days == {"date=2026-10-21", "date=2026-10-30"}  # the two part-hours' days only
