"""Each group of pages is one Delta commit carrying the source's batch number (a `txn` action);
a group retried after a crash between its commit and its cursor is recognised by that number."""

from __future__ import annotations

import os

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from collector import _usage
from collector._records import parse_records
from ledger import Appender, PriceBook, price_rows, read_ledger

from .conftest import FakeEndpoint, make_record


def rows(start: int, n: int) -> pa.Table:
    table, _ = parse_records([make_record(i) for i in range(start, start + n)])
    return price_rows(table, "s", PriceBook.load(), "USD")


def test_a_batch_number_already_in_the_log_is_a_replay_even_for_a_fresh_appender(tmp_path):
    assert Appender(tmp_path).append(rows(0, 5), ("s", 1)) == 5
    assert DeltaTable(str(tmp_path / "requests")).transaction_version("s") == 1
    again = Appender(tmp_path)  # a new process: no id cache
    assert again.append(rows(0, 5), ("s", 1)) == 0
    assert again.replayed == 1
    assert again.append(rows(0, 7), ("s", 1)) == 2  # a grown last page: only its new rows, nothing lost
    assert again.committed("s") == 1
    assert again.append(rows(7, 3), ("s", 2)) == 3 and again.committed("s") == 2
    assert sorted(read_ledger(tmp_path)["id"].to_pylist()) == sorted(f"r{i}" for i in range(10))


def test_pages_are_grouped_into_commits_of_at_least_commit_rows(make_source, monkeypatch):
    monkeypatch.setattr(_usage, "COMMIT_ROWS", 6)
    source = make_source(FakeEndpoint([make_record(i) for i in range(20)]), page_limit=4)
    assert source.poll().records == 20
    table = DeltaTable(str(source.context.data_dir / "requests"))
    appends = [h for h in table.history() if h["operation"] == "WRITE"]
    assert len(appends) == 3  # 8 + 8 + 4 records: two full groups, then the poll's end
    assert table.transaction_version("fake") == source.context.cursors.batch("fake") == 3
    assert source.context.cursors.get("fake") == "20"


class Killed(BaseException):
    """Stands for a SIGKILL: nothing after it runs."""


def test_a_group_committed_but_whose_cursor_did_not_move_is_recognised_on_the_retry(make_source, monkeypatch):
    endpoint = FakeEndpoint([make_record(i) for i in range(9)])
    source = make_source(endpoint, page_limit=3)
    store = source.context.cursors
    real = store.advance

    def die(*args, **kwargs):
        raise Killed

    monkeypatch.setattr(store, "advance", die)
    with pytest.raises(Killed):
        source.poll()
    assert store.get("fake") is None and read_ledger(source.context.data_dir).num_rows == 9
    monkeypatch.setattr(store, "advance", real)
    assert source.poll().records == 0
    assert source.context.appender.replayed == 1
    assert store.get("fake") == "9" and store.batch("fake") == 1
    assert sorted(read_ledger(source.context.data_dir)["id"].to_pylist()) == sorted(f"r{i}" for i in range(9))


def test_the_collector_sets_delta_rs_allocator_decay_before_loading_deltalake_unless_already_set(monkeypatch):
    from collector.__main__ import main

    monkeypatch.delenv("_RJEM_MALLOC_CONF", raising=False)
    with pytest.raises(SystemExit):
        main(["--help"])
    assert os.environ["_RJEM_MALLOC_CONF"] == "dirty_decay_ms:250,muzzy_decay_ms:0"
    monkeypatch.setenv("_RJEM_MALLOC_CONF", "dirty_decay_ms:5000")
    with pytest.raises(SystemExit):
        main(["--help"])
    assert os.environ["_RJEM_MALLOC_CONF"] == "dirty_decay_ms:5000"
