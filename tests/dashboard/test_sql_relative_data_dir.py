"""The SQL box with a relative data directory (`data`, the default when run from an installed package):
its worker runs in a temp directory, so the ledger's file paths must reach it absolute."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from ledger.queries import Filters, run_sql
from tests.builders import build_ledger
from tests.support.dashboard import Truth

from .test_queries import END

pytestmark = pytest.mark.slow


def test_the_sql_box_reads_a_ledger_named_by_a_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    build_ledger(tmp_path / "data", n_records=600, days=5, seed=3, end=END)
    window = Filters.for_dates(END.date() - timedelta(days=10), END.date())
    expected = Truth.read(tmp_path / "data").window(window.start_at, window.end_at)
    monkeypatch.chdir(tmp_path)
    df = run_sql(Path("data"), window, "SELECT count(*) AS n, sum(cost) AS spend FROM ledger")
    assert int(df["n"].iloc[0]) == expected.num_rows > 0
    assert float(df["spend"].iloc[0]) == pytest.approx(Truth.spend(expected), rel=1e-9)
