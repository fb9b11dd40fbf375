"""The collector's admin source against the simulator's Admin API over loopback, then reconciled."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from collector._context import Context
from collector._usage import UsageEndpointSource
from collector.errors import SourceAuthError
from collector.providers import MistralAdminSource
from foundation.config import Config, SourceConfig
from ledger.billing import read_billed, read_readings, reconcile, spend_gauges
from simulator import generate_records, start_server
from simulator._admin import OCR_MODEL, OCR_PAGES_PER_HOUR, OCR_PRICE_PER_PAGE

NOW = datetime(2026, 5, 14, 10, 30, tzinfo=UTC)
HISTORY_START = datetime(2026, 5, 12, 10, 30, tzinfo=UTC)
FIRST_FULL_HOUR = datetime(2026, 5, 12, 11, tzinfo=UTC)
LAST_FULL_HOUR_END = datetime(2026, 5, 14, 10, tzinfo=UTC)
TOKEN = "sim-admin-key-0123"


@pytest.fixture(scope="module")
def sim():
    with start_server(seed=4, days=2, rate=6.0, token=TOKEN, clock=NOW.timestamp) as handle:
        yield handle


def context_for(tmp_path, sim, env: str) -> tuple[Context, SourceConfig, SourceConfig]:
    usage = SourceConfig(name="sim", kind="usage_endpoint", url=sim.url, token_env=env, max_requests_per_second=1e6)
    admin = SourceConfig(
        name="mistral_admin",
        kind="mistral_admin",
        url=sim.url,
        token_env=env,
        max_requests_per_second=1e6,
        max_retries=0,
        options={"auth": "bearer"},
    )
    return Context.build(Config(data_dir=tmp_path, sources=(usage, admin))), usage, admin


def test_wrong_admin_key_is_one_clear_error(tmp_path, sim, monkeypatch):
    monkeypatch.setenv("SIM_ADMIN_KEY", "not-the-key")
    context, _, admin = context_for(tmp_path, sim, "SIM_ADMIN_KEY")
    with MistralAdminSource(source=admin, context=context, clock=lambda: NOW) as billed:
        with pytest.raises(SourceAuthError, match="HTTP 401 .* set SIM_ADMIN_KEY to a valid token"):
            billed.poll()


@pytest.mark.slow
def test_billed_matches_served_records_with_a_small_drift(tmp_path, sim, monkeypatch):
    monkeypatch.setenv("SIM_ADMIN_KEY", TOKEN)
    context, usage, admin = context_for(tmp_path, sim, "SIM_ADMIN_KEY")
    with UsageEndpointSource(source=usage, context=context) as polled:
        polled.poll()
    with MistralAdminSource(source=admin, context=context, clock=lambda: NOW) as billed:
        result = billed.poll()
    assert result.problems == 0 and result.months == ["2026-05"]

    records = generate_records(4, FIRST_FULL_HOUR, LAST_FULL_HOUR_END, rate=6.0)
    ok = [r for r in records if r["status_code"] == 200 and r["resolved_model"] == "mistral-small-2603"]
    billed = read_billed(tmp_path).to_pylist()
    small = {r["metric"]: r["quantity"] for r in billed if r["model"] == "mistral-small-2603"}
    assert small["input_tokens"] + small["cached_input_tokens"] == sum(r["prompt_tokens"] for r in ok)
    assert small["output_tokens"] == sum(r["completion_tokens"] for r in ok)

    rows = {r.model: r for r in reconcile(tmp_path, ["2026-05"], "USD")}
    hours = (LAST_FULL_HOUR_END - FIRST_FULL_HOUR).total_seconds() / 3600
    ocr = rows[OCR_MODEL]
    assert ocr.status == "billed_not_seen"
    assert ocr.billed == pytest.approx(hours * OCR_PAGES_PER_HOUR * OCR_PRICE_PER_PAGE)
    priced = [r for r in rows.values() if r.status == "matched" and r.measured]
    assert len(priced) >= 8
    assert all(abs(r.gap_pct) < 10 for r in priced), [(r.model, r.gap_pct) for r in priced]
    assert any(abs(r.gap_pct) > 0.1 for r in priced)  # a drift there is, or the demo shows nothing
    assert rows["ft:mistral-small-2603:acme:7f3a"].measured is None  # billed, but no price table knows it

    spend = read_readings(tmp_path, "spend-limit")["mistral_admin"]
    assert spend["used"] == pytest.approx(sum(r.billed or 0 for r in rows.values()), abs=0.01)
    (gauge,) = spend_gauges(tmp_path, NOW)
    assert gauge.limit == 1500.0 and gauge.currency == "USD"
    limits = read_readings(tmp_path, "rate-limit")["mistral_admin"]["models"]
    assert limits["mistral-small-2603"]["tokens_per_minute"] == 2_000_000
