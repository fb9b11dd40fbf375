"""The mistral_admin source against httpx.MockTransport: parsing, auth, schedule, shape changes."""

from __future__ import annotations

import json

import httpx
import orjson
import pytest

from collector._jobs import SOURCE_FACTORIES, poll_job
from collector.errors import SourceAuthError
from ledger.billing import read_billed, read_readings
from tests.support.billing import ENV, SECRET, Router, utc

from . import payloads as p


def admin_router(usage=p.ADMIN_USAGE_EUR, spend=p.SPEND_LIMIT, rate=p.RATE_LIMIT) -> Router:
    return Router(
        {
            "/v1/admin/usage": lambda r: usage,
            "/v1/admin/spend-limit": lambda r: spend,
            "/v1/admin/rate-limit": lambda r: rate,
        }
    )


def rows_by_key(data_dir) -> dict[tuple[str, str, str | None], dict]:
    table = read_billed(data_dir).to_pylist()
    return {(r["category"], r["model"], r["metric"]): r for r in table}


def test_usage_rows_recognised_in_eur_with_decimal_strings(make_provider):
    source = make_provider("mistral_admin", admin_router(), utc(2026, 5, 14, 9))
    result = source.poll()
    rows = rows_by_key(source.context.data_dir)
    assert rows[("completion", "mistral-small-2603", "input_tokens")]["amount"] == pytest.approx(0.20)
    assert rows[("completion", "mistral-small-2603", "output_tokens")]["quantity"] == 500_000
    large = rows[("completion", "mistral-large-2512", "tokens")]
    assert (large["quantity"], large["unit_price"], large["amount"]) == (1_000_000, 0.0000005, None)
    assert rows[("ocr", "mistral-ocr-2505", "pages")]["amount"] == pytest.approx(0.12)
    assert rows[("fine_tuning", "ft:mistral-small-2603:acme:7f3a", "training")]["quantity"] == 3.5
    assert {r["currency"] for r in rows.values()} == {"EUR"}
    assert {r["month"] for r in rows.values()} == {"2026-05"}
    assert result.records == 5 and result.problems == 0


def test_usage_query_spend_limit_and_rate_limit_readings(make_provider):
    router = admin_router()
    source = make_provider("mistral_admin", router, utc(2026, 5, 14, 9), workspace_id="ws-1")
    source.poll()
    usage = router.calls[0].url.params
    assert (usage["month"], usage["year"], usage["workspace_id"]) == ("5", "2026", "ws-1")
    spend = read_readings(source.context.data_dir, "spend-limit")["mistral_admin"]
    assert (spend["used"], spend["limit"], spend["reached"], spend["currency"]) == (412.5, 500, False, "EUR")
    rate = read_readings(source.context.data_dir, "rate-limit")["mistral_admin"]
    assert rate["models"]["mistral-small-2603"]["tokens_per_minute"] == 2_000_000
    assert rate["requests_per_second"] == 6


@pytest.mark.parametrize(
    "auth, header, expected", [("x-api-key", "x-api-key", SECRET), ("bearer", "authorization", f"Bearer {SECRET}")]
)
def test_admin_key_sent_as_configured(make_provider, auth, header, expected):
    router = admin_router()
    make_provider("mistral_admin", router, utc(2026, 5, 14, 9), auth=auth).poll()
    assert all(c.headers.get(header) == expected for c in router.calls)
    other = "authorization" if header == "x-api-key" else "x-api-key"
    assert not any(other in c.headers for c in router.calls)


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failure_is_one_clear_error_naming_the_env_var(make_provider, status, capsys):
    router = Router({"/v1/admin/usage": lambda r: httpx.Response(status, json={"detail": "Unauthorized"})})
    source = make_provider("mistral_admin", router, utc(2026, 5, 14, 9))
    with pytest.raises(SourceAuthError, match=ENV) as info:
        source.poll()
    assert SECRET not in str(info.value)
    assert len(router.calls) == 1  # no retry of a refused key


@pytest.mark.slow
def test_schedule_current_month_hourly_previous_month_daily_in_its_first_days(make_provider):
    router = admin_router()
    source = make_provider("mistral_admin", router, utc(2026, 6, 3, 8), previous_month_days=5)
    assert source.poll().months == ["2026-06", "2026-05"]
    source.clock_box["now"] = utc(2026, 6, 3, 8, 30)
    assert source.poll().months == []
    source.clock_box["now"] = utc(2026, 6, 3, 9, 0)
    assert source.poll().months == ["2026-06"]
    source.clock_box["now"] = utc(2026, 6, 4, 8, 0)
    assert source.poll().months == ["2026-06", "2026-05"]
    source.clock_box["now"] = utc(2026, 6, 6, 12, 0)
    assert source.poll().months == ["2026-06"]
    months = [c.url.params["month"] for c in router.calls if c.url.path.endswith("usage")]
    assert months == ["6", "5", "6", "6", "5", "6"]


def test_every_response_is_kept_as_a_dated_snapshot_without_the_key(make_provider):
    echo = dict(p.SPEND_LIMIT, note=f"key used: {SECRET}")
    source = make_provider("mistral_admin", admin_router(spend=echo), utc(2026, 5, 14, 9, 30, 5))
    source.poll()
    folder = source.context.data_dir / "snapshots" / "mistral_admin" / "2026-05-14"
    names = sorted(f.name for f in folder.iterdir())
    assert names == ["rate-limit-093005.json", "spend-limit-093005.json", "usage-2026-05-093005.json"]
    assert json.loads((folder / "usage-2026-05-093005.json").read_text()) == p.ADMIN_USAGE_EUR
    assert SECRET not in (folder / "spend-limit-093005.json").read_text()


def test_changed_shape_keeps_snapshot_warns_once_and_keeps_the_previous_table(make_provider, capfd):
    changed = {"billing": {"lines": [{"sku": "x"}]}, "currency": "EUR"}
    state = {"usage": p.ADMIN_USAGE_EUR}
    router = Router(
        {
            "/v1/admin/usage": lambda r: state["usage"],
            "/v1/admin/spend-limit": lambda r: {"v2": True},
            "/v1/admin/rate-limit": lambda r: p.RATE_LIMIT,
        }
    )
    source = make_provider("mistral_admin", router, utc(2026, 5, 14, 9))
    source.poll()
    before = read_billed(source.context.data_dir).num_rows
    state["usage"] = changed
    for hour in (10, 11):
        source.clock_box["now"] = utc(2026, 5, 14, hour)
        result = source.poll()
        assert result.problems > 0
    assert read_billed(source.context.data_dir).num_rows == before == 5
    warnings = [json.loads(line) for line in capfd.readouterr().err.splitlines() if "source_warning" in line]
    assert [w["problem"] for w in warnings] == ["spend-limit: payload not recognised", "usage: payload not recognised"]
    snaps = list((source.context.data_dir / "snapshots" / "mistral_admin" / "2026-05-14").glob("usage-*.json"))
    assert sorted(orjson.loads(s.read_bytes()) == changed for s in snaps) == [False, True, True]


def test_not_json_body_is_kept_and_the_collector_keeps_running(make_provider, monkeypatch):
    router = admin_router()
    router.routes["/v1/admin/rate-limit"] = lambda r: httpx.Response(200, text="<html>maintenance</html>")
    source = make_provider("mistral_admin", router, utc(2026, 5, 14, 9))
    monkeypatch.setitem(SOURCE_FACTORIES, "mistral_admin", lambda **_: source)
    job = poll_job(source.source, source.context)
    assert job.run() is True
    entry = source.context.status.read()["sources"]["mistral_admin"]
    assert entry["last_error"] is None and entry["records_total"] == 5
    snaps = source.context.data_dir / "snapshots" / "mistral_admin" / "2026-05-14"
    assert (snaps / "rate-limit-090000.json").read_text() == "<html>maintenance</html>"


def test_refused_key_fails_the_poll_job_with_the_env_var_named(make_provider, monkeypatch):
    router = Router({"/v1/admin/usage": lambda r: httpx.Response(401, json={"message": "Unauthorized"})})
    source = make_provider("mistral_admin", router, utc(2026, 5, 14, 9))
    monkeypatch.setitem(SOURCE_FACTORIES, "mistral_admin", lambda **_: source)
    assert poll_job(source.source, source.context).run() is False
    error = source.context.status.read()["sources"]["mistral_admin"]["last_error"]
    assert ENV in error and "401" in error and SECRET not in error


def test_a_poll_jobs_close_closes_its_sources_client(make_provider, monkeypatch):
    """The collector closes its jobs when a run ends: a source's pooled connections are not left to the GC."""
    source = make_provider("mistral_admin", admin_router(), utc(2026, 5, 14, 9))
    monkeypatch.setitem(SOURCE_FACTORIES, "mistral_admin", lambda **_: source)
    job = poll_job(source.source, source.context)
    assert job.run() is True and not source.client.is_closed
    job.close()
    assert source.client.is_closed
