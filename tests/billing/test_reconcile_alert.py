"""The reconciliation alert over a bill fetched from a fake Admin API: it names the models whose
bill cannot be read, and its totals add up comparable models only (real SMTP on loopback)."""

from __future__ import annotations

import pytest

from alerts import Engine
from foundation.config import parse_config
from tests.support.alerts import config_dict, smtp_server
from tests.support.billing import ENV, SECRET, utc

from . import fake_admin
from . import scenario as s
from .test_statuses import two_fetches

pytestmark = pytest.mark.slow

NOW = utc(2026, 5, 20, 12)


__all__ = ["smtp_server"]


def test_alert_names_unreadable_bills_and_totals_comparable_models(tmp_path, smtp_server, monkeypatch):
    monkeypatch.setenv(ENV, SECRET)
    data = tmp_path / "data"
    s.write_measured(data)
    with fake_admin.serve() as admin:
        two_fetches(data, admin)
    raw = config_dict(
        data, smtp_server.port, rules_enabled=["reconciliation"], reconcile_gap_pct=5, reconcile_min_gap=0.1
    )
    Engine.from_config(parse_config(raw, base=tmp_path)).run(NOW)
    (message,) = smtp_server.messages
    billed, measured = f"EUR {s.COMPARABLE_BILLED:.2f}", f"EUR {s.COMPARABLE_MEASURED:.2f}"
    assert (
        message["Subject"] == f"[Mistral billing] bill and ledger differ for 2026-05: billed {billed}, "
        f"measured {measured}"
    )
    body = message.get_body(("plain",)).get_content()
    for model in s.UNREADABLE:
        assert f"{model} (bill cannot be read)" in body
    assert "mistral-small-2603 (matched)" in body and "EUR 7.20" not in body


def test_only_unreadable_bills_still_alert(tmp_path, smtp_server, monkeypatch):
    """A month whose every bill entry is unreadable is news, not 'no bill yet'."""
    monkeypatch.setenv(ENV, SECRET)
    data = tmp_path / "data"
    s.write_measured(data)
    body = {"completion": {"models": {"codestral-2508": {"input": s.MICROS}}}, "currency": "EUR"}
    with fake_admin.serve() as admin:
        admin.usage[s.MONTH] = body
        from .test_statuses import poll

        poll(data, admin, utc(2026, 5, 14, 9))
    raw = config_dict(data, smtp_server.port, rules_enabled=["reconciliation"])
    Engine.from_config(parse_config(raw, base=tmp_path)).run(NOW)
    (message,) = smtp_server.messages
    assert "codestral-2508 (bill cannot be read)" in message.get_body(("plain",)).get_content()
