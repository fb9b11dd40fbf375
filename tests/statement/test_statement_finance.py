"""The statement for finance: 2-decimal money, words for headers, "new", "no data", a total row;
the CSV keeps its machine columns and full precision.

Expected texts are written out by hand from the rows each test writes.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from streamlit.testing.v1 import AppTest

from alerts._statement import compose
from ledger.queries.statement import COVERAGE_COLUMNS, LINE_COLUMNS, readable, statement, statement_csv
from tests.support.alerts import rows

from .test_statement_page import page_script


def october(day: int) -> datetime:
    return datetime(2026, 10, day, 12, tzinfo=UTC)


@pytest.fixture
def october_only(tmp_path, monkeypatch):
    """A ledger that starts in October: September is not covered, November neither."""
    rows(
        tmp_path,
        [
            {"timestamp": october(1), "cost": 170.4215, "currency": "USD", "model": "mistral-large-2512"},
            {"timestamp": october(2), "cost": 0.0049, "currency": "USD"},
            {"timestamp": october(3), "cost": None, "currency": "USD", "model": "acme-ft"},
            {"timestamp": october(4), "cost": 2.0, "currency": "USD", "project": "chat", "status_code": 500},
        ],
    )
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    return tmp_path


def test_the_page_shows_finance_figures_and_no_data_for_an_uncovered_month(october_only):
    app = AppTest.from_function(page_script, default_timeout=60).run()
    app.selectbox(key="statement_month").select("2026-10").run()
    assert not app.exception, app.exception
    totals = app.dataframe[0].value.set_index("Project")
    assert list(totals.columns) == [
        "Spend 2026-10",
        "Spend 2026-09",
        "Change",
        "Change %",
        "Requests",
        "Errors",
        "Error rate",
        "Requests without a price",
        "Requests without a rate",
    ]
    assert totals.loc["search", "Spend 2026-10"] == "$170.43"  # 170.4215 + 0.0049
    assert totals.loc["chat", "Spend 2026-10"] == "$2.00"
    assert set(totals["Spend 2026-09"]) == {"no data"} and set(totals["Change %"]) == {"no data"}
    assert totals.loc["Total", "Spend 2026-10"] == "$172.43" and totals.loc["Total", "Requests"] == "4"
    assert totals.loc["Total", "Errors"] == "1" and totals.loc["Total", "Error rate"] == "25.00%"
    assert totals.loc["Total", "Requests without a price"] == "1"
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Spend 2026-10"] == "$172.43" and metrics["Spend 2026-09"] == "no data"
    app.selectbox(key="statement_scope").select("search").run()
    lines = app.dataframe[1].value.set_index("Model")
    assert lines.loc["mistral-large-2512", "Spend 2026-10"] == "$170.42"
    assert lines.loc["mistral-small-latest", "Spend 2026-10"] == "$0.00"  # not $0.0049
    assert lines.loc["", "Project"] == "Total" and lines.loc["", "Spend 2026-10"] == "$170.43"
    assert lines.loc["acme-ft", "Spend 2026-10"] == "unpriced"  # no price: not $0.00
    text = " ".join(str(v) for v in app.dataframe[1].value.to_numpy().ravel())
    assert "None" not in text and "nan" not in text


def test_new_project_and_model_against_a_covered_month(october_only):
    november = datetime(2026, 11, 2, 12, tzinfo=UTC)
    rows(
        october_only,
        [
            {"timestamp": november, "cost": 1.0, "currency": "USD"},
            {"timestamp": november, "cost": 3.0, "currency": "USD", "model": "mistral-medium-3-5"},
            {"timestamp": november, "cost": 5.0, "currency": "USD", "project": "ocr"},
        ],
    )
    stmt = statement(october_only, "2026-11", "UTC", "USD")
    assert stmt.covered and stmt.previous_covered
    lines = readable(stmt, stmt.only("search").lines).set_index("Model")
    assert lines.loc["mistral-medium-3-5", "Change %"] == "new"
    assert lines.loc["mistral-small-latest", "Change %"] == "+20308.2%"  # 1.0 against 0.0049
    assert lines.loc["mistral-large-2512", "Change %"] == "-100.0%"
    assert lines.loc["mistral-large-2512", "Spend 2026-11"] == "$0.00"
    assert lines.loc["acme-ft", "Change %"] == "no spend in 2026-10"  # requests, but no price: not "new"
    totals = readable(stmt, stmt.totals).set_index("Project")
    assert totals.loc["ocr", "Change %"] == "new" and totals.loc["ocr", "Spend 2026-10"] == "$0.00"


def test_a_month_the_ledger_does_not_cover_reads_no_data(october_only):
    stmt = statement(october_only, "2026-11", "UTC", "USD")
    assert (stmt.covered, stmt.previous_covered) == (False, True)
    table = readable(stmt, stmt.totals).set_index("Project")
    assert set(table["Spend 2026-11"]) == {"no data"} and set(table["Change %"]) == {"no data"}
    assert table.loc["search", "Spend 2026-10"] == "$170.43"


def test_the_csv_keeps_machine_columns_and_full_precision(october_only):
    stmt = statement(october_only, "2026-10", "UTC", "USD")
    table = list(csv.DictReader(io.StringIO(statement_csv(stmt).decode())))
    assert list(table[0]) == [
        "month",
        "project",
        *LINE_COLUMNS,
        "previous_month",
        "rate",
        "rate_note",
        *COVERAGE_COLUMNS,
    ]
    large = next(r for r in table if r["model"] == "mistral-large-2512")
    assert float(large["spend"]) == 170.4215 and large["previous_spend"] == "0.0"


def test_the_email_says_no_data_new_and_two_decimals(october_only):
    stmt = statement(october_only, "2026-10", "UTC", "USD").only("search")
    mail = compose("lead@example.com", stmt, "search")
    assert mail["subject"] == "[Mistral statement] search 2026-10: USD 170.43 (no data for 2026-09)"
    assert "  - mistral-large-2512: USD 170.42, no data, 1 requests, 0 errors" in mail["text"]
    assert "  - Total: USD 170.43, no data, 3 requests, 0 errors" in mail["text"]
    assert "  - acme-ft: unpriced, no data, 1 requests, 0 errors" in mail["text"]
    assert "Change from 2026-09: no data for 2026-09" in mail["text"]
