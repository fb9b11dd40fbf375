"""Reliability's charts (pages/_bars.py, Vega-Lite): each holds the figures plain pyarrow gives for the same
rows, and a filter change changes their rows, never their specs (so the browser updates the charts it drew)."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ledger import queries
from ledger.queries import Filters
from tests.support.dashboard import Truth, vega_charts

from .test_app import last_days, page_app

pytestmark = pytest.mark.slow


def _charts(at):
    assert not at.exception, at.exception
    return {spec["title"]["text"]: (spec, rows.to_pandas()) for spec, rows in vega_charts(at)}


def _days(rows: pa.Table) -> pa.Array:
    return pc.floor_temporal(rows["timestamp"], unit="day")


def test_the_charts_hold_the_independent_figures(app_env):
    data_dir, truth = app_env
    charts = _charts(page_app("pages/reliability.py").run())
    measured = Truth.per_request(truth.window(*last_days(30)))

    _, rates = charts["Error and 429 rate per day"]
    errors = rates[rates["label"] == "All errors (status >= 400)"]
    per_day = Counter(d.date() for d in _days(measured).to_pylist())
    failed = measured.filter(pc.greater_equal(measured["status_code"], 400))
    failed_per_day = Counter(d.date() for d in _days(failed).to_pylist())
    got = {start.date(): value for start, value in zip(errors["start"], errors["value"], strict=True)}
    assert got == pytest.approx({day: failed_per_day[day] / n for day, n in per_day.items()})

    _, causes = charts["429s per day: throttling vs spend cap"]
    limited = measured.filter(pc.equal(measured["status_code"], 429))
    capped = int(pc.sum(limited["spend_limit_reached"]).as_py())
    assert capped and capped < limited.num_rows  # both causes are there to tell apart
    got = causes.groupby("label")["value"].sum()
    assert got["Spend cap reached"] == capped
    assert got["Rate limited (throttling)"] == limited.num_rows - capped

    _, by_class = charts["Failed requests per day by status class"]
    assert by_class["value"].sum() == failed.num_rows

    spec, latency = charts["Latency percentiles by model"]
    assert spec["encoding"]["xOffset"]["field"] == "label"
    filters = Filters(start=last_days(30)[0], end=last_days(30)[1])
    table = queries.latency_percentiles(data_dir, filters, "model", 12)
    for _, row in table.iterrows():
        bars = latency[latency["x"] == row["model"]].set_index("label")["value"]
        assert bars.to_dict() == pytest.approx({"p50": row["p50_ms"], "p95": row["p95_ms"], "p99": row["p99_ms"]})


def test_a_filter_change_keeps_every_chart_s_spec(app_env):
    _, truth = app_env
    at = page_app("pages/reliability.py").run()
    before = {title: spec for title, (spec, _) in _charts(at).items()}
    at.sidebar.multiselect(key="f_project").set_value(["search"]).run()
    after = _charts(at)
    assert {title: spec for title, (spec, _) in after.items()} == before
    limited = Truth.per_request(truth.window(*last_days(30), project="search"))
    limited = limited.filter(pc.equal(limited["status_code"], 429))
    assert after["429s per day: throttling vs spend cap"][1]["value"].sum() == limited.num_rows
