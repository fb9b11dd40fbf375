"""The Reconciliation page over the partly readable month: headline figures over comparable
models, the unreadable bills listed beside them with their raw entries (AppTest)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.support.billing import ENV, SECRET

from . import fake_admin
from . import scenario as s
from .test_reconciliation_page import page_script
from .test_statuses import two_fetches

pytestmark = pytest.mark.slow


@pytest.fixture
def month_data(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, SECRET)
    data = tmp_path / "data"
    s.write_measured(data)
    with fake_admin.serve() as admin:
        two_fetches(data, admin)
    config = tmp_path / "monitor.toml"
    config.write_text(f'data_dir = "{data}"\ncurrency = "EUR"\n')
    monkeypatch.setenv("MONITOR_CONFIG", str(config))
    monkeypatch.delenv("DATA_DIR", raising=False)
    return data


def test_headline_is_over_comparable_models_and_unreadable_bills_are_shown(month_data):
    app = AppTest.from_function(page_script, default_timeout=60).run()
    next(box for box in app.selectbox if box.label == "Month").select(s.MONTH).run()
    assert not app.exception, app.exception
    labels = {m.label: m.value for m in app.metric}
    assert labels["Measured (ledger)"] == f"€{s.COMPARABLE_MEASURED:,.2f}"
    assert labels["Billed (Admin API)"] == f"€{s.COMPARABLE_BILLED:,.2f}"
    assert labels["Gap"] == f"€{s.COMPARABLE_BILLED - s.COMPARABLE_MEASURED:,.2f}"
    frames = [f.value for f in app.dataframe]
    raw = next(f for f in frames if "raw" in f.columns)
    assert sorted(raw["model"]) == s.UNREADABLE and any("value_micros" in r for r in raw["raw"])
    notes = " ".join(w.value for w in app.warning)
    assert "2 models" in notes and "bill cannot be read" in notes
    assert all(f"` {name} `" in notes for name in s.UNREADABLE)  # named, as code
