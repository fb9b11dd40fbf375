"""State beside an S3 ledger (issue 21): with an s3 data_dir the quarantine files, the raw provider
snapshots, the fetched FX rates and the collector's status are objects under the data_dir's URL, so
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
from ledger.pricing import fx
from ledger.queries import Filters, freshness, spend_summary
from ledger.storage import remote
from simulator import start_server
from tests.support.alerts import rows
from tests.support.collectors import collector_once
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


def test_a_copy_is_fetched_again_only_when_its_object_changed(s3, tmp_path, monkeypatch):
    host_a = Quarantine(working_folder(s3, tmp_path, "host-a"))
    host_b = Quarantine(working_folder(s3, tmp_path, "host-b"))
    host_a.put("sim", "m.1.0", [Rejected("id: missing", {"n": 1})])
    client, fetched = remote.client(), []
    real = client.download_file
    monkeypatch.setattr(client, "download_file", lambda *args: fetched.append(args[1]) or real(*args))
    assert host_b.count() == 1 and len(fetched) == 1
    assert host_b.count() == 1 and len(fetched) == 1  # the copy is current: nothing downloaded
    host_a.put("sim", "m.1.0", [Rejected("id: missing", {"n": 1}), Rejected("model: missing", {"n": 2})])
    assert host_b.count() == 2 and len(fetched) == 2  # a replay that quarantined more: fetched again


@pytest.mark.slow
def test_a_collector_run_on_one_host_is_seen_whole_from_a_fresh_host(s3, tmp_path, ecb_server):
    rates_url, _ = ecb_server
    with start_server(seed=5, days=0.25, rate=20, bad_every=40, clock=lambda: FIXED_NOW) as sim:
        config = tmp_path / "host-a.toml"
        config.write_text(
            f'data_dir = "{s3.url()}"\ncache_dir = "{tmp_path / "host-a"}"\n[fx]\nurl = "{rates_url}"\n'
            f'[[sources]]\nname = "sim"\nkind = "usage_endpoint"\nurl = "{sim.url}"\npage_limit = 500\n'
        )
        env = {"PATH": "/usr/bin:/bin", **{k: v for k, v in os.environ.items() if k.startswith("AWS_")}}
        proc = collector_once(config, env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    host_b = working_folder(s3, tmp_path, "host-b")
    status = StatusBoard(host_b).read()["sources"]["sim"]
    assert Quarantine(host_b).count() == status["quarantined_total"] > 0
    assert [s.name for s in freshness(host_b, datetime.fromtimestamp(FIXED_NOW, UTC)).sources] == ["sim"]
    rates = fx.load_rates(host_b)
    assert rates.factor("EUR", "USD", date(2026, 10, 2)) == (1.0512, date(2026, 10, 2))
