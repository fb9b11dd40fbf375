"""The collector's `fx` job against a real HTTP server on 127.0.0.1 serving the ECB's eurofxref XML
(tests/support/ecb.py)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from collector._fx_job import FetchError, fx_jobs, update_rates
from foundation.config import FxConfig, parse_config
from foundation.errors import ConfigError
from ledger.queries import Filters, spend_summary
from tests.support.alerts import rows
from tests.support.ecb import DAILY, SAMPLE


def settings(url: str, retries: int = 2) -> FxConfig:
    return FxConfig(url=url, max_retries=retries, timeout_seconds=5)


def table(data_dir: Path) -> list[str]:
    return (data_dir / "fx" / "rates.csv").read_text().splitlines()


@pytest.mark.slow
def test_fetch_writes_every_rate_of_the_document(tmp_path, ecb_server):
    url, _ = ecb_server
    assert update_rates(tmp_path, settings(url), backoff=0) == 6
    lines = table(tmp_path)
    assert lines[0] == "date,currency,per_eur,source"
    assert "2026-10-01,USD,1.0501," + f"ECB {url}" in lines and "2026-10-02,JPY,160.01," + f"ECB {url}" in lines


@pytest.mark.slow
def test_a_new_fetch_merges_into_the_history(tmp_path, ecb_server):
    url, script = ecb_server
    update_rates(tmp_path, settings(url), backoff=0)
    script.answers = [(200, DAILY)]
    update_rates(tmp_path, settings(url), backoff=0)
    dated = {tuple(line.split(",")[:3]) for line in table(tmp_path)[1:]}
    assert {("2026-09-30", "USD", "1.049"), ("2026-10-01", "USD", "1.0501"), ("2026-10-02", "USD", "1.0512")} <= dated


@pytest.mark.slow
def test_a_failed_fetch_is_retried(tmp_path, ecb_server):
    url, script = ecb_server
    script.answers = [(503, b"busy"), (200, b"<html>maintenance</html>"), (200, SAMPLE)]
    assert update_rates(tmp_path, settings(url, retries=2), backoff=0) == 6
    assert script.hits == 3


@pytest.mark.slow
def test_a_fetch_that_keeps_failing_keeps_the_old_table(tmp_path, ecb_server):
    url, script = ecb_server
    update_rates(tmp_path, settings(url), backoff=0)
    before = (tmp_path / "fx" / "rates.csv").read_bytes()
    script.answers, script.hits = [(500, b"down")], 0
    with pytest.raises(FetchError, match="failed 3 times.*old rates are kept"):
        update_rates(tmp_path, settings(url, retries=2), backoff=0)
    assert script.hits == 3 and (tmp_path / "fx" / "rates.csv").read_bytes() == before


@pytest.mark.slow
def test_the_dashboard_converts_with_the_fetched_rates(tmp_path, ecb_server, monkeypatch):
    url, _ = ecb_server
    data_dir = tmp_path / "data"
    config = tmp_path / "monitor.toml"
    config.write_text(f'data_dir = "{data_dir}"\ncurrency = "USD"\n[fx]\nurl = "{url}"\n')
    monkeypatch.setenv("MONITOR_CONFIG", str(config))
    rows(data_dir, [{"timestamp": datetime(2026, 10, 2, 9, tzinfo=UTC), "cost": 10.0, "currency": "EUR"}])
    day = Filters(start=date(2026, 10, 2), end=date(2026, 10, 2), timezone="UTC")
    assert spend_summary(data_dir, day).unconverted_requests == 1
    update_rates(data_dir, settings(url), backoff=0)
    assert spend_summary(data_dir, day).spend == pytest.approx(10.0 * 1.0512)


@pytest.mark.slow
def test_the_job_runs_only_when_a_url_is_set(tmp_path, ecb_server):
    from collector._context import Context

    url, _ = ecb_server
    plain = Context.build(parse_config({"data_dir": str(tmp_path)}, base=tmp_path))
    assert fx_jobs(plain) == []
    context = Context.build(
        parse_config({"data_dir": str(tmp_path), "fx": {"url": url, "max_retries": 0}}, base=tmp_path)
    )
    (job,) = fx_jobs(context)
    assert (job.name, job.interval_seconds) == ("fx", 6 * 3600)
    assert job.run() is True and len(table(tmp_path)) == 7


@pytest.mark.parametrize(
    ("fx", "message"),
    [
        ({"urls": "x"}, "fx.urls: unknown key"),
        ({"url": "ftp://rates"}, "fx.url: 'ftp://rates' is not an http(s) URL"),
        ({"rates": [{"date": "2026-10-01", "currency": "USD"}]}, "fx.rates[0].per_eur: missing"),
        ({"rates": [{"date": "2026-10-01", "currency": "USD", "per_eur": 0}]}, "fx.rates[0].per_eur: must be greater"),
        ({"rates": [{"date": "01/10/2026", "currency": "USD", "per_eur": 1.1}]}, "use YYYY-MM-DD"),
        ({"every_hours": 0}, "fx.every_hours: 0 is out of range"),
    ],
)
def test_bad_fx_config_is_one_line_naming_the_key(tmp_path, fx, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config({"data_dir": str(tmp_path), "fx": fx}, base=tmp_path)


@pytest.mark.slow
def test_config_overrides_win_over_fetched_rates(tmp_path, ecb_server, monkeypatch):
    url, _ = ecb_server
    data_dir = tmp_path / "data"
    config = tmp_path / "monitor.toml"
    config.write_text(
        f'data_dir = "{data_dir}"\ncurrency = "USD"\n[[fx.rates]]\ndate = 2026-10-02\ncurrency = "USD"\nper_eur = 2.0\n'
    )
    monkeypatch.setenv("MONITOR_CONFIG", str(config))
    update_rates(data_dir, settings(url), backoff=0)
    rows(data_dir, [{"timestamp": datetime(2026, 10, 2, 9, tzinfo=UTC), "cost": 10.0, "currency": "EUR"}])
    assert spend_summary(
        data_dir, Filters(start=date(2026, 10, 2), end=date(2026, 10, 2), timezone="UTC")
    ).spend == pytest.approx(20.0)
