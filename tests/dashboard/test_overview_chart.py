"""The Overview's spend bars (pages/_bars.py, Vega-Lite): each model's spend, stacked, in its colour, and
names as plain text; the rows change with a filter, the way they are drawn does not."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

from pages._text import short
from pages._ui import colours
from tests.support.dashboard import HOSTILE_MODEL, Truth, vega_charts

from .test_app import last_days, page_app

pytestmark = pytest.mark.slow


def _bars(at):
    ((spec, rows),) = vega_charts(at)
    return spec, rows.to_pandas()


def test_each_model_s_bars_sum_to_its_spend_stacked_in_its_colour(app_env):
    _, truth = app_env
    at = page_app("pages/overview.py").run()
    assert not at.exception, at.exception
    spec, bars = _bars(at)
    rows = truth.window(*last_days(30))
    priced = rows.filter(pc.is_valid(rows["cost"]))
    models = pc.unique(priced["model"]).to_pylist()
    assert len(models) <= 12  # every model named: no "(other)" to account for
    got = bars.groupby("label")["value"].sum()
    assert sorted(got.index) == sorted(models)
    for model in models:
        assert got[model] == pytest.approx(Truth.spend(priced.filter(pc.equal(priced["model"], model))), abs=1e-6)
    assert (bars["high"] - bars["low"]).to_numpy() == pytest.approx(bars["value"].to_numpy())
    for _, stack in bars.sort_values(["start", "low"]).groupby("start"):  # each bucket's segments touch, from 0
        assert stack["low"].iloc[0] == 0 and stack["low"].iloc[1:].tolist() == pytest.approx(
            stack["high"].iloc[:-1].tolist()
        )
    window_models = pc.unique(truth.window(*last_days(30))["model"]).to_pylist()
    assert spec["encoding"]["color"]["scale"] == {"range": {"field": "colour"}}  # the legend pairs the rows'
    assert dict(zip(bars["label"], bars["colour"], strict=True)) == {m: colours(window_models)[m] for m in models}


def test_a_project_filter_changes_the_rows_not_the_titles_or_legend(app_env):
    _, truth = app_env
    at = page_app("pages/overview.py").run()
    before, _ = _bars(at)
    at.sidebar.multiselect(key="f_project").set_value(["search"]).run()
    assert not at.exception, at.exception
    after, bars = _bars(at)
    rows = truth.window(*last_days(30), project="search")
    assert bars["value"].sum() == pytest.approx(Truth.spend(rows), abs=1e-6)
    assert after == before  # the same spec: the browser updates the chart it drew (pages/_bars.py)


def test_a_hostile_model_name_is_a_plain_text_label(hostile_env):
    at = page_app("pages/overview.py").run()
    assert not at.exception, at.exception
    _, bars = _bars(at)
    assert short(HOSTILE_MODEL) in set(bars["label"])  # as text: Vega draws no markup (the browser test hovers it)
    assert not any("&lt;" in label or "&amp;" in label for label in bars["label"])


def test_more_names_than_colours_still_draw_and_the_first_ones_stay_apart():
    import pandas as pd

    from pages._bars import live_bars
    from pages._ui import PALETTE

    names = [f"m{i:02d}" for i in range(len(PALETTE) + 5)]
    df = pd.DataFrame({"bucket": pd.Timestamp("2026-11-30", tz="UTC"), "model": names, "spend": [1.0] * len(names)})
    bars = live_bars(df, "spend", "model", "t", "y", {}, "day")
    assert len(bars.data) == len(names) and bars.data["high"].max() == len(names)
    assert bars.data["colour"].head(len(PALETTE)).nunique() == len(PALETTE)
    scale = bars.spec["encoding"]["color"]["scale"]  # colours repeat: the spec pairs them, not Vega's sort
    assert scale == {"domain": names, "range": bars.data["colour"].tolist()}


def _place(at) -> int:
    """Where the chart sits among the page's top-level elements."""
    return next(i for i, node in at.main.children.items() if node.type == "vega_lite_chart")


def test_the_chart_keeps_its_place_when_the_unpriced_banner_goes(app_env):
    """The browser draws a chart in place of the one before only at the same place: one that moved is mounted
    and drawn afresh (docs/dashboard.md, filter change), so no element above it comes and goes."""
    at = page_app("pages/overview.py").run()
    assert [w for w in at.warning if "no price" in w.value]  # acme-finetune-1's
    before = _place(at)
    at.sidebar.multiselect(key="f_model").set_value(["mistral-large-latest"]).run()
    assert not at.exception, at.exception
    assert not [w for w in at.warning if "no price" in w.value]
    assert _place(at) == before


def test_spend_s_bars_by_project_sum_to_each_project_s_spend_and_tokens(app_env):
    _, truth = app_env
    at = page_app("pages/spend.py").run()
    at.selectbox(key="spend_dim").set_value("project").run()
    assert not at.exception, at.exception
    (spend_spec, spend), (tokens_spec, tokens), (_, mix) = ((s, r.to_pandas()) for s, r in vega_charts(at))
    assert spend_spec["title"]["text"] == "Spend per day by project (USD)"
    assert tokens_spec["title"]["text"] == "Tokens per day by project"
    rows = truth.window(*last_days(30))
    prompt, cached, output = (pc.sum(rows[c]).as_py() for c in ("prompt_tokens", "cached_tokens", "completion_tokens"))
    kinds = mix.groupby("label")["value"].sum()  # Spend's token mix, stacked bars too
    assert kinds.to_dict() == {"Input (not cached)": prompt - cached, "Input (cached)": cached, "Output": output}
    projects = [p if p is not None else "(no project)" for p in pc.unique(rows["project"]).to_pylist()]
    got_spend, got_tokens = spend.groupby("label")["value"].sum(), tokens.groupby("label")["value"].sum()
    assert sorted(got_tokens.index) == sorted(projects)
    for project in projects:
        of = pc.is_null(rows["project"]) if project == "(no project)" else pc.equal(rows["project"], project)
        mine = rows.filter(of)
        assert got_tokens[project] == pc.sum(mine["prompt_tokens"]).as_py() + pc.sum(mine["completion_tokens"]).as_py()
        assert got_spend[project] == pytest.approx(Truth.spend(mine.filter(pc.is_valid(mine["cost"]))), abs=1e-6)
    assert dict(zip(spend["label"], spend["colour"], strict=True)) == dict(
        zip(tokens["label"], tokens["colour"], strict=True)
    )
    assert spend["colour"].nunique() == spend["label"].nunique()  # no model colours: PALETTE in turn, each its own
