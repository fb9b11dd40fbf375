"""Explore's chart (pages/_bars.py, Vega-Lite): its lines hold each model's spend per day as pyarrow sums it, an
unpriced model reads "(unpriced)" with no point (never 0), a second group-by splits lines instead of zig-zagging
one, and a sidebar filter changes the rows, not the spec."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

from pages._ui import colours
from tests.support.dashboard import Truth, vega_charts

from .test_app import last_days, page_app

pytestmark = pytest.mark.slow


def _chart(at):
    assert not at.exception, at.exception
    ((spec, rows),) = vega_charts(at)
    return spec, rows.to_pandas()


def test_each_model_s_line_holds_its_spend_in_its_colour(app_env):
    _, truth = app_env
    spec, lines = _chart(page_app("pages/explore.py").run())
    rows = truth.window(*last_days(30))
    models = pc.unique(rows["model"]).to_pylist()
    assert len(models) <= 12  # every model drawn
    unpriced = lines[lines["label"] == "acme-finetune-1 (unpriced)"]
    assert len(unpriced) and unpriced["value"].isna().all()  # no point, never 0
    got = lines[lines["label"] != "acme-finetune-1 (unpriced)"].groupby("label")["value"].sum()
    assert sorted(got.index) == sorted(set(models) - {"acme-finetune-1"})
    for model in got.index:
        assert got[model] == pytest.approx(Truth.spend(truth.window(*last_days(30), model=model)), abs=1e-6)
    expected = colours(models)
    paired = dict(zip(lines["label"], lines["colour"], strict=True))
    assert paired == {**{m: expected[m] for m in got.index}, "acme-finetune-1 (unpriced)": expected["acme-finetune-1"]}
    assert spec["title"]["text"] == "Spend (USD) by model per day"


def test_a_second_group_splits_the_lines_and_a_filter_keeps_the_spec(app_env):
    _, truth = app_env
    at = page_app("pages/explore.py").run()
    at.multiselect(key="ex_group").set_value(["model", "project"]).run()
    spec, lines = _chart(at)
    assert spec["encoding"]["detail"] == {"field": "detail", "type": "nominal"}
    assert not lines.duplicated(["label", "detail", "start"]).any()  # one point per line and day
    at.sidebar.multiselect(key="f_project").set_value(["search"]).run()
    after, filtered = _chart(at)
    assert after == spec
    assert set(filtered["detail"]) == {"search"}
    priced = truth.window(*last_days(30), project="search")
    assert filtered["value"].sum() == pytest.approx(Truth.spend(priced), abs=1e-6)


LONG = "org-acme/finetuned-mistral-small-2506-support-v12"  # 49 characters: `short` cuts it


def test_a_long_unpriced_name_keeps_its_unpriced_mark(tmp_path, monkeypatch):
    """The mark is added after the name is cut: "(unpriced)" cut off with the name's tail read as a priced model."""
    from datetime import UTC, datetime, timedelta

    from pages._text import short
    from tests.support.alerts import rows

    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    made = [{"timestamp": now - timedelta(days=d), "cost": None, "model": LONG, "currency": "USD"} for d in (1, 2)]
    made += [{"timestamp": now - timedelta(days=d), "cost": 1.0, "currency": "USD"} for d in (1, 2)]
    rows(tmp_path, made)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MONITOR_TIMEZONE", "UTC")
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    at = page_app("pages/explore.py").run()
    for grain in ("day", "none"):
        at.selectbox(key="ex_grain").set_value(grain).run()
        _, drawn = _chart(at)
        assert f"{short(LONG)} (unpriced)" in set(drawn["label"]), grain
