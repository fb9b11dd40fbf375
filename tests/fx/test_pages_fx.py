"""The Spend and Overview pages (AppTest): converted spend, the rate and its date, and missing days named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.test_app import page_app
from tests.support.alerts import rows
from tests.support.dashboard import tiles

from .conftest import write_rates

pytestmark = pytest.mark.slow


@pytest.fixture
def recent(usd_config):
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    days = [today - timedelta(days=n) for n in (20, 3, 2)]
    rows(
        usd_config,
        [
            {"timestamp": days[0] + timedelta(hours=10), "cost": 6.0, "currency": "EUR"},  # no rate that day
            {"timestamp": days[1] + timedelta(hours=10), "cost": 10.0, "currency": "EUR"},
            {"timestamp": days[2] + timedelta(hours=10), "cost": 2.0, "currency": "USD"},
        ],
    )
    write_rates(usd_config, {days[1].date(): 1.25})
    return days


def text_of(at: AppTest) -> str:
    return "\n".join([*(c.value for c in at.caption), *(w.value for w in at.warning)])


def test_spend_page_shows_converted_spend_rate_date_and_missing_day(recent):
    at = page_app("pages/spend.py").run()
    assert not at.exception, at.exception
    spend = next(m.value for m in at.metric if m.label.startswith("Spend in"))
    assert spend == "$14.50"  # 10 EUR x 1.25 + 2 USD; the 6 EUR of a day without rate left out, not added as 6
    text = text_of(at)
    assert f"EUR→USD 1.2500 (rate of {recent[1].date().isoformat()})" in text, text
    assert f"No EUR→USD rate for {recent[0].date().isoformat()}: 1 requests (6.0000 EUR)" in text, text


def test_overview_tile_is_the_converted_spend(recent):
    at = page_app("pages/overview.py").run()
    assert not at.exception, at.exception
    assert {t.label: t.value for t in tiles(at)}["Spend (USD)"] == "$14.50"
    assert "left out of the spend" in text_of(at)
