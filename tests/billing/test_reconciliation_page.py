"""The Reconciliation page (AppTest) over a ledger and bill collected from the simulator."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from streamlit.testing.v1 import AppTest

from collector._context import Context
from collector._usage import UsageEndpointSource
from collector.providers import MistralAdminSource
from foundation.config import Config, SourceConfig
from ledger.billing import STATUS_WORDS, STATUSES, month_of, reconcile, reconciled_csv
from simulator import start_server

pytestmark = pytest.mark.slow


def page_script() -> None:
    import runpy

    from pages._frame import draw_frame

    if draw_frame() is not None:
        runpy.run_path("pages/reconciliation.py")


@pytest.fixture
def collected(tmp_path, monkeypatch):
    now = datetime.now(UTC).replace(microsecond=0)
    with start_server(seed=2, days=1, rate=4.0) as sim:
        usage = SourceConfig(name="sim", kind="usage_endpoint", url=sim.url, max_requests_per_second=1e6)
        admin = SourceConfig(name="mistral_admin", kind="mistral_admin", url=sim.url, max_requests_per_second=1e6)
        context = Context.build(Config(data_dir=tmp_path, sources=(usage, admin)))
        with UsageEndpointSource(source=usage, context=context) as polled:
            polled.poll()
        with MistralAdminSource(source=admin, context=context, clock=lambda: now) as billed:
            billed.poll()
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    return tmp_path, now


def test_page_shows_totals_unmatched_models_gauge_and_headroom(collected):
    data_dir, now = collected
    app = AppTest.from_function(page_script, default_timeout=60).run()
    assert not app.exception, app.exception
    assert app.title[0].value == "Reconciliation"
    rows = reconcile(data_dir, [month_of(now.date())], "USD")
    labels = {m.label: m.value for m in app.metric}
    priced = [r for r in rows if r.measured is not None or r.status == "billed_not_seen"]
    billed = sum(r.billed or 0 for r in priced)  # the fine-tuned model has no price: no gap, left out
    assert labels["Billed (Admin API)"].replace(",", "").endswith(f"{billed:.2f}")
    unseen = [r.model for r in rows if r.status == "billed_not_seen"]
    assert unseen == ["mistral-ocr-2505"]  # the warning names it, as code
    assert any(
        w.value == "1 model: billed, never seen (bypasses the gateway?): ` mistral-ocr-2505 `" for w in app.warning
    )
    main, apart, _, prices = (f.value for f in app.dataframe)  # the last: the simulator's price sheet
    assert main.set_index("model").loc["mistral-ocr-2505", "status"] == "Billed, never seen"  # names in tables only
    assert set(main["status"]) <= set(STATUS_WORDS.values()) and set(apart["status"]) == {"Matched"}
    warnings = " ".join(w.value for w in app.warning)
    assert not any(status in warnings for status in STATUSES)  # words, not machine values
    machine = list(csv.DictReader(io.StringIO(reconciled_csv(rows).decode())))
    assert {r["model"]: r["status"] for r in machine}["mistral-ocr-2505"] == "billed_not_seen"
    assert [r.model for r in rows] == [r["model"] for r in machine] and "gap_pct" in machine[0]
    assert list(apart["model"]) == ["ft:mistral-small-2603:acme:7f3a"]
    assert [s.value for s in app.subheader][:1] == ["Spend limit"] and "Prices" in [s.value for s in app.subheader]
    assert len(prices) and (prices["difference"].abs() < 1e-9).all()
    table = json.loads(app.dataframe[0].proto.columns)
    assert [table[c]["label"] for c in ("measured", "billed", "gap")] == ["Measured (USD)", "Billed (USD)", "Gap (USD)"]
    assert table["requests"]["type_config"]["format"] == "localized"  # 1,234 not 1234
    chart = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert [t["name"] for t in chart["data"]] == ["Measured (ledger)", "Billed (Admin API)"]
    for frame in app.dataframe[2:]:  # headroom and prices: every header in words, no raw column name
        labels = {k: v.get("label") for k, v in json.loads(frame.proto.columns).items() if k != "_index"}
        assert set(labels) == set(frame.value.columns) and all(labels.values()), labels
        assert not any("_" in label for label in labels.values()), labels
        assert frame.proto.placeholder == "—"  # an unknown limit or note is a dash, never None
    said = " ".join(m.value for m in app.markdown)
    assert "Monthly limit reached: **no**" in said and "False" not in said
