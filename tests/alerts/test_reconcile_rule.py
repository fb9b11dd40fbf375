"""The reconciliation rule: one email when the bill and the ledger differ, one when they agree."""

from __future__ import annotations

from datetime import UTC, datetime

from ledger.billing import BilledRow, write_billed
from tests.support.alerts import rows

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def bill(data, amounts: dict[str, float]) -> None:
    lines = [
        BilledRow(category="completion", model=model, metric="tokens", amount=amount, currency="EUR")
        for model, amount in amounts.items()
    ]
    write_billed(data, "admin", "2026-11", None, lines)


def test_gap_fires_once_then_resolves(tmp_path, smtp_server, make_engine):
    data = tmp_path / "data"
    rows(
        data,
        [
            {"timestamp": datetime(2026, 11, 10, 9, tzinfo=UTC), "model": "mistral-large-2512", "cost": 40.0},
            {"timestamp": datetime(2026, 11, 11, 9, tzinfo=UTC), "model": "mistral-large-2512", "cost": 60.0},
        ],
    )
    bill(data, {"mistral-large-2512": 112.0, "mistral-ocr-2512": 3.0})  # +12% and a model never seen
    settings = {"rules_enabled": ["reconciliation"], "reconcile_gap_pct": 5, "reconcile_min_gap": 1}
    for minutes in (0, 5, 10):
        make_engine(smtp_server.port, **settings).run(NOW.replace(minute=minutes))
    assert [m["Subject"] for m in smtp_server.messages] == [
        "[Mistral billing] bill and ledger differ for 2026-11: billed EUR 115, measured EUR 100"
    ]
    body = smtp_server.messages[0].get_body(("plain",)).get_content()
    assert "mistral-ocr-2512 (billed, never seen)" in body and "mistral-large-2512 (matched)" in body
    bill(data, {"mistral-large-2512": 101.0})  # within 5% now, and OCR corrected away
    make_engine(smtp_server.port, **settings).run(NOW.replace(minute=20))
    assert smtp_server.messages[1]["Subject"].startswith("[Resolved] [Mistral billing] bill and ledger agree again")


def test_no_bill_no_alert(tmp_path, smtp_server, make_engine):
    rows(tmp_path / "data", [{"timestamp": datetime(2026, 11, 10, 9, tzinfo=UTC), "cost": 40.0}])
    make_engine(smtp_server.port, rules_enabled=["reconciliation"]).run(NOW)
    assert smtp_server.messages == []
