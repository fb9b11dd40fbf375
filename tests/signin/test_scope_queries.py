"""Project scope in the data layer: every query, export and the SQL box's `ledger` see only scoped rows.

Expected figures come from `Truth` (plain pyarrow over the parquet files), never from ledger.queries.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ledger.queries import Filters, breakdown, dimension_values, run_sql, spend_summary
from tests.support.dashboard import Truth

SCOPE = ("analytics", "search")


def window() -> Filters:
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return Filters(start=end - timedelta(days=30), end=end)


def scoped_rows(truth: Truth, filters: Filters, projects: tuple[str, ...]) -> pa.Table:
    rows = truth.window(filters.start_at, filters.end_at)
    return rows.filter(pc.is_in(rows["project"], pa.array(list(projects))))


def test_fixture_has_projects_outside_the_scope(seeded: tuple[Path, Truth]) -> None:
    others = set(pc.unique(seeded[1].table["project"]).to_pylist()) - set(SCOPE)
    assert others, "the test needs rows outside the scope"


@pytest.mark.slow
def test_summary_and_breakdown_count_only_scoped_projects(seeded: tuple[Path, Truth]) -> None:
    data_dir, truth = seeded
    scoped = Filters(start=window().start_at, end=window().end_at, scope=SCOPE)
    rows = scoped_rows(truth, scoped, SCOPE)
    summary = spend_summary(data_dir, scoped)
    assert summary.spend == pytest.approx(Truth.spend(rows), rel=1e-9)
    assert summary.requests == Truth.requests(rows)
    by_project = breakdown(data_dir, scoped, ["project"], "spend")
    assert sorted(by_project["project"]) == sorted(SCOPE)
    assert set(dimension_values(data_dir, scoped.unfiltered(), "project")) == set(SCOPE)


@pytest.mark.slow
def test_a_pick_outside_the_scope_matches_nothing(seeded: tuple[Path, Truth]) -> None:
    data_dir, _ = seeded
    outside = Filters(start=window().start_at, end=window().end_at, projects=("code-assist",), scope=SCOPE)
    assert outside.denies_all
    assert spend_summary(data_dir, outside).requests == 0
    assert outside.previous().denies_all and outside.with_window(*window().utc_days()).denies_all
    assert spend_summary(data_dir, outside.previous()).requests == 0  # was the whole scope's previous period
    narrowed = Filters(start=window().start_at, end=window().end_at, projects=("code-assist", "analytics"), scope=SCOPE)
    assert narrowed.projects == ("analytics",)
    rows = scoped_rows(seeded[1], narrowed, ("analytics",))
    assert spend_summary(data_dir, narrowed).spend == pytest.approx(Truth.spend(rows), rel=1e-9)


@pytest.mark.slow
def test_sql_box_ledger_view_holds_only_scoped_rows(seeded: tuple[Path, Truth]) -> None:
    data_dir, truth = seeded
    scoped = Filters(start=window().start_at, end=window().end_at, scope=SCOPE)
    df = run_sql(data_dir, scoped, "SELECT project, count(*) AS n, sum(cost) AS spend FROM ledger GROUP BY project")
    rows = scoped_rows(truth, scoped, SCOPE)
    assert sorted(df["project"]) == sorted(SCOPE)
    assert int(df["n"].sum()) == rows.num_rows
    assert float(df["spend"].sum()) == pytest.approx(Truth.spend(rows), rel=1e-9)
    none = Filters(start=window().start_at, end=window().end_at, projects=("code-assist",), scope=SCOPE)
    assert run_sql(data_dir, none, "SELECT count(*) AS n FROM ledger")["n"].iloc[0] == 0


@pytest.mark.slow
def test_no_scope_changes_nothing(seeded: tuple[Path, Truth]) -> None:
    data_dir, truth = seeded
    plain = window()
    rows = truth.window(plain.start_at, plain.end_at)
    assert spend_summary(data_dir, plain).requests == Truth.requests(rows)
