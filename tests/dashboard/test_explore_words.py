"""Explore as a first-time user reads it (AppTest on the seeded ledger): a model without a price reads
"unpriced" in the Spend column (it read None), money has 2 decimals, headers and pickers are words;
the numbers stay numbers underneath (sorting, downloads)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from foundation.money import COLUMN_FORMAT
from tests.support.dashboard import vega_charts

from .test_app import page_app

pytestmark = pytest.mark.slow


def columns(element) -> dict[str, dict]:
    return json.loads(element.proto.columns)


def labels(element) -> dict[str, str | None]:
    return {k: v.get("label") for k, v in columns(element).items()}


def test_an_unpriced_model_reads_unpriced_in_the_spend_column_not_none(app_env):
    at = page_app("pages/explore.py").run()
    at.selectbox(key="ex_grain").set_value("none").run()
    assert not at.exception, at.exception
    table = at.dataframe[0]
    data = table.value.set_index("model")
    assert pd.isna(data.loc["acme-finetune-1", "spend"])  # unknown underneath, never 0
    assert table.proto.placeholder == "unpriced"  # what a missing spend reads (it read None)
    assert data.drop(index="acme-finetune-1")["spend"].notna().all()  # the only missing cell is its spend
    assert columns(table)["spend"]["type_config"]["format"] == COLUMN_FORMAT  # 2 decimals, not 0.511275
    ((spec, rows),) = vega_charts(at)
    bars = rows.to_pandas().set_index("x")
    assert pd.isna(bars.loc["acme-finetune-1 (unpriced)", "value"])  # no bar, not a 0 bar
    assert bars["value"].drop(index="acme-finetune-1 (unpriced)").notna().all()
    word = spec["layer"][1]  # its empty slot says why
    assert word["mark"]["type"] == "text" and word["encoding"]["text"] == {"value": "unpriced"}
    assert word["transform"] == [{"filter": "!isValid(datum.value)"}]
    at.selectbox(key="ex_measure").set_value("error_rate").run()
    assert at.dataframe[0].proto.placeholder == "n/a"  # no price has nothing to do with an unknown rate


def test_explore_speaks_in_words(app_env):
    at = page_app("pages/explore.py").run()
    assert not at.exception, at.exception
    names = labels(at.dataframe[0])
    assert names["model"] == "Model" and names["spend"].startswith("Spend")
    group = at.multiselect(key="ex_group")
    assert group.format_func("api_key") == "API key" and group.format_func("status_class") == "Status class"
    measure = at.selectbox(key="ex_measure")
    assert measure.format_func("prompt_tokens") == "Input tokens" and measure.format_func("error_rate") == "Error rate"
    at.selectbox(key="ex_measure").set_value("error_rate").run()
    assert labels(at.dataframe[0])["error_rate"] == "Error rate"


def test_a_sql_null_reads_null(app_env):
    at = page_app("pages/explore.py").run()
    at.text_area(key="ex_sql").set_value("SELECT NULL AS nothing, 1 AS one").run()
    at.button(key="ex_run").click().run()
    assert not at.exception, at.exception
    result = at.dataframe[-1]
    assert list(result.value.columns) == ["nothing", "one"] and result.value["nothing"].isna().all()
    assert result.proto.placeholder == "NULL"  # what SQL calls it, not Python's None
