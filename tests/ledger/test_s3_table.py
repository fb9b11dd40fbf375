"""The request ledger on S3 (issue 21): the table lives in the bucket, readers get local paths of a
read-through cache, and a host with an empty cache sees the same rows."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pyarrow.compute as pc
import pytest

from foundation import location
from foundation.config import parse_config
from foundation.errors import ConfigError
from ledger import Appender, compact_closed_days, list_files, read_ledger
from ledger.storage import remote, table
from ledger.storage.store import list_days, rewrite_days
from tests.builders import priced_batch as batch
from tests.paths import REPO
from tests.support.s3 import working_folder


def test_an_s3_data_dir_resolves_to_a_marked_working_folder_under_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    config = parse_config({"data_dir": "s3://ledger-bucket/team/a/"}, base=tmp_path)
    assert config.data_dir == tmp_path / "xdg" / "mistral-monitor" / "ledger-bucket" / "team" / "a"
    assert (config.data_dir / location.MARKER).read_text() == "s3://ledger-bucket/team/a\n"
    assert location.url_of(config.data_dir / "requests") == "s3://ledger-bucket/team/a/requests"
    chosen = parse_config({"data_dir": "s3://ledger-bucket/team/a", "cache_dir": "work"}, base=tmp_path)
    assert chosen.data_dir == tmp_path / "work"


@pytest.mark.parametrize("url", ["s3://", "s3:///prefix", "s3://B_ad/x", "s3://ab", "s3://bucket/a/../b"])
def test_a_malformed_s3_url_is_refused_naming_data_dir(tmp_path, url):
    with pytest.raises(ConfigError, match=r"^data_dir: '.*' is not an S3 location; write e\.g\. s3://"):
        parse_config({"data_dir": url}, base=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_cache_dir_already_standing_for_another_url_is_refused(tmp_path):
    parse_config({"data_dir": "s3://one-bucket/p", "cache_dir": "work"}, base=tmp_path)
    with pytest.raises(ConfigError, match=r"^cache_dir: .* is already the working folder of s3://one-bucket/p;"):
        parse_config({"data_dir": "s3://two-bucket/p", "cache_dir": "work"}, base=tmp_path)


def test_appends_land_in_the_bucket_once_and_readers_get_local_cached_paths(s3, tmp_path):
    folder = working_folder(s3, tmp_path)
    appender = Appender(folder)
    assert appender.append(batch(0, 10), batch=("s", 1)) == 10
    assert appender.append(batch(0, 10), batch=("s", 1)) == 0  # a replay: recognised, nothing added
    assert appender.replayed == 1 and appender.committed("s") == 1
    keys = s3.keys("monitor/requests/")
    assert any(k.startswith("monitor/requests/_delta_log/") for k in keys)
    data = [k for k in keys if k.endswith(".parquet")]
    assert len(data) == 1 and data[0].startswith("monitor/requests/date=2026-11-01/")
    files = list_files(folder)
    assert files == [folder / "requests" / data[0].removeprefix("monitor/requests/")]
    assert files[0].is_file()
    assert sorted(read_ledger(folder)["id"].to_pylist()) == sorted(f"r{i}" for i in range(10))


def test_a_host_with_an_empty_cache_reads_the_same_rows_and_dedupes_against_them(s3, tmp_path):
    Appender(working_folder(s3, tmp_path, "host-a")).append(batch(0, 10), batch=("s", 1))
    other = working_folder(s3, tmp_path, "host-b")
    assert not list((other).rglob("*.parquet"))
    assert read_ledger(other).num_rows == 10
    appender = Appender(other)
    assert appender.committed("s") == 1
    assert appender.append(batch(5, 10), batch=("s", 2)) == 5  # r5..r9 are stored already
    assert read_ledger(working_folder(s3, tmp_path, "host-a")).num_rows == 15


def test_a_torn_download_never_shows_under_the_real_name(s3, tmp_path, monkeypatch):
    Appender(working_folder(s3, tmp_path, "host-a")).append(batch(0, 10))
    other = working_folder(s3, tmp_path, "host-b")

    real = remote.client()

    class Torn:
        def download_file(self, bucket, key, path):
            Path(path).write_bytes(b"PAR1 half a file")
            raise OSError("connection reset mid-download")

        def __getattr__(self, name):
            return getattr(real, name)

    with monkeypatch.context() as patch:
        patch.setattr(remote, "client", Torn)
        with pytest.raises(OSError, match="mid-download"):
            list_files(other)
    assert [p.name for p in other.rglob("*") if p.is_file()] == [location.MARKER]
    assert read_ledger(other).num_rows == 10


def test_rewrite_compact_and_vacuum_go_through_the_bucket_and_evict_the_cache(s3, tmp_path):
    folder = working_folder(s3, tmp_path)
    appender = Appender(folder)
    for start in range(0, 30, 10):
        appender.append(batch(start, 10))
    appender.append(batch(100, 4, day="2026-11-02"))
    assert list_days(folder) == [date(2026, 11, 1), date(2026, 11, 2)]
    old = list_files(folder, date(2026, 11, 1), date(2026, 11, 1))
    assert len(old) == 3

    def priced_twice(rows):
        return rows.set_column(rows.schema.get_field_index("cost"), "cost", pc.multiply(rows["cost"], 2.0))

    before = pc.sum(read_ledger(folder)["cost"]).as_py()
    assert rewrite_days(folder, [date(2026, 11, 2)], priced_twice)
    day2 = pc.sum(read_ledger(folder, date(2026, 11, 2), date(2026, 11, 2))["cost"]).as_py()
    assert pc.sum(read_ledger(folder)["cost"]).as_py() == pytest.approx(before + day2 / 2)
    assert compact_closed_days(folder, date(2026, 11, 10)) == [date(2026, 11, 1)]
    assert len(list_files(folder, date(2026, 11, 1), date(2026, 11, 1))) == 1
    assert all(p.is_file() for p in old)  # kept for readers that listed them
    ids = [f"r{i}" for i in range(30)] + [f"r{i}" for i in range(100, 104)]
    assert sorted(read_ledger(folder)["id"].to_pylist()) == sorted(ids)
    deleted = table.vacuum(folder / "requests", retention_hours=0)
    assert len(deleted) == 4  # 3 compacted files of day 1, 1 replaced file of day 2
    assert not any(p.exists() for p in old)  # evicted with their objects
    assert not [k for k in s3.keys() if k.endswith(tuple(p.name for p in old))]
    assert read_ledger(folder).num_rows == 34


def test_two_hosts_committing_one_batch_land_it_once(s3, tmp_path, monkeypatch):
    """Host B commits batch 1 while host A is between its check and its commit: delta-rs refuses A's
    commit, and A decides again from the log (a replay, its ids stored), so nothing lands twice."""
    host_a, host_b = working_folder(s3, tmp_path, "host-a"), working_folder(s3, tmp_path, "host-b")
    Appender(host_a).append(batch(0, 1), batch=("s", 0))
    real = table.write_deltalake
    raced = []

    def b_first(handle, data, **options):
        if not raced:  # host B is another process (the ledger lock is per host, and per process here)
            code = f"from tests.ledger.test_s3_table import *; print(Appender(Path({str(host_b)!r})).append("
            code += "batch(0, 10), batch=('s', 1)))"
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
            raced.append(int(done.stdout))
        real(handle, data, **options)

    monkeypatch.setattr(table, "write_deltalake", b_first)
    appender = Appender(host_a)
    assert appender.append(batch(0, 12), batch=("s", 1)) == 2  # r10, r11: only those B did not store
    assert raced == [9] and appender.replayed == 1
    ids = read_ledger(host_b)["id"].to_pylist()
    assert sorted(ids) == sorted(f"r{i}" for i in range(12))


def test_the_gateways_ledger_dir_may_be_the_s3_data_dir(tmp_path, monkeypatch):
    from gateway.config import parse_config as parse_gateway

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    gateway = parse_gateway({"ledger_dir": "s3://ledger-bucket/prod"}, base=tmp_path)
    assert gateway.ledger_dir == location.default_cache("s3://ledger-bucket/prod")
    assert location.url_of(gateway.ledger_dir / "requests") == "s3://ledger-bucket/prod/requests"
    with pytest.raises(ConfigError, match=r"^ledger_dir: 'gs://b/p' is a URL; data_dir is a local folder or s3://"):
        parse_gateway({"ledger_dir": "gs://b/p"}, base=tmp_path)


def test_a_batch_number_another_process_committed_is_seen_at_once(data_dir):
    """The batch numbers this process knows are kept with the table version they hold at: a commit
    by another process (here after this one's own) must be read, not the remembered number."""
    appender = Appender(data_dir)
    appender.append(batch(0, 5), batch=("s", 1))
    assert appender.committed("s") == 1
    code = "from tests.ledger.test_s3_table import *; "
    code += f"Appender(Path({str(data_dir)!r})).append(batch(5, 5), batch=('s', 2))"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
    assert appender.committed("s") == 2
    assert appender.append(batch(5, 5), batch=("s", 2)) == 0 and appender.replayed == 1
    assert appender.append(batch(10, 5), batch=("s", 3)) == 5
    assert (appender.committed("s"), table.txn_version(data_dir / "requests", "other")) == (3, None)


def test_a_hosts_vacuum_evicts_the_copies_another_hosts_vacuum_deleted(s3, tmp_path):
    host_a, host_b = working_folder(s3, tmp_path, "host-a"), working_folder(s3, tmp_path, "host-b")
    appender = Appender(host_a)
    for start in range(0, 30, 10):
        appender.append(batch(start, 10))
    cached = list_files(host_b)  # host B downloads the three files
    assert len(cached) == 3 and all(p.is_file() for p in cached)
    compact_closed_days(host_a, date(2026, 11, 10))
    assert len(table.vacuum(host_a / "requests", retention_hours=0)) == 3
    assert all(p.is_file() for p in cached)  # host B has not looked yet
    table.vacuum(host_b / "requests", retention_hours=0)  # nothing left to delete in the bucket
    assert not any(p.exists() for p in cached)
    assert read_ledger(host_b).num_rows == 30


def test_a_read_when_nothing_was_committed_probes_for_the_next_commit_and_lists_no_log(data_dir, monkeypatch):
    """Issue 21: outside a ledger-lock span every read must see the latest commit, but a read when
    nothing changed costs one probe for the next commit file (a stat, on S3 one HEAD), never a
    listing of the log; right after this process's own commit too. Another process's commit is
    seen by the very next read."""
    from deltalake import DeltaTable

    listed, probes = [], []
    update = DeltaTable.update_incremental
    monkeypatch.setattr(DeltaTable, "update_incremental", lambda self: listed.append(1) or update(self))
    has = getattr(remote, "has", None)
    monkeypatch.setattr(remote, "has", lambda url: probes.append(url) or has(url), raising=False)
    folder = data_dir / "requests"
    Appender(data_dir).append(batch(0, 5), batch=("s", 1))
    del listed[:], probes[:]
    for _ in range(3):
        assert table.version(folder) == 1 and len(list_files(data_dir)) == 1
    assert listed == []
    assert len(probes) == (6 if location.url_of(folder) else 0)  # a HEAD per read on S3, none inside a span
    code = "from tests.ledger.test_s3_table import *; "
    code += f"Appender(Path({str(data_dir)!r})).append(batch(5, 5), batch=('s', 2))"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
    assert table.version(folder) == 2 and len(listed) == 1
    assert read_ledger(data_dir).num_rows == 10


def test_fill_writes_a_predicates_rows_only_while_the_table_holds_none(data_dir):
    """`fill` is `overwrite` that declines when a row already matches: the second fill of a key
    writes nothing, and a key of the same partition (or its NULL twin) is another key."""
    import pyarrow as pa

    layout = table.Layout(pa.schema([("part", pa.string()), ("key", pa.string()), ("n", pa.int64())]), ("part",))
    folder = data_dir / "keyed"

    def rows(key: str | None, n: int) -> pa.Table:
        return pa.table({"part": ["p"], "key": [key], "n": [n]}, schema=layout.schema)

    first = table.fill(folder, rows("a", 1), "part = 'p' AND key = 'a'", layout)
    assert first is not None
    assert table.fill(folder, rows("a", 2), "part = 'p' AND key = 'a'", layout) is None
    assert table.version(folder) == first
    assert table.fill(folder, rows(None, 3), "part = 'p' AND key IS NULL", layout) == first + 1
    assert table.fill(folder, rows("b", 4), "part = 'p' AND key = 'b'", layout) == first + 2
    assert table.fill(folder, rows(None, 5), "part = 'p' AND key IS NULL", layout) is None
    found = table.read(folder, layout).sort_by([("n", "ascending")])
    assert found.select(["key", "n"]).to_pylist() == [
        {"key": "a", "n": 1},
        {"key": None, "n": 3},
        {"key": "b", "n": 4},
    ]
