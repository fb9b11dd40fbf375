"""The Overview's one grouped query gives the figures each separate data function gives for the same view.

`overview_figures` answers eight questions from one scan (ledger/queries/_overview.py), and the latency
of its two periods from one histogram query; here each answer is compared with the function that asks it
alone, in its own SQL: `spend_summary` of the view and of the previous period, `month_forecast` (its
window ends inside an hour, with rows after it), `spend_over_time` per model, `top_contributors` per
project and per API key, `unpriced_models` and `conversion`. The ledger holds EUR rows (a third of the
keys) with no USD rate for its first days, an unpriced model and usage-API rows; views: UTC and Paris,
per day and per hour, filtered, scoped, matching nothing, and before the ledger begins; from raw rows and
from rollups; latency percentiles exact (a small slice) and from histograms (a big one). Counts exactly,
money to 1e-9.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from ledger import list_days, rewrite_day
from ledger import queries as q
from ledger.queries import _engine, _latency, _overview
from tests.builders import API_KEYS, build_ledger
from tests.ledger.test_rollup_parity import END, _euro, _rates, same

KEYS = (API_KEYS[0], API_KEYS[4], API_KEYS[-1])
NOW = datetime(2026, 10, 29, 9, 37, 12, tzinfo=UTC)
"""Inside an hour with rows after it: the forecast's window ends here, the views' later."""
VIEWS = {
    "utc": (q.Filters.for_dates(date(2026, 10, 18), date(2026, 10, 29), "UTC"), "day"),
    "paris": (q.Filters.for_dates(date(2026, 10, 18), date(2026, 10, 29), "Europe/Paris"), "day"),
    "paris hourly": (q.Filters.for_dates(date(2026, 10, 25), date(2026, 10, 26), "Europe/Paris"), "hour"),
    "filtered": (
        q.Filters.for_dates(
            date(2026, 10, 18), date(2026, 10, 29), "UTC", models=("mistral-large-latest", "acme-finetune-1")
        ),
        "day",
    ),
    "scoped": (q.Filters.for_dates(date(2026, 10, 18), date(2026, 10, 29), "UTC", scope=("search",)), "day"),
    "by source": (q.Filters.for_dates(date(2026, 10, 18), date(2026, 10, 29), "UTC", sources=("gateway",)), "day"),
    "by project and key": (
        q.Filters.for_dates(
            date(2026, 10, 18), date(2026, 10, 29), "UTC", projects=("search", "(no project)"), api_keys=KEYS
        ),
        "day",
    ),
    "scoped, picked outside": (
        q.Filters.for_dates(date(2026, 10, 18), date(2026, 10, 29), "UTC", scope=("search",), projects=("analytics",)),
        "day",
    ),
    "nothing": (q.Filters.for_dates(date(2026, 10, 18), date(2026, 10, 29), "UTC", models=("no-such",)), "day"),
    "before the ledger": (q.Filters.for_dates(date(2025, 1, 1), date(2025, 1, 31), "UTC"), "day"),
}


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("overview") / "data"
    build_ledger(data_dir, n_records=5_000, days=14, seed=10, end=END)
    for day in list_days(data_dir):
        rewrite_day(data_dir, day, _euro)
    _rates(data_dir)
    assert q.update_rollups(data_dir)
    return data_dir


@pytest.mark.parametrize("latency", ["exact", "histogram"])
@pytest.mark.parametrize("rollups", ["0", "1"])
@pytest.mark.parametrize("view", list(VIEWS))
def test_one_query_gives_each_functions_figures(
    ledger: Path, view: str, rollups: str, latency: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_ROLLUPS", rollups)
    if latency == "histogram":  # as on a big ledger: percentiles from the hourly histograms
        monkeypatch.setattr(_latency, "EXACT_MAX_ROWS", -1)
    f, grain = VIEWS[view]
    got = q.overview_figures(ledger, f, grain, top=3, n=4, now=NOW)
    same(got.forecast, q.month_forecast(ledger, f, now=NOW), "forecast")
    same(got.current, q.spend_summary(ledger, f), "current")
    same(got.previous, q.spend_summary(ledger, f.previous()), "previous")
    same(got.by_model, q.spend_over_time(ledger, f, "model", grain, 3), "by_model")
    same(got.projects, q.top_contributors(ledger, f, "project", 4), "projects")
    same(got.api_keys, q.top_contributors(ledger, f, "api_key", 4), "api_keys")
    same(got.unpriced, q.unpriced_models(ledger, f), "unpriced")
    same(got.conversion, q.conversion(ledger, f), "conversion")


def test_the_views_hold_what_the_comparison_needs(ledger: Path) -> None:
    """Not a vacuous comparison: the main view has a previous period, EUR rows with a missing rate, an
    unpriced model, more models than `top` (an "(other)" row) and more keys than `n`."""
    f, grain = VIEWS["utc"]
    got = q.overview_figures(ledger, f, grain, top=3, n=4)
    assert got.previous.requests > 0
    assert [u.currency for u in got.conversion] == ["EUR"] and got.conversion[0].missing_requests > 0
    assert not got.unpriced.empty
    assert q.OTHER in set(got.by_model["model"])
    assert len(got.api_keys) == 4 and len(q.dimension_values(ledger, f, "api_key")) > 4


@pytest.mark.parametrize("view", [name for name, (f, _) in VIEWS.items() if f.dimension_filters() or f.scope])
def test_a_filter_change_is_summed_from_the_windows_groups(ledger: Path, view: str) -> None:
    """The page keeps the unfiltered groups of a window (pages/_data.py): every filter on it is summed from
    them, with no scan, and gives what each function asks alone."""
    f, grain = VIEWS[view]
    groups = q.overview_groups(ledger, f.unfiltered(), grain, now=NOW)
    assert groups.answers(f, grain) and groups.frame is not None and len(groups.frame) > 0
    scans: list[object] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_overview, "query", lambda *a, **k: scans.append(a))
        got = q.overview_figures(ledger, f, grain, top=3, n=4, groups=groups)
    assert scans == []
    same(got.current, q.spend_summary(ledger, f), "current")
    same(got.previous, q.spend_summary(ledger, f.previous()), "previous")
    same(got.by_model, q.spend_over_time(ledger, f, "model", grain, 3), "by_model")
    same(got.api_keys, q.top_contributors(ledger, f, "api_key", 4), "api_keys")
    same(got.forecast, q.month_forecast(ledger, f, now=NOW), "forecast")


@pytest.mark.parametrize("view", ["filtered", "by project and key", "scoped, picked outside", "nothing"])
def test_a_filter_change_reads_its_latency_from_the_windows_histograms(
    ledger: Path, view: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As on a big ledger (percentiles from histograms): the window's groups hold its latency histograms per
    model, project, key and source too, so a filter change reads nothing at all, and its p50/p95/p99 are those
    `spend_summary` reads for the view alone."""
    monkeypatch.setattr(_latency, "EXACT_MAX_ROWS", -1)
    f, grain = VIEWS[view]
    groups = q.overview_groups(ledger, f.unfiltered(), grain, now=NOW)
    assert groups.latency is not None and len(groups.latency) > 0
    scans: list[object] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_overview, "query", lambda *a, **k: scans.append(a))
        patch.setattr(_latency, "query", lambda *a, **k: scans.append(a))
        got = q.overview_figures(ledger, f, grain, top=3, n=4, groups=groups)
    assert scans == []
    same(got.current, q.spend_summary(ledger, f), "current")
    same(got.previous, q.spend_summary(ledger, f.previous()), "previous")


@pytest.mark.parametrize("view", ["filtered", "by project and key", "scoped, picked outside", "nothing"])
def test_a_filter_change_runs_no_duckdb_statement(ledger: Path, view: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The window's groups are summed into a view's figures in Arrow: no statement on the process's DuckDB
    connection (a statement over the cached groups cost 12-16 ms of each filter change at 10M records)."""
    monkeypatch.setattr(_latency, "EXACT_MAX_ROWS", -1)
    f, grain = VIEWS[view]
    groups = q.overview_groups(ledger, f.unfiltered(), grain, now=NOW)
    _engine.connection().close()
    assert _engine._shared is not None
    shared: duckdb.DuckDBPyConnection = _engine._shared
    cursors: list[object] = []

    class Counted:
        def cursor(self) -> duckdb.DuckDBPyConnection:
            cursors.append(self)
            return shared.cursor()

    monkeypatch.setattr(_engine, "_shared", Counted())
    got = q.overview_figures(ledger, f, grain, top=3, n=4, groups=groups)
    assert cursors == []
    monkeypatch.setattr(_engine, "_shared", shared)
    same(got.by_model, q.spend_over_time(ledger, f, "model", grain, 3), "by_model")


def test_a_window_with_too_many_latency_rows_reads_each_views_histograms(
    ledger: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_latency, "EXACT_MAX_ROWS", -1)
    f, grain = VIEWS["filtered"]
    whole = q.overview_groups(ledger, f, grain, now=NOW)
    assert whole.frame is not None and whole.latency is not None and len(whole.latency) > len(whole.frame)
    monkeypatch.setattr(_overview, "MAX_GROUPS", len(whole.frame))
    groups = q.overview_groups(ledger, f, grain, now=NOW)
    assert groups.answers(f, grain) and groups.latency is None
    got = q.overview_figures(ledger, f, grain, top=3, n=4, now=NOW, groups=groups)
    same(got.current, q.spend_summary(ledger, f), "current")
    same(got.previous, q.spend_summary(ledger, f.previous()), "previous")


def test_groups_of_another_window_or_grain_are_not_used(ledger: Path) -> None:
    f, grain = VIEWS["utc"]
    other = q.overview_groups(ledger, VIEWS["paris"][0], grain, now=NOW)
    hourly = q.overview_groups(ledger, f, "hour", now=NOW)
    assert not other.answers(f, grain) and not hourly.answers(f, grain)
    for wrong in (other, hourly):
        same(
            q.overview_figures(ledger, f, grain, top=3, n=4, now=NOW, groups=wrong).current, q.spend_summary(ledger, f)
        )


def test_a_window_with_too_many_groups_keeps_none_and_each_view_reads_its_own(
    ledger: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f, grain = VIEWS["filtered"]
    monkeypatch.setattr(_overview, "MAX_GROUPS", 10)
    groups = q.overview_groups(ledger, f, grain, now=NOW)
    assert groups.oversize and groups.frame is None and not groups.answers(f, grain)
    got = q.overview_figures(ledger, f, grain, top=3, n=4, now=NOW, groups=groups)
    same(got.current, q.spend_summary(ledger, f), "current")
    same(got.by_model, q.spend_over_time(ledger, f, "model", grain, 3), "by_model")
