"""State beside an S3 ledger (issue 21): with an s3 data_dir the quarantine files, the raw provider
snapshots, the fetched FX rates, the collector's status, the Admin API's spend-limit and rate-limit
readings and the organisation's price sheets are objects under the data_dir's URL, so
a collector or dashboard on a fresh host (an empty working folder, the same config and URL) sees what
the last one left; a snapshot never overwrites another host's, and two hosts' conditional updates of
the rates or the status both land."""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime

import orjson
import pytest

from collector._fx_job import update_rates
from collector._records import Rejected
from collector._state import Quarantine, StatusBoard
from collector.providers._snapshots import save_snapshot, snapshot_files
from foundation.config import FxConfig
from foundation.scrub import register_secret
from ledger.billing import (
    RATE_LIMIT,
    SPEND_LIMIT,
    PriceEntry,
    compare_prices,
    price_months,
    read_price_sheet,
    read_readings,
    sheet_prices,
    write_price_sheet,
    write_reading,
)
from ledger.pricing import fx
from ledger.queries import Filters, freshness, spend_summary
from ledger.storage import remote
from simulator import start_server
from tests.support.alerts import rows
from tests.support.collectors import once_on_s3
from tests.support.ecb import DAILY, SAMPLE
from tests.support.s3 import working_folder

NOW = datetime(2026, 10, 2, 9, 30, 5, tzinfo=UTC)
SECRET = "sk-beside-the-ledger-0123456789"
FIXED_NOW = time.time()


def settings(url: str) -> FxConfig:
    return FxConfig(url=url, max_retries=0, timeout_seconds=5)


def test_a_fresh_host_sees_the_quarantine_snapshots_rates_and_status_of_the_last(s3, tmp_path, ecb_server, monkeypatch):
    url, _ = ecb_server
    register_secret(SECRET)
    rows(working_folder(s3, tmp_path, "writer"), [{"timestamp": NOW, "cost": 10.0, "currency": "EUR"}])
    host_a = working_folder(s3, tmp_path, "host-a")
    Quarantine(host_a).put("sim", "m.1.0", [Rejected("id: missing", {"model": "x", "note": SECRET})])
    save_snapshot(host_a, "mistral_admin", "usage-2026-10", b'{"echo": "' + SECRET.encode() + b'"}', NOW)
    assert update_rates(host_a, settings(url), backoff=0) == 6
    StatusBoard(host_a).record("sim", "usage_endpoint", 60, True, 1500, 1)
    StatusBoard(host_a).record_lease("host-a:4242", 7, 15)

    host_b = working_folder(s3, tmp_path, "host-b")
    assert sorted(p.name for p in host_b.iterdir()) == [".data_url"]  # nothing but the marker
    config = tmp_path / "host-b.toml"
    config.write_text(f'data_dir = "{s3.url()}"\ncache_dir = "{host_b}"\ncurrency = "USD"\n')
    monkeypatch.setenv("MONITOR_CONFIG", str(config))
    assert Quarantine(host_b).count() == 1
    (snapshot,) = snapshot_files(host_b, "mistral_admin")
    assert snapshot.relative_to(host_b).as_posix() == "snapshots/mistral_admin/2026-10-02/usage-2026-10-093005.json"
    assert orjson.loads(snapshot.read_bytes()) == {"echo": "***"}
    day = Filters(start=date(2026, 10, 2), end=date(2026, 10, 2), timezone="UTC")
    assert spend_summary(host_b, day).spend == pytest.approx(10.0 * 1.0512)  # the rate host A fetched
    seen = freshness(host_b, NOW)
    assert ([s.name for s in seen.sources], seen.active_collector) == (["sim"], "host-a:4242")
    assert StatusBoard(host_b).read()["sources"]["sim"]["quarantined_total"] == 1
    for key in s3.keys("monitor/"):
        if not key.startswith("monitor/requests/"):
            assert SECRET.encode() not in remote.read(f"s3://{s3.bucket}/{key}")[0], key  # scrubbed before upload

    Quarantine(host_b).put("sim", "m.1.0", [Rejected("id: missing", {"model": "x"})])  # a replay, on host B
    assert Quarantine(host_a).count() == Quarantine(host_b).count() == 1


def sheet_entry(model: str, metric: str, price: float) -> PriceEntry:
    return PriceEntry(
        event_type=model,
        billing_metric=metric,
        billing_group="completion",
        api_zone=None,
        service_tier=None,
        model=None,
        price=price,
        price_text=str(price),
    )


def test_a_fresh_host_sees_the_readings_and_price_sheets_of_the_last(s3, tmp_path):
    host_a = working_folder(s3, tmp_path, "host-a")
    spend = {"used": 300.0, "limit": 1000.0, "currency": "EUR", "fetched_at": NOW.isoformat()}
    rate = {"models": {"mistral-small-2506": {"tokens_per_minute": 500_000}}, "fetched_at": NOW.isoformat()}
    write_reading(host_a, "mistral_admin", SPEND_LIMIT, spend)
    write_reading(host_a, "mistral_admin", RATE_LIMIT, rate)
    entries = [
        sheet_entry("mistral-small-2506", "input", 0.00000008),
        sheet_entry("mistral-small-2506", "output", 3e-7),
    ]
    write_price_sheet(host_a, "mistral_admin", "2026-05", None, entries, "EUR", NOW)
    write_price_sheet(host_a, "mistral_admin", "2026-06", "ws-1", entries[:1], "EUR", NOW)
    assert [k.removeprefix("monitor/billing/") for k in s3.keys("monitor/billing/")] == [
        "mistral_admin/prices/2026-05.parquet",
        "mistral_admin/prices/2026-06.ws-1.parquet",
        "mistral_admin/rate-limit.json",
        "mistral_admin/spend-limit.json",
    ]

    host_b = working_folder(s3, tmp_path, "host-b")
    assert sorted(p.name for p in host_b.iterdir()) == [".data_url"]  # nothing but the marker
    for name in (SPEND_LIMIT, RATE_LIMIT):
        assert (
            read_readings(host_b, name)
            == read_readings(host_a, name)
            == {"mistral_admin": orjson.loads(orjson.dumps(spend if name == SPEND_LIMIT else rate))}
        )
    assert price_months(host_b) == price_months(host_a) == ["2026-06", "2026-05"]
    assert read_price_sheet(host_b).equals(read_price_sheet(host_a))
    assert compare_prices(host_b, "2026-05") == compare_prices(host_a, "2026-05")
    assert round(compare_prices(host_b, "2026-05")[0].difference_pct, 6) == -20.0
    assert sheet_prices(host_b, "EUR") == sheet_prices(host_a, "EUR") != []


def test_readers_list_the_bucket_for_readings_at_most_once_a_minute(s3, tmp_path, monkeypatch):
    host_a = working_folder(s3, tmp_path, "host-a")
    host_b = working_folder(s3, tmp_path, "host-b")
    write_reading(host_a, "mistral_admin", SPEND_LIMIT, {"used": 1.0})
    assert read_readings(host_b, SPEND_LIMIT) == {"mistral_admin": {"used": 1.0}}
    write_reading(host_a, "mistral_admin", SPEND_LIMIT, {"used": 20.0})  # another size: same second, same mtime
    listed = []
    real = remote.mirror
    monkeypatch.setattr(remote, "mirror", lambda *args: listed.append(args) or real(*args))
    assert read_readings(host_b, SPEND_LIMIT) == {"mistral_admin": {"used": 1.0}}  # its copy, under a minute old
    assert price_months(host_b) == [] and listed == []
    monkeypatch.setattr(remote, "MIRROR_SECONDS", 0.0)  # a minute later
    assert read_readings(host_b, SPEND_LIMIT) == {"mistral_admin": {"used": 20.0}}
    assert listed == [(f"{s3.url()}/billing", host_b / "billing")]


def test_a_snapshot_taken_in_the_same_second_on_another_host_gets_the_next_number(s3, tmp_path):
    host_a = working_folder(s3, tmp_path, "host-a")
    host_b = working_folder(s3, tmp_path, "host-b")
    save_snapshot(host_a, "mistral_admin", "usage", b'{"host": "a"}', NOW)
    path = save_snapshot(host_b, "mistral_admin", "usage", b'{"host": "b"}', NOW)
    assert path.name == "usage-093005-2.json"
    found = {
        p.name: orjson.loads(p.read_bytes())
        for p in snapshot_files(working_folder(s3, tmp_path, "host-c"), "mistral_admin")
    }
    assert found == {"usage-093005.json": {"host": "a"}, "usage-093005-2.json": {"host": "b"}}


def test_two_hosts_updating_the_rates_at_once_both_land(s3, tmp_path, ecb_server, monkeypatch):
    url, script = ecb_server
    script.answers = [(200, SAMPLE), (200, DAILY)]  # host A fetches SAMPLE, host B then DAILY
    host_a = working_folder(s3, tmp_path, "host-a")
    host_b = working_folder(s3, tmp_path, "host-b")
    real, raced = remote.write, []

    def b_first(target, data, etag):
        if not raced:  # host B merges and puts its rates after host A read the object, before A's put
            raced.append(etag)
            update_rates(host_b, settings(url), backoff=0)
        return real(target, data, etag)

    monkeypatch.setattr(remote, "write", b_first)
    update_rates(host_a, settings(url), backoff=0)
    assert raced == [None]  # A's first put (If-None-Match) was refused; it read B's rates and merged again
    stored = remote.read(f"{s3.url()}/fx/rates.csv")[0].decode().splitlines()
    usd = {tuple(line.split(",")[:3]) for line in stored if ",USD," in line}
    assert usd == {("2026-09-30", "USD", "1.049"), ("2026-10-01", "USD", "1.0501"), ("2026-10-02", "USD", "1.0512")}
    assert (host_a / "fx" / "rates.csv").read_text().splitlines() == stored


def test_two_hosts_recording_status_at_once_both_land(s3, tmp_path, monkeypatch):
    host_a = StatusBoard(working_folder(s3, tmp_path, "host-a"))
    host_b = StatusBoard(working_folder(s3, tmp_path, "host-b"))
    host_a.record("a", "usage_endpoint", 60, True, 10, 0)
    real, raced = remote.write, []

    def b_first(target, data, etag):
        if not raced:  # host B's lease lands after host A read the status, before A's conditional put
            raced.append(etag)
            host_b.record_lease("host-b:1", 3, 15)
        return real(target, data, etag)

    monkeypatch.setattr(remote, "write", b_first)
    host_a.record("a", "usage_endpoint", 60, True, 5, 0)
    assert raced and raced[0] is not None  # A's If-Match put was refused, then decided again
    status = StatusBoard(working_folder(s3, tmp_path, "host-c")).read()
    assert (status["sources"]["a"]["records_total"], status["lease"]["holder"]) == (15, "host-b:1")


def test_a_copy_is_fetched_again_only_when_its_object_changed(s3, tmp_path):
    host_a = Quarantine(working_folder(s3, tmp_path, "host-a"))
    host_b = Quarantine(working_folder(s3, tmp_path, "host-b"))
    host_a.put("sim", "m.1.0", [Rejected("id: missing", {"n": 1})])
    fetched = []
    remote.client().meta.events.register(
        "before-parameter-build.s3.GetObject", lambda params, **_: fetched.append(params["Key"])
    )
    assert host_b.count() == 1 and len(fetched) == 1
    assert host_b.count() == 1 and len(fetched) == 1  # the copy is current: nothing downloaded
    host_a.put("sim", "m.1.0", [Rejected("id: missing", {"n": 1}), Rejected("model: missing", {"n": 2})])
    assert host_b.count() == 2 and len(fetched) == 2  # a replay that quarantined more: fetched again


def test_a_rewrite_of_the_same_size_in_the_same_second_is_fetched_again(s3, tmp_path):
    """S3's LastModified is to the second: size and time alone take a same-size rewrite for the copy."""
    url, folder = s3.url() + "/fx", tmp_path / "copy"
    remote.put(url + "/rates.csv", b"EUR,USD,1.05\n")
    remote.mirror(url, folder)
    remote.put(url + "/rates.csv", b"EUR,USD,1.07\n")
    bucket, key = remote.split(url + "/rates.csv")
    stamp = remote.client().head_object(Bucket=bucket, Key=key)["LastModified"].timestamp()
    os.utime(folder / "rates.csv", (stamp, stamp))  # as when both puts fall in one second
    remote.mirror(url, folder)
    assert (folder / "rates.csv").read_bytes() == b"EUR,USD,1.07\n"


@pytest.mark.slow
def test_a_collector_run_on_one_host_is_seen_whole_from_a_fresh_host(s3, tmp_path, ecb_server):
    rates_url, _ = ecb_server
    with start_server(seed=5, days=0.25, rate=20, bad_every=40, clock=lambda: FIXED_NOW) as sim:
        once_on_s3(tmp_path, sim.url, s3.url(), "host-a", f'[fx]\nurl = "{rates_url}"\n')
    host_b = working_folder(s3, tmp_path, "host-b")
    status = StatusBoard(host_b).read()["sources"]["sim"]
    assert Quarantine(host_b).count() == status["quarantined_total"] > 0
    assert [s.name for s in freshness(host_b, datetime.fromtimestamp(FIXED_NOW, UTC)).sources] == ["sim"]
    rates = fx.load_rates(host_b)
    assert rates.factor("EUR", "USD", date(2026, 10, 2)) == (1.0512, date(2026, 10, 2))
