"""The Statement page (AppTest): its tables equal sums of the rows the test wrote; names stay out of markdown."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from streamlit.testing.v1 import AppTest

from tests.support.alerts import rows

pytestmark = pytest.mark.slow

HOSTILE = "[click](http://evil.test)"
OCTOBER = {"range": "custom", "from": "2026-10-01", "to": "2026-10-31"}
"""A fixed sidebar window over the test's data (the default, the last 30 days, moves with the date)."""


def page_script() -> None:
    import runpy

    from pages._frame import draw_frame

    if draw_frame() is not None:
        runpy.run_path("pages/statement.py")


@pytest.fixture
def ledger(tmp_path, monkeypatch):
    at = lambda d, h=12: datetime(2026, 10, d, h, tzinfo=UTC)  # noqa: E731
    rows(
        tmp_path,
        [
            {"timestamp": datetime(2026, 9, 3, 12, tzinfo=UTC), "cost": 4.0, "currency": "USD"},
            {"timestamp": at(1), "cost": 1.5, "currency": "USD"},
            {"timestamp": at(2), "cost": 2.5, "currency": "USD", "status_code": 429},
            {"timestamp": at(3), "cost": None, "currency": "USD", "model": "acme-ft"},
            {"timestamp": at(4), "cost": 3.0, "currency": "USD", "project": HOSTILE, "model": HOSTILE},
            {"timestamp": datetime(2026, 11, 1, 0, 30, tzinfo=UTC), "cost": 50.0, "currency": "USD"},
        ],
    )
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    return tmp_path


def test_statement_page_shows_the_month_per_project_and_per_model(ledger):
    app = AppTest.from_function(page_script, default_timeout=60).run()
    assert not app.exception, app.exception
    app.selectbox(key="statement_month").select("2026-10").run()
    assert not app.exception, app.exception
    assert app.title[0].value == "Statement"
    totals = app.dataframe[0].value.set_index("Project")
    assert totals.loc["search", "Spend 2026-10"] == f"${1.5 + 2.5:.2f}"
    assert totals.loc["search", "Spend 2026-09"] == "$4.00"
    assert (totals.loc["search", "Requests"], totals.loc["search", "Errors"]) == ("3", "1")
    assert totals.loc["search", "Requests without a price"] == "1"
    assert totals.loc[HOSTILE, "Spend 2026-10"] == "$3.00"  # the name, as it is, in a table
    assert totals.loc[HOSTILE, "Change %"] == "new"
    assert totals.loc["Total", "Spend 2026-10"] == "$7.00" and totals.loc["Total", "Requests"] == "4"
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Spend 2026-10"] == "$7.00" and metrics["Spend 2026-09"] == "$4.00"
    assert metrics["Requests"] == "4" and metrics["Errors"] == "1"
    app.selectbox(key="statement_scope").select("search").run()
    lines = app.dataframe[1].value
    assert set(lines["Project"]) == {"search", "Total"}
    assert lines.set_index("Model").loc["mistral-small-latest", "Spend 2026-10"] == "$4.00"
    text = " ".join([*(m.value for m in app.markdown), *(c.value for c in app.caption), *(i.value for i in app.info)])
    assert "evil.test" not in text and "click" not in text and "no conversion applied" in text.lower(), text


def test_per_api_key(ledger):
    app = AppTest.from_function(page_script, default_timeout=60).run()
    app.selectbox(key="statement_month").select("2026-10").run()
    app.radio(key="statement_by").set_value("api_key").run()
    assert not app.exception, app.exception
    totals = app.dataframe[0].value.set_index("API key")
    assert totals.loc["key_a", "Spend 2026-10"] == "$7.00" and totals.loc["key_a", "Requests"] == "4"


def test_per_api_key_shows_key_labels_in_tables_picker_and_sidebar(ledger):
    (ledger / "budgets.toml").write_text('[key_labels]\nkey_a = "search prod"\n')
    app = AppTest.from_function(page_script, default_timeout=60)
    app.query_params.update(OCTOBER)  # the sidebar's window holds the data whatever today is
    app.run()
    app.selectbox(key="statement_month").select("2026-10").run()
    app.radio(key="statement_by").set_value("api_key").run()
    assert not app.exception, app.exception
    totals = app.dataframe[0].value.set_index("API key")
    assert "key_a" not in totals.index and totals.loc["search prod", "Spend 2026-10"] == "$7.00"
    assert "search prod" in app.selectbox(key="statement_scope").options
    assert "search prod" in app.multiselect(key="f_key").options
