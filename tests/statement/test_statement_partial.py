"""A previous month the ledger covers only in part (it starts on the 25th): the change reads "partial",
never a percentage of a few days' spend (it read +954%), and the page, the email and the CSV say which
days are covered; "new" and "no data" keep their meaning.

Expected texts are written out by hand from the rows each test writes.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime

import pytest
from streamlit.testing.v1 import AppTest

from alerts._statement import compose
from ledger.queries.statement import PARTIAL, readable, statement, statement_csv
from tests.support.alerts import rows

from .test_statement_page import page_script

pytestmark = pytest.mark.slow


def at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 12, tzinfo=UTC)


@pytest.fixture
def late_start(tmp_path, monkeypatch):
    """The ledger starts on 2026-09-25 and holds every day of October."""
    rows(
        tmp_path,
        [
            {"timestamp": at(9, 25), "cost": 1.0, "currency": "USD"},
            {"timestamp": at(10, 1), "cost": 5.0, "currency": "USD"},
            {"timestamp": at(10, 31), "cost": 5.54, "currency": "USD"},
            {"timestamp": at(10, 15), "cost": 2.0, "currency": "USD", "model": "mistral-large-2512"},
            {"timestamp": at(10, 16), "cost": 3.0, "currency": "USD", "project": "ocr"},
        ],
    )
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    return tmp_path


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "America/New_York"])
def test_the_statement_knows_which_days_of_each_month_the_ledger_covers(late_start, zone):
    stmt = statement(late_start, "2026-10", zone, "USD")
    assert stmt.days == (date(2026, 10, 1), date(2026, 10, 31)) and not stmt.partial
    assert stmt.previous_days[1] == date(2026, 9, 30) and stmt.previous_partial
    assert stmt.previous_days[0] == (date(2026, 9, 24) if zone == "America/New_York" else date(2026, 9, 25))
    assert statement(late_start, "2026-11", zone, "USD").previous_days == stmt.days
    if zone == "UTC":
        assert statement(late_start, "2026-11", zone, "USD").days is None


def test_a_partly_covered_previous_month_gives_partial_not_a_percentage(late_start):
    stmt = statement(late_start, "2026-10", "UTC", "USD")
    assert stmt.headline.change is None  # was "+1454.0%": 15.54 against one day's 1.00
    totals = readable(stmt, stmt.totals).set_index("Project")
    assert totals.loc["search", "Change %"] == PARTIAL == "partial"
    assert totals.loc["ocr", "Change %"] == "new"  # no request on the days covered
    assert totals.loc["Total", "Change %"] == "partial"
    assert totals.loc["search", "Spend 2026-09"] == "$1.00"  # what the covered days hold
    assert totals.loc["search", "Change"] == "partial"  # no +$11.54 against a few days either
    assert totals.loc["ocr", "Change"] == "$3.00"  # a new project's change is its spend
    lines = readable(stmt, stmt.only("search").lines).set_index("Model")
    assert lines.loc["mistral-small-latest", "Change %"] == "partial"
    assert lines.loc["mistral-large-2512", "Change %"] == "new"


def test_the_csv_says_the_coverage_in_columns_of_its_own_and_no_percentage_of_a_partial_month(late_start):
    stmt = statement(late_start, "2026-10", "UTC", "USD")
    table = list(csv.DictReader(io.StringIO(statement_csv(stmt).decode())))
    small = next(r for r in table if (r["project"], r["model"]) == ("search", "mistral-small-latest"))
    assert list(small)[-4:] == ["covered_from", "covered_to", "previous_covered_from", "previous_covered_to"]
    assert (small["covered_from"], small["covered_to"]) == ("2026-10-01", "2026-10-31")
    assert (small["previous_covered_from"], small["previous_covered_to"]) == ("2026-09-25", "2026-09-30")
    assert small["change_pct"] == ""  # no percentage of a partial month; the numbers stay numbers
    assert float(small["spend"]) == pytest.approx(10.54) and float(small["change"]) == pytest.approx(9.54)
    november = statement_csv(statement(late_start, "2026-11", "UTC", "USD"))
    uncovered = list(csv.DictReader(io.StringIO(november.decode())))
    assert all(r["covered_from"] == "" and r["previous_covered_from"] == "2026-10-01" for r in uncovered)


def test_the_email_says_partial_and_which_days(late_start):
    stmt = statement(late_start, "2026-10", "UTC", "USD").only("search")
    mail = compose("lead@example.com", stmt, "search")
    assert mail["subject"] == "[Mistral statement] search 2026-10: USD 12.54 (partial 2026-09)"
    assert "Change from 2026-09: partial 2026-09 (the ledger covers 2026-09-25 to 2026-09-30 only)" in mail["text"]
    assert "  - mistral-small-latest: USD 10.54, partial, 2 requests, 0 errors" in mail["text"]
    assert "  - mistral-large-2512: USD 2.00, new, 1 requests, 0 errors" in mail["text"]
    assert "%" not in mail["subject"] and "+" not in mail["text"].split("By model")[1]


def test_the_page_says_partial_and_names_the_covered_days(late_start):
    app = AppTest.from_function(page_script, default_timeout=60).run()
    app.selectbox(key="statement_month").select("2026-10").run()
    assert not app.exception, app.exception
    totals = app.dataframe[0].value.set_index("Project")
    assert totals.loc["search", "Change %"] == "partial" and totals.loc["ocr", "Change %"] == "new"
    top = next(m for m in app.metric if m.label == "Spend 2026-10")
    assert top.value == "$15.54" and not top.delta  # no "+1454.0% vs 2026-09"
    aligned = {k: v.get("alignment") for k, v in json.loads(app.dataframe[0].proto.columns).items()}
    assert aligned["Spend 2026-10"] == aligned["Change %"] == aligned["Requests"] == "right"  # figures line up
    assert aligned.get("Project") is None
    text = " ".join(c.value for c in app.caption)
    assert "2026-09-25 to 2026-09-30" in text and "partial" in text, text
