"""The collector's resume point beside an S3 ledger (issue 21): cursors and batch numbers are objects
under `<data_dir>/state/`, written by conditional puts, so a collector on a fresh host resumes
exactly where the last one stopped, and a cursor another host moved is never overwritten."""

from __future__ import annotations

import time
from collections import Counter

import httpx
import orjson
import pytest

from collector._state import CursorStore
from ledger import read_ledger
from ledger.storage import remote
from simulator import start_server
from tests.support.collectors import once_on_s3
from tests.support.s3 import working_folder

FIXED_NOW = time.time()


def test_cursors_are_objects_beside_the_ledger_that_a_fresh_host_reads(s3, tmp_path):
    host_a = CursorStore(working_folder(s3, tmp_path, "host-a"))
    host_a.set("sim", "m.1.0")
    assert host_a.advance("sim", "m.1.0", "m.2.0", batch=1)
    assert orjson.loads(remote.read(f"{s3.url()}/state/cursors.json")[0]) == {"sim": "m.2.0"}
    assert orjson.loads(remote.read(f"{s3.url()}/state/batches.json")[0]) == {"sim": 1}
    host_b = CursorStore(working_folder(s3, tmp_path, "host-b"))
    assert (host_b.get("sim"), host_b.batch("sim")) == ("m.2.0", 1)
    assert not (tmp_path / "host-b" / "state" / "cursors.json").exists()  # nothing host-local to lose


def test_a_cursor_another_host_moved_between_read_and_write_is_never_overwritten(s3, tmp_path, monkeypatch):
    host_a = CursorStore(working_folder(s3, tmp_path, "host-a"))
    host_b = CursorStore(working_folder(s3, tmp_path, "host-b"))
    host_a.set("sim", "m.1.0")
    real = remote.write
    writes = []

    def b_first(url, data, etag):
        if not writes:  # host B moves the cursor after host A read it, before A's conditional put
            writes.append(url)
            assert host_b.advance("sim", "m.1.0", "m.9.0", batch=7)
        return real(url, data, etag)

    monkeypatch.setattr(remote, "write", b_first)
    assert host_a.advance("sim", "m.1.0", "m.2.0", batch=1) is False  # refused (412), re-read: moved
    assert (host_a.get("sim"), host_a.batch("sim")) == ("m.9.0", 7)


def test_a_first_write_racing_another_hosts_first_write_is_refused_then_decided_again(s3, tmp_path, monkeypatch):
    host_a = CursorStore(working_folder(s3, tmp_path, "host-a"))
    host_b = CursorStore(working_folder(s3, tmp_path, "host-b"))
    real = remote.write
    raced = []

    def b_first(url, data, etag):
        if not raced:
            raced.append(etag)
            host_b.set("other", "x.5")  # another source's first cursor lands first
        return real(url, data, etag)

    monkeypatch.setattr(remote, "write", b_first)
    assert host_a.advance("sim", None, "m.1.0")
    assert raced == [None]  # A's first try was an If-None-Match put, refused; the retry kept B's key
    assert orjson.loads(remote.read(f"{s3.url()}/state/cursors.json")[0]) == {"other": "x.5", "sim": "m.1.0"}


@pytest.fixture(scope="module")
def sim():
    with start_server(seed=13, days=1, rate=20, clock=lambda: FIXED_NOW) as handle:
        yield handle


@pytest.mark.slow
def test_a_collector_on_a_fresh_host_continues_with_no_gap_and_no_duplicate(s3, tmp_path, sim):
    first = once_on_s3(tmp_path, sim.url, s3.url(), "host-a", "max_pages_per_poll = 3\n")
    assert [p["records"] for p in first] == [1500]  # three pages of 500, then it stopped
    second = once_on_s3(tmp_path, sim.url, s3.url(), "host-b")  # an empty working folder: only the bucket
    ids = read_ledger(tmp_path / "host-b")["id"].to_pylist()
    assert max(Counter(ids).values()) == 1
    assert first[0]["records"] + second[0]["records"] == len(ids)  # B fetched only what A had not
    assert sorted(ids) == sorted(served(sim.url)) and len(ids) > 3000  # and nothing is missing


def served(url: str) -> list[str]:
    """Every id the simulator serves, paged with plain httpx (independent of the collector)."""
    out, cursor = [], None
    with httpx.Client(base_url=url, timeout=30) as client:
        while True:
            body = client.get(
                "/v1/usage/requests", params={"limit": 5000} | ({"after": cursor} if cursor else {})
            ).json()
            out += [r["id"] for r in body["data"]]
            cursor = body["next_cursor"]
            if not body["has_more"]:
                return out
