"""The Spend page's unit costs as a first-time user reads them (AppTest): a priced model without
tokens (OCR is priced per page) has no cost per 1M tokens, which is "n/a", not "unpriced"."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support.alerts import rows

from .test_app import page_app

pytestmark = pytest.mark.slow

OCTOBER = {"range": "custom", "from": "2026-10-01", "to": "2026-10-31"}


@pytest.fixture
def ledger(tmp_path, monkeypatch):
    day = datetime(2026, 10, 5, 12, tzinfo=UTC)
    no_tokens = {"prompt_tokens": 0, "completion_tokens": 0}
    rows(
        tmp_path,
        [
            {"timestamp": day, "cost": 2.0, "currency": "USD"},
            {"timestamp": day, "cost": 3.0, "currency": "USD", "model": "mistral-ocr-latest", **no_tokens},
            {"timestamp": day, "cost": None, "currency": "USD", "model": "acme-ft"},
        ],
    )
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MONITOR_TIMEZONE", "UTC")
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    return tmp_path


def test_unit_costs_say_unpriced_only_for_a_model_without_a_price(ledger):
    at = page_app("pages/spend.py")
    at.query_params.update(OCTOBER)
    at.run()
    assert not at.exception, at.exception
    costs = next(f.value for f in at.dataframe if "cost_per_1m_tokens" in f.value.columns).set_index("model")
    assert costs.loc["mistral-ocr-latest", "cost_per_1m_tokens"] == "n/a"  # priced per page: no tokens
    assert costs.loc["mistral-ocr-latest", "cost_per_1k_requests"] == "3,000.0000 USD"
    assert costs.loc["acme-ft", "cost_per_1m_tokens"] == "unpriced"
    assert costs.loc["mistral-small-latest", "spend"] == "$2.00"
