"""The store: one file per day per batch, compaction that never doubles or drops rows; the tests taking
`data_dir` run on local disk and on the loopback S3 server."""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from ledger import Appender, compact_closed_days, list_files, read_ledger
from ledger.storage.store import day_dir, day_files, dedupe, vacuum, write_rows
from tests.builders import priced_batch as batch


@pytest.mark.slow
def test_batches_split_by_utc_day_and_are_readable_by_pyarrow_and_duckdb(tmp_path):
    appender = Appender(tmp_path)
    appender.append(batch(0, 10, "2026-11-01"))
    appender.append(batch(10, 5, "2026-11-02"))
    hive = ds.dataset(tmp_path / "requests", format="parquet", partitioning="hive").to_table()
    assert hive.num_rows == 15
    glob = str(tmp_path / "requests" / "*" / "*.parquet")
    count = duckdb.sql(f"select count(*) from read_parquet('{glob}', hive_partitioning=true)").fetchall()[0][0]
    assert count == 15


@pytest.mark.slow
def test_compaction_merges_a_day_into_one_file_with_the_same_rows(tmp_path):
    appender = Appender(tmp_path)
    for start in range(0, 50, 10):
        appender.append(batch(start, 10))
    before = sorted(read_ledger(tmp_path)["id"].to_pylist())
    assert len(list_files(tmp_path)) == 5
    assert compact_closed_days(tmp_path, date(2026, 11, 10)) == [date(2026, 11, 1)]
    assert len(list_files(tmp_path)) == 1
    assert sorted(read_ledger(tmp_path)["id"].to_pylist()) == before


def test_files_a_compaction_replaced_stay_on_disk_for_readers_but_leave_the_snapshot(data_dir):
    appender = Appender(data_dir)
    appender.append(batch(0, 10))
    appender.append(batch(10, 10))
    day = date(2026, 11, 1)
    folder = day_dir(data_dir, day)
    parts = day_files(data_dir, day)
    compact_closed_days(data_dir, date(2026, 11, 10))  # vacuums too, with a week's retention
    assert all(p.exists() for p in parts)  # a reader that listed them a moment ago can still read them
    assert len(day_files(data_dir, day)) == 1 and not set(parts) & set(day_files(data_dir, day))
    on_disk = ds.dataset(folder, format="parquet").to_table()  # a raw glob sees old and new: 40 rows
    assert (on_disk.num_rows, read_ledger(data_dir).num_rows) == (40, 20)
    assert set(vacuum(data_dir, retention_hours=0)) == {p.relative_to(data_dir / "requests").as_posix() for p in parts}
    assert not any(p.exists() for p in parts) and read_ledger(data_dir).num_rows == 20


def test_late_rows_after_compaction_stay_visible(data_dir):
    appender = Appender(data_dir)
    appender.append(batch(0, 10))
    appender.append(batch(10, 10))
    compact_closed_days(data_dir, date(2026, 11, 10))
    appender.append(batch(20, 3))
    assert read_ledger(data_dir).num_rows == 23


def test_a_new_process_still_dedupes_against_disk(data_dir):
    Appender(data_dir).append(batch(0, 10))
    assert Appender(data_dir).append(batch(5, 10)) == 5
    assert read_ledger(data_dir).num_rows == 15


@pytest.mark.slow
@pytest.mark.parametrize("source", ["a", "b"])
def test_same_id_from_two_sources_is_two_rows(tmp_path, source):
    Appender(tmp_path).append(batch(0, 3, source="a"))
    Appender(tmp_path).append(batch(0, 3, source="b"))
    assert read_ledger(tmp_path).num_rows == 6


def test_dedupe_keeps_the_first_row_of_every_key_not_the_first_rows_of_the_table():
    rows = pa.table({"source": ["s"] * 6, "id": ["a", "a", "b", "a", "c", "d"], "n": [0, 1, 2, 3, 4, 5]})
    assert dedupe(rows).to_pydict() == {"source": ["s"] * 4, "id": ["a", "b", "c", "d"], "n": [0, 2, 4, 5]}


def test_a_page_repeating_an_id_keeps_every_other_record(data_dir):
    page = pa.concat_tables([batch(0, 1), batch(0, 6)])  # r0 twice, then r1..r5: the tail used to be dropped
    assert Appender(data_dir).append(page) == 6
    assert sorted(read_ledger(data_dir)["id"].to_pylist()) == [f"r{i}" for i in range(6)]


@pytest.mark.slow
def test_compacting_a_day_that_holds_duplicates_keeps_every_distinct_id(data_dir):
    write_rows(data_dir, batch(0, 40))
    write_rows(data_dir, batch(0, 10))  # a second writer stored r0..r9 again
    write_rows(data_dir, batch(40, 20))
    assert compact_closed_days(data_dir, date(2026, 11, 5)) == [date(2026, 11, 1)]
    ids = read_ledger(data_dir)["id"].to_pylist()
    assert sorted(ids) == sorted(f"r{i}" for i in range(60))


def test_two_appenders_that_both_cached_a_day_never_store_an_id_twice(data_dir):
    first, second = Appender(data_dir), Appender(data_dir)  # two processes' caches
    assert first.append(batch(0, 5)) == 5
    assert second.append(batch(5, 5)) == 5  # second has now cached the day, with r0..r9
    assert first.append(batch(5, 10)) == 5  # r5..r9 written by second: first must see them
    assert second.append(batch(0, 15)) == 0
    ids = read_ledger(data_dir)["id"].to_pylist()
    assert sorted(ids) == sorted(f"r{i}" for i in range(15))


def test_a_commit_by_another_writer_right_after_a_read_is_seen_by_the_next_read(tmp_path):
    from deltalake import write_deltalake

    from ledger.storage.table import with_day

    Appender(tmp_path).append(batch(0, 5))
    for k in range(5):  # each time: a read caches the snapshot, then a foreign commit in the same instant
        assert len(list_files(tmp_path)) == k + 1
        write_deltalake(str(tmp_path / "requests"), with_day(batch(100 + k, 1)), mode="append")
    assert read_ledger(tmp_path).num_rows == 10
