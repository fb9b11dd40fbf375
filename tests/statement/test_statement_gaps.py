"""Days inside the ledger's span that hold no request (the collector down, or a quiet day): the statement's spend
leaves them out, so the page and the email name them; days before the ledger's first day stay "not covered".

Expected days are written out by hand from the rows each test writes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from alerts._statement import compose
from ledger.queries.statement import statement
from tests.support.alerts import rows

from .test_statement_page import page_script

pytestmark = pytest.mark.slow
GAP = (date(2026, 10, 10), date(2026, 10, 11))


@pytest.fixture
def gapped(tmp_path, monkeypatch):
    """A request a day from 2026-09-20 to 2026-11-02, but none on 2026-10-10 and 2026-10-11."""
    days = [date(2026, 9, 20) + timedelta(days=i) for i in range(44)]
    held = [d for d in days if d not in GAP]
    noon = [datetime(d.year, d.month, d.day, 12, tzinfo=UTC) for d in held]
    rows(tmp_path, [{"timestamp": t, "cost": 1.0, "currency": "USD"} for t in noon])
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    return tmp_path


def test_the_statement_names_the_days_with_no_request(gapped):
    october = statement(gapped, "2026-10", "UTC", "USD")
    assert october.empty_days == GAP and not october.partial
    assert october.total.iloc[0]["spend"] == pytest.approx(29.0)  # 31 days, 2 of them empty
    assert statement(gapped, "2026-09", "UTC", "USD").empty_days == ()  # from the 20th: partial, not empty
    assert october.only("search").empty_days == GAP


def test_the_page_and_the_email_say_which_days(gapped):
    app = AppTest.from_function(page_script, default_timeout=60).run()
    app.selectbox(key="statement_month").select("2026-10").run()
    assert not app.exception, app.exception
    notes = [c.value for c in app.caption if "No request at all" in c.value]
    assert notes and notes[0].startswith("No request at all on 2 day(s) of 2026-10 (UTC): 2026-10-10, 2026-10-11.")
    app.selectbox(key="statement_month").select("2026-09").run()
    assert not [c.value for c in app.caption if "No request at all" in c.value]
    mail = compose("lead@example.com", statement(gapped, "2026-10", "UTC", "USD").only("search"), "search")
    assert "Days with no request in the ledger (UTC): 2026-10-10, 2026-10-11" in mail["text"]
