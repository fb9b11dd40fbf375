"""The rollups are two Delta tables (issue 21), partitioned by (date, hash of the day's ledger files):
a day's rebuild is one commit replacing its partition, and on S3 a host with an empty working
folder reads the bucket's rollups instead of rolling the days up again."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from deltalake import DeltaTable

from ledger import write_rows
from ledger.queries import Filters, spend_summary, update_rollups
from ledger.queries._rollups import built, ledger_hash, plan, rollup_table
from ledger.storage.store import day_files, files_by_day, read_ledger
from tests.builders import build_ledger
from tests.support.s3 import working_folder

END = datetime(2026, 11, 25, 12, tzinfo=UTC)
DAY = date(2026, 11, 24)
WINDOW = Filters.for_dates(date(2026, 11, 23), date(2026, 11, 25), "UTC")


def figures(data: Path) -> tuple[int, int, int, float]:
    summary = spend_summary(data, WINDOW)
    return summary.requests, summary.errors, summary.tokens, summary.spend


def test_rollups_are_delta_tables_partitioned_by_day_and_ledger_hash(tmp_path):
    build_ledger(tmp_path, n_records=2_000, days=3, seed=7, end=END)
    update_rollups(tmp_path)
    for kind in ("totals", "latency"):
        table = DeltaTable(str(rollup_table(tmp_path, kind)))
        assert table.metadata().partition_columns == ["date", "ledger_hash"]
        held = {
            (v["date"], v["ledger_hash"]) for v in table.to_pyarrow_table(columns=["date", "ledger_hash"]).to_pylist()
        }
        expected = {
            (day, ledger_hash(files)) for day, files in files_by_day(tmp_path, date(2026, 11, 1), END.date()).items()
        }
        assert held == expected
    rows = DeltaTable(str(rollup_table(tmp_path, "totals"))).to_pyarrow_table()
    assert sum(rows["n"].to_pylist()) == read_ledger(tmp_path).num_rows


def test_a_stale_day_is_rebuilt_in_one_commit_per_kind_and_answers_stay(tmp_path, monkeypatch):
    build_ledger(tmp_path, n_records=2_000, days=3, seed=7, end=END)
    update_rollups(tmp_path)
    versions = {kind: DeltaTable(str(rollup_table(tmp_path, kind))).version() for kind in ("totals", "latency")}
    late = read_ledger(tmp_path, DAY, DAY).slice(0, 2)
    write_rows(tmp_path, late.set_column(late.schema.get_field_index("id"), "id", [["late-1", "late-2"]]))
    fresh, raw = plan(tmp_path, WINDOW.utc_days()[0], WINDOW.utc_days()[1])
    assert raw == day_files(tmp_path, DAY)  # stale: summed on the fly
    assert update_rollups(tmp_path) == [
        rollup_table(tmp_path, kind) / f"date={DAY}" / f"ledger_hash={ledger_hash(day_files(tmp_path, DAY))}"
        for kind in ("totals", "latency")
    ]
    assert {k: DeltaTable(str(rollup_table(tmp_path, k))).version() for k in versions} == {
        k: v + 1 for k, v in versions.items()
    }
    assert [key for key in built(tmp_path) if key[0] == DAY] == [(DAY, ledger_hash(day_files(tmp_path, DAY)))]
    assert plan(tmp_path, *WINDOW.utc_days())[1] == []
    with_rollups = figures(tmp_path)
    monkeypatch.setenv("LEDGER_ROLLUPS", "0")
    assert figures(tmp_path) == pytest.approx(with_rollups, rel=1e-12)  # money summed in another order
    assert update_rollups(tmp_path) == []


@pytest.mark.parametrize("kind", ["totals", "latency"])
def test_a_fresh_s3_host_reads_the_buckets_rollups_instead_of_recomputing(s3, tmp_path, monkeypatch, kind):
    host_a = working_folder(s3, tmp_path, "host-a")
    seed = tmp_path / "seed"
    build_ledger(seed, n_records=3_000, days=3, seed=7, end=END)
    write_rows(host_a, read_ledger(seed))
    assert update_rollups(host_a)
    assert any(k.startswith(f"monitor/rollups/{kind}/_delta_log/") for k in s3.keys("monitor/rollups/"))
    host_b = working_folder(s3, tmp_path, "host-b")
    assert not (host_b / "rollups").exists()
    fresh, raw = plan(host_b, *WINDOW.utc_days(), kind)
    assert raw == [] and len(fresh) == 3  # every day from the bucket's rollups, none rolled up again
    assert list((host_b / "requests").rglob("*.parquet")) == []  # no raw ledger file even downloaded
    table = rollup_table(host_b, kind)
    keys = set(s3.keys(f"monitor/rollups/{kind}/"))
    assert all(f.is_file() and f"monitor/rollups/{kind}/{f.relative_to(table).as_posix()}" in keys for f in fresh)
    assert update_rollups(host_b) == []  # host B finds them fresh too
    with_rollups = figures(host_b)
    assert figures(host_a) == pytest.approx(with_rollups, rel=1e-12)  # DuckDB sums in parallel: order varies
    monkeypatch.setenv("LEDGER_ROLLUPS", "0")
    assert figures(host_b) == pytest.approx(with_rollups, rel=1e-12)


def test_files_a_rebuild_replaced_are_vacuumed_after_the_retention(tmp_path, monkeypatch):
    import ledger.queries._rollup_build as build

    build_ledger(tmp_path, n_records=2_000, days=3, seed=7, end=END)
    update_rollups(tmp_path)
    table = rollup_table(tmp_path, "totals")
    before = set(table.glob("date=*/*/*.parquet"))
    monkeypatch.setattr(build, "VACUUM_EVERY", 1)
    monkeypatch.setattr(build, "VACUUM_HOURS", 0)
    late = read_ledger(tmp_path, DAY, DAY).slice(0, 1)
    write_rows(tmp_path, late.set_column(late.schema.get_field_index("id"), "id", [["late-1"]]))
    update_rollups(tmp_path)
    after = set(table.glob("date=*/*/*.parquet"))
    assert after == {f for files in built(tmp_path).values() for f in files}  # only the snapshot's files are left
    assert [f for f in before - after if f.parent.parent.name == f"date={DAY}"]  # the day's old rollup is gone
