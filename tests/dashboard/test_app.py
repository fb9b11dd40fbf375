"""Each page file under AppTest on a seeded ledger: no exception, tiles equal independent figures,
filters (widgets and URL) change them as expected, empty and stale states say what to do.

app.py itself is tested on first runs (routing, URL seeding, empty states). Interactions use
`page_app`, which draws the same frame and runs one page file without st.navigation: AppTest
in this Streamlit version reruns only the page script of a navigation app, not its entrypoint.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.compute as pc
import pytest
from streamlit.testing.v1 import AppTest

from tests.paths import REPO
from tests.support.dashboard import tiles, utc_midnight, vega_charts, write_status

PAGES = ["pages/overview.py", "pages/spend.py", "pages/reliability.py", "pages/explore.py"]


def app() -> AppTest:
    return AppTest.from_file(str(REPO / "app.py"), default_timeout=90)


def _frame_and_page(page_path: str) -> None:
    import runpy

    from pages._frame import draw_frame

    if draw_frame() is not None:
        runpy.run_path(page_path, run_name="__page__")


def page_app(page: str) -> AppTest:
    return AppTest.from_function(_frame_and_page, args=(str(REPO / page),), default_timeout=90)


def metrics(at: AppTest) -> dict[str, str]:
    return {t.label: t.value for t in tiles(at)}


def last_days(days: int) -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return utc_midnight(days - 1, now), utc_midnight(-1, now)


@pytest.mark.slow
def test_overview_tiles_equal_independent_figures(app_env):
    _, truth = app_env
    at = app().run()
    assert not at.exception, at.exception
    rows = truth.window(*last_days(30))
    shown = metrics(at)
    assert shown["Spend (USD)"] == f"${truth.spend(rows):,.2f}"
    n = truth.requests(rows)
    assert shown["Requests"] == (f"{n / 1000:.1f}k" if 10_000 <= n < 999_950 else f"{n:,}")  # compact on a tile
    assert {t.label: t.help for t in tiles(at)}["Requests"] == f"{n:,}"  # the exact figure in the tooltip
    assert shown["Error rate"] == f"{truth.error_rate(rows) * 100:.2f}%"
    assert shown["p95 latency"] == f"{truth.p95(rows) / 1000:.2f} s"
    month_start = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    mtd = truth.window(month_start, last_days(1)[1])
    assert shown[f"Month to date ({month_start:%B})"] == f"${truth.spend(mtd):,.2f}"


@pytest.mark.slow
def test_model_filter_changes_tiles_and_url(app_env):
    _, truth = app_env
    at = page_app("pages/overview.py").run()
    at.sidebar.multiselect(key="f_model").set_value(["mistral-large-latest"]).run()
    assert not at.exception, at.exception
    rows = truth.window(*last_days(30), model="mistral-large-latest")
    assert metrics(at)["Spend (USD)"] == f"${truth.spend(rows):,.2f}"
    assert at.query_params["model"] in ("mistral-large-latest", ["mistral-large-latest"])


@pytest.mark.slow
def test_url_reproduces_a_view(app_env):
    _, truth = app_env
    at = app()
    at.query_params["range"] = "7d"
    at.query_params["project"] = "search"
    at.run()
    assert not at.exception, at.exception
    assert at.sidebar.selectbox(key="f_range").value == "7d"
    rows = truth.window(*last_days(7), project="search")
    assert metrics(at)["Requests"] == f"{truth.requests(rows):,}"


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_exception(app_env, page):
    at = page_app(page).run()
    assert not at.exception, at.exception
    assert at.title[0].value == Path(page).stem.capitalize()


@pytest.mark.slow
def test_spend_page_lists_unpriced_model_with_its_requests(app_env):
    _, truth = app_env
    at = page_app("pages/spend.py").run()
    rows = truth.window(*last_days(30))
    unpriced = rows.filter(pc.is_null(rows["cost"]))
    assert set(unpriced["model"].to_pylist()) == {"acme-finetune-1"}
    warning = " ".join(w.value for w in at.warning)
    assert f"acme-finetune-1 ({truth.requests(unpriced):,} requests" in warning


@pytest.mark.slow
def test_reliability_splits_429s_into_spend_cap_and_throttling(app_env):
    _, truth = app_env
    at = page_app("pages/reliability.py").run()
    rows = truth.per_request(truth.window(*last_days(30)))
    limited = rows.filter(pc.equal(rows["status_code"], 429))
    capped = limited.filter(limited["spend_limit_reached"])
    assert metrics(at)["429s from the spend cap"] == f"{capped.num_rows:,} of {limited.num_rows:,}"


@pytest.mark.slow
def test_explore_sql_box_runs_a_select_and_refuses_the_rest(app_env):
    _, truth = app_env
    at = page_app("pages/explore.py").run()
    at.text_area(key="ex_sql").set_value("SELECT count(*) AS n FROM ledger WHERE status_code = 429").run()
    at.button(key="ex_run").click().run()
    assert not at.exception, at.exception
    rows = truth.window(*last_days(30))
    expected = rows.filter(pc.equal(rows["status_code"], 429)).num_rows
    assert int(at.dataframe[-1].value["n"].iloc[0]) == expected
    at.text_area(key="ex_sql").set_value("DELETE FROM ledger").run()
    at.button(key="ex_run").click().run()
    assert "only SELECT is allowed" in at.error[0].value


def test_no_ledger_says_how_to_start_the_collector(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    at = app().run()
    assert not at.exception, at.exception
    assert "python -m collector" in at.info[0].value and "scripts/demo.sh" in at.info[0].value


@pytest.mark.slow
def test_filters_matching_nothing_show_an_empty_state(app_env):
    at = app()
    at.query_params["source"] = "no-such-source"
    at.run()
    assert not at.exception, at.exception
    assert any("Widen the date range" in i.value for i in at.info)
    assert metrics(at)["Spend (USD)"] == "$0.00"


@pytest.mark.slow
def test_stale_collector_is_a_warning_naming_the_source(seeded, tmp_path, monkeypatch):
    data_dir = tmp_path / "copy"
    data_dir.mkdir()
    (data_dir / "requests").symlink_to(seeded[0] / "requests", target_is_directory=True)
    write_status(data_dir, datetime.now(UTC) - timedelta(minutes=30), poll_seconds=60)
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    at = app().run()
    assert not at.exception, at.exception
    assert any("'simulator' is stale" in w.value and "30 min ago" in w.value for w in at.warning)


@pytest.mark.slow
def test_simulated_rows_show_a_badge(app_env):
    at = app().run()
    assert any("Simulated data" in m.value for m in at.markdown)


@pytest.mark.slow
def test_overview_has_one_unpriced_count_and_says_what_it_covers(app_env):
    """The view's 30 whole days (UTC, the app_env's zone) up to today: one warning, one count."""
    _, truth = app_env
    at = page_app("pages/overview.py").run()
    assert not at.exception, at.exception
    rows = truth.window(*last_days(30))
    unpriced = rows.filter(pc.is_null(rows["cost"]))
    banner = [w.value for w in at.warning if "no price" in w.value]
    assert len(banner) == 1, [w.value for w in at.warning]
    for model in set(unpriced["model"].to_pylist()):
        assert model.replace("-", "\\-") in banner[0] or model in banner[0]
    assert banner[0].startswith(f"{truth.requests(unpriced):,} requests in ")
    assert "this view's dates and filters" in banner[0]
    counts = [c.value for c in at.caption if "unpriced" in c.value]
    assert counts == [], counts  # no second count under the tiles


@pytest.mark.slow
def test_explore_shows_an_unpriced_model_as_unpriced_never_as_zero(app_env):
    """acme-finetune-1 has no price: its spend is unknown in the chart and the table, and the page says so."""
    _, truth = app_env
    at = page_app("pages/explore.py").run()
    at.selectbox(key="ex_grain").set_value("none").run()
    assert not at.exception, at.exception
    rows = truth.window(*last_days(30), model="acme-finetune-1")
    assert rows.num_rows and pc.all(pc.is_null(rows["cost"])).as_py()  # the fixture's unpriced model
    table = at.dataframe[0].value.set_index("model")
    assert table.loc["acme-finetune-1", "price"] == "unpriced"
    assert table["spend"].isna().sum() == 1 and table.loc["acme-finetune-1", "spend"] != 0
    assert table.loc["acme-finetune-1", "unpriced_requests"] == truth.requests(rows)
    priced = truth.window(*last_days(30), model="mistral-large-latest")
    assert table.loc["mistral-large-latest", "spend"] == pytest.approx(truth.spend(priced))
    ((_, drawn),) = vega_charts(at)
    bars = drawn.to_pandas()
    acme = bars[bars["label"].str.startswith("acme")]
    assert acme["label"].tolist() == ["acme-finetune-1 (unpriced)"] and acme["value"].isna().all()  # no bar, not 0
    drawn_spend = bars.set_index("label")["value"]
    assert drawn_spend["mistral-large-latest"] == pytest.approx(truth.spend(priced))
    assert any("acme-finetune-1 has no price: shown as unpriced, never as 0" in c.value for c in at.caption)


def test_the_freshness_line_names_the_active_collector(seeded, tmp_path, monkeypatch):
    from collector._state import StatusBoard

    data_dir = tmp_path / "copy"
    data_dir.mkdir()
    (data_dir / "requests").symlink_to(seeded[0] / "requests", target_is_directory=True)
    write_status(data_dir, datetime.now(UTC), poll_seconds=60)
    StatusBoard(data_dir).record_lease("db_1*:4242:[a](b)", 7, 15)  # as the lease holder writes it
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    at = app().run()
    assert not at.exception, at.exception
    lines = [c.value for c in at.caption if "collected" in c.value]
    assert any(r"active collector db\_1\*:4242:\[a\](b)" in line for line in lines), lines
