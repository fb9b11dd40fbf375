"""Hostile names on every page (AppTest) and 100,000 model names (data functions and pages).

Names from traffic, config and state must render as text: no markdown element holds an
unescaped `](`, `<a`, `<img` or bare URL, and no chart label holds a tag. With 100,000 models
the pages render in seconds, showing the top N and an "(other)" group whose sums equal
independent totals.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pyarrow.compute as pc
import pytest
from streamlit.testing.v1 import AppTest

from ledger import queries
from ledger.queries import (
    Filters,
    dimension_values,
    latency_percentiles,
    reliability_over_time,
    spend_over_time,
    spend_summary,
    top_contributors,
    unit_costs,
)
from pages._text import MAX_CHARS
from pages._ui import OTHER_COLOUR
from tests.paths import REPO
from tests.support.dashboard import (
    BEACON,
    HOSTILE_MODEL,
    HOSTILE_UNPRICED,
    MANY_MODELS,
    Truth,
    utc_midnight,
    vega_charts,
)

from .test_app import page_app

pytestmark = pytest.mark.slow

PAGES = ["overview", "spend", "reliability", "explore", "budgets", "reconciliation"]
UNSAFE_MARKDOWN = re.compile(r"(?<!\\)\]\(|(?<!\\)<\s*(a|img)\b|https?://|www\.", re.IGNORECASE)
UNSAFE_PLOT = re.compile(r"<\s*(a|img)\b", re.IGNORECASE)
CEILING_S = 60
TOP = 12


def markdown_texts(at: AppTest) -> Iterator[str]:
    """Every string AppTest shows that Streamlit renders as markdown."""
    for kind in ("markdown", "caption", "warning", "error", "info", "success", "title", "header", "subheader"):
        yield from (str(e.value) for e in getattr(at, kind))
    yield from (str(m.label) for m in at.metric)
    yield from (str(b.label) for b in at.button)


def plot_strings(at: AppTest) -> Iterator[str]:
    """Every string inside the plotly figures of the page."""

    def walk(node: object) -> Iterator[str]:
        if isinstance(node, str):
            yield node
        elif isinstance(node, dict):
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    for element in at.get("plotly_chart"):
        yield from walk(json.loads(element.proto.spec))


@pytest.mark.parametrize("page", PAGES)
def test_hostile_names_render_as_text(hostile_env, page):
    at = page_app(f"pages/{page}.py").run()
    assert not at.exception, at.exception
    texts = list(markdown_texts(at))
    unsafe = [t[:300] for t in texts if UNSAFE_MARKDOWN.search(t)]
    assert not unsafe, unsafe
    labels = [s[:300] for s in plot_strings(at) if UNSAFE_PLOT.search(s)]
    assert not labels, labels
    markup = [e.proto.body[:300] for e in at.get("html") if UNSAFE_PLOT.search(e.proto.body)]
    assert not markup, markup  # an HTML element (the Overview's tiles) holds no tag a name brought
    assert any("stale" in t and "src" in t for t in texts), "the hostile stale source was not shown"


def test_hostile_names_are_shown_not_dropped(hostile_env):
    at = page_app("pages/spend.py").run()
    warning = " ".join(w.value for w in at.warning).replace("\u2060", "")
    assert f"{BEACON}/bare" in warning  # the unpriced hostile model, escaped, is listed
    at = page_app("pages/budgets.py").run()
    heads = [s.value.replace("\u2060", "") for s in at.subheader]
    assert any(f"{BEACON}/model" in s for s in heads), heads
    assert BEACON in HOSTILE_MODEL and BEACON in HOSTILE_UNPRICED


def window(days: int = 3) -> Filters:
    now = datetime.now(UTC)
    return Filters(start=utc_midnight(days - 1, now), end=utc_midnight(-1, now))


def test_top_n_and_other_sum_to_the_independent_totals(many_models):
    data_dir, truth = many_models
    f = window()
    rows = truth.window(f.start_at, f.end_at)
    frame = rows.select(["model", "cost", "request_count"]).to_pandas()
    per_model = frame.groupby("model").agg(spend=("cost", "sum"), requests=("request_count", "sum"))
    assert len(per_model) >= MANY_MODELS
    got = spend_over_time(data_dir, f, "model", "day", top=TOP)
    assert got["model"].nunique() == TOP + 1 and queries.OTHER in set(got["model"])
    assert got["spend"].sum() == pytest.approx(truth.spend(rows), rel=1e-9)
    assert got["requests"].sum() == truth.requests(rows)
    named = got[got["model"] != queries.OTHER].groupby("model")["spend"].sum()
    largest = per_model.sort_values(["spend", "requests"], ascending=False).head(TOP)
    assert set(named.index) == set(largest.index)
    assert named.sort_index().to_numpy() == pytest.approx(largest["spend"].sort_index().to_numpy(), rel=1e-9)
    units = unit_costs(data_dir, f, top=TOP)
    assert len(units) == TOP + 1 and units["requests"].sum() == truth.requests(rows)
    latency = latency_percentiles(data_dir, f, "model", top=TOP)
    timed = Truth.interactive(rows)["latency_ms"].drop_null()
    assert len(latency) <= TOP + 1 and latency["requests"].sum() == len(timed)
    measured = truth.per_request(rows)
    errors = reliability_over_time(data_dir, f, "day", by="error_type", top=2)
    assert errors["error_type"].nunique() == 3
    assert errors["count"].sum() == pc.sum(pc.greater_equal(measured["status_code"], 400)).as_py()


def test_data_functions_with_100k_models_answer_in_seconds(many_models):
    data_dir, _ = many_models
    f = window()
    calls = {
        "summary": lambda: spend_summary(data_dir, f),
        "choices": lambda: dimension_values(data_dir, f, "model", limit=500),
        "all models": lambda: dimension_values(data_dir, f, "model"),
        "by model": lambda: spend_over_time(data_dir, f, "model", "day", top=TOP),
        "top": lambda: top_contributors(data_dir, f, "model", 10),
        "unit costs": lambda: unit_costs(data_dir, f, top=TOP),
        "latency": lambda: latency_percentiles(data_dir, f, "model", top=TOP),
    }
    for name, call in calls.items():
        started = time.monotonic()
        call()
        assert time.monotonic() - started < CEILING_S, name


@pytest.mark.parametrize("page", ["overview", "spend", "reliability", "explore"])
def test_pages_with_100k_models_render_in_seconds(many_models, monkeypatch, page):
    monkeypatch.setenv("DATA_DIR", str(many_models[0]))
    monkeypatch.setenv("MONITOR_TIMEZONE", "UTC")
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    at = AppTest.from_function(_frame_and_page_for, args=(str(REPO / f"pages/{page}.py"),), default_timeout=CEILING_S)
    started = time.monotonic()
    at.run()
    assert not at.exception, at.exception
    assert time.monotonic() - started < CEILING_S
    for element in at.get("plotly_chart"):
        traces = json.loads(element.proto.spec)["data"]
        assert len(traces) <= 3 * (TOP + 1)
        assert all(len(str(t.get("name", ""))) < 100 for t in traces)
    for _, bars in vega_charts(at):
        labels = set(bars["label"].to_pylist())
        assert len(labels) <= TOP + 1 and all(len(label) <= MAX_CHARS for label in labels)
    if page == "overview":
        truth = many_models[1]
        rows = truth.window(*_last_30_days())
        ((_, bars),) = vega_charts(at)
        named = set(bars["label"].to_pylist()) - {queries.OTHER}
        assert len(named) == TOP and queries.OTHER in set(bars["label"].to_pylist())
        other = pc.equal(bars["label"], queries.OTHER)
        assert set(bars.filter(other)["colour"].to_pylist()) == {OTHER_COLOUR}
        assert pc.sum(bars["value"]).as_py() == pytest.approx(truth.spend(rows.filter(pc.is_valid(rows["cost"]))))
        projects = at.dataframe[0].value
        assert len(projects) == 11 and projects["project"].iloc[-1] == queries.OTHER
        assert projects["requests"].sum() == truth.requests(rows)


def _last_30_days() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return utc_midnight(29, now), utc_midnight(-1, now)


def _frame_and_page_for(page_path: str) -> None:
    import runpy

    from pages._frame import draw_frame

    if draw_frame() is not None:
        runpy.run_path(page_path, run_name="__page__")


def test_pooled_latency_histograms_keep_every_request(many_models, monkeypatch):
    from ledger.queries import _latency as _query_latency

    monkeypatch.setattr(_query_latency, "EXACT_MAX_ROWS", 0)  # the histogram path, as on a large ledger
    data_dir, truth = many_models
    f = window()
    interactive = Truth.interactive(truth.window(f.start_at, f.end_at))
    timed = interactive.filter(pc.invert(pc.is_null(interactive["latency_ms"])))
    per_model = timed.group_by("model").aggregate([("model", "count")]).to_pandas()
    busiest = per_model.sort_values(["model_count", "model"], ascending=[False, True]).head(TOP)
    got = latency_percentiles(data_dir, f, "model", top=TOP)
    assert len(got) == TOP + 1 and queries.OTHER in set(got["model"])
    assert got["requests"].sum() == timed.num_rows
    assert set(got["model"]) - {queries.OTHER} == set(busiest["model"])


def test_a_provider_currency_in_the_spend_gauge_renders_as_text(hostile_env, monkeypatch):
    """The Admin API names the currency of its spend limit: provider data, escaped like any name."""
    import ledger.billing
    from ledger.billing._limits import SpendGauge

    hostile_currency = f"![x](http://{BEACON}/c.png)<a href=x>"
    gauges = [
        SpendGauge(
            source="admin",
            used=10.0,
            limit=100.0,
            no_limit=False,
            reached=False,
            currency=hostile_currency,
            fetched_at=None,
            burn_per_day=1.0,
            days_to_cap=90.0,
            recent_429s=0,
            warning=None,
        ),
        SpendGauge(
            source="admin2",
            used=5.0,
            limit=None,
            no_limit=True,
            reached=False,
            currency=hostile_currency,
            fetched_at=None,
            burn_per_day=1.0,
            days_to_cap=None,
            recent_429s=0,
            warning=None,
        ),
    ]
    monkeypatch.setattr(ledger.billing, "spend_gauges", lambda *a, **k: gauges)
    at = page_app("pages/reconciliation.py").run()
    assert not at.exception, at.exception
    unsafe = [t[:300] for t in markdown_texts(at) if UNSAFE_MARKDOWN.search(t)]
    assert not unsafe, unsafe
    labels = [s[:300] for s in plot_strings(at) if UNSAFE_PLOT.search(s)]
    assert not labels, labels
    markup = [e.proto.body[:300] for e in at.get("html") if UNSAFE_PLOT.search(e.proto.body)]
    assert not markup, markup  # an HTML element (the Overview's tiles) holds no tag a name brought
