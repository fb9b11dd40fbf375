"""The Savings page and the Overview's Anomalies panel under AppTest, on hand-written ledgers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from alerts import StateStore
from foundation.money import money
from tests.dashboard.test_app import page_app
from tests.savings.test_levers import data, price  # noqa: F401  (the seeded ledger fixture)

CONFIG = """
data_dir = "{data}"
timezone = "UTC"
currency = "USD"

[savings]
offline_projects = ["nightly"]
"""


@pytest.fixture
def env(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # noqa: F811
    config = tmp_path / "monitor.toml"
    config.write_text(CONFIG.format(data=data))
    monkeypatch.setenv("MONITOR_CONFIG", str(config))
    return data


def november(page: str) -> AppTest:
    at = page_app(page)
    at.query_params["range"] = "custom"
    at.query_params["from"] = "2026-11-01"
    at.query_params["to"] = "2026-11-30"
    return at.run()


@pytest.mark.slow
def test_the_savings_tiles_equal_the_hand_computed_figures_with_their_formulas(env):
    at = november("pages/savings.py")
    assert not at.exception, at.exception
    tiles = {m.label: m for m in at.metric}
    large_in, large_cached, _ = price("mistral-large-2512")
    medium_in, medium_cached, _ = price("mistral-medium-2508")
    caching = (0.5 * 1_500_000 - 500_000) * (large_in - large_cached) / 1e6
    caching += 0.5 * 180_000 * (medium_in - medium_cached) / 1e6
    assert tiles["Caching at 50%"].value == money(caching, "USD")
    assert tiles["Batch API"].value == money(1.0 + 1.5 + 0.025, "USD")
    assert tiles["Premiums"].value == money(0.75 + 0.1, "USD")
    assert tiles["Errors, retries"].value == money(0.6 + 0.8, "USD")
    assert tiles["Cancelled"].value == money(1.2, "USD")
    assert "target hit rate x prompt tokens - cached tokens" in tiles["Caching at 50%"].proto.help
    assert "not streamed, not already batch" in tiles["Batch API"].proto.help
    assert tiles["Offline projects"].value == money(1.0, "USD")
    captions = " ".join(c.value for c in at.caption)
    assert "`[savings] offline_projects` in the config: nightly" in captions
    columns = [c for df in at.dataframe for c in json.loads(df.proto.columns).values()]
    money_columns = [c for c in columns if str(c.get("label", "")).endswith("(USD)")]
    assert {c["label"] for c in money_columns} >= {"Would save (USD)", "Spend (USD)", "Premium paid (USD)"}
    assert {c["type_config"]["format"] for c in money_columns} == {"%.2f"}  # the display currency, 2 decimals


@pytest.mark.slow
def test_the_rows_behind_a_figure_are_listed(env):
    at = november("pages/savings.py")
    frames = [df.value for df in at.dataframe if "id" in df.value.columns]
    retries = [f for f in frames if sorted(f["id"]) == ["retry-failed", "retry-ok"]]
    assert retries, [sorted(f["id"]) for f in frames]


@pytest.mark.slow
def test_the_overview_lists_open_and_resolved_anomalies_with_their_views(env):
    with StateStore(env).locked() as state:
        state["history"] += [
            {"at": "2026-11-20T09:05:00+00:00", "key": "anomaly_hour:api_key:key_a", "rule": "anomaly_hour",
             "scope": "API key nightly (key_a), project nightly", "kind": "fired", "subject": "unusual spend on key_a",
             "link": "http://dash.test/spend?key=key_a"},
            {"at": "2026-11-20T11:05:00+00:00", "key": "anomaly_hour:api_key:key_a", "rule": "anomaly_hour",
             "scope": "API key nightly (key_a), project nightly", "kind": "resolved", "subject": "back",
             "link": None},
            {"at": "2099-01-01T10:00:00+00:00", "key": "anomaly_day:model:m", "rule": "anomaly_day",
             "scope": "model m", "kind": "fired", "subject": "unusual spend on model m",
             "link": "http://dash.test/spend?model=m"},
        ]  # fmt: skip
        StateStore(env).save(state)
    at = november("pages/overview.py")
    assert not at.exception, at.exception
    [table] = [df.value for df in at.dataframe if "state" in df.value.columns]
    assert list(table["state"]) == ["open", "resolved"] or list(table["state"]) == ["open"]
    first = table.iloc[0]
    assert (first["scope"], first["window"], first["view"]) == (
        "model m",
        "last 24 hours",
        "http://dash.test/spend?model=m",
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            {"offline_projects": 5},
            'savings.offline_projects: expected a list of project names, got 5; write ["batch-jobs"]',
        ),
        ({"offline": ["a"]}, "savings.offline: unknown key; remove it or use one of offline_projects"),
    ],
)
def test_a_bad_savings_table_names_the_key_and_the_fix(table, message):
    from foundation.config import parse_config
    from foundation.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        parse_config({"savings": table}, base=Path("."))
    assert str(caught.value) == message


@pytest.mark.slow
def test_the_rows_behind_each_lever_show_a_dash_for_an_unknown_cell_not_none(env):
    at = november("pages/savings.py")
    behind = [f for f in at.dataframe if "tokens_estimated" in f.value.columns]
    assert behind and any(f.value.isna().any().any() for f in behind)  # ledger rows hold missing cells
    assert {f.proto.placeholder for f in behind} == {"—"}


@pytest.mark.slow
def test_unit_price_headers_name_the_currency(env):
    at = november("pages/savings.py")
    caching = next(f for f in at.dataframe if "input_per_1m" in f.value.columns)
    labels = {k: v.get("label") for k, v in json.loads(caching.proto.columns).items()}
    assert (labels["input_per_1m"], labels["cached_per_1m"]) == ("Input (USD /1M)", "Cached input (USD /1M)")
