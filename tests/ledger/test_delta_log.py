"""The ledger's own Delta log reader (ledger/storage/delta_log.py) lists exactly the files and version
delta-rs lists, through appends, a checkpoint, compaction and a day rewritten; what it does not follow
it leaves to deltalake; and a reader of the ledger never imports deltalake.

Every expected list comes from delta-rs itself (`DeltaTable.file_uris`), never from our reader.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import orjson
import pytest
from deltalake import DeltaTable

from ledger import Appender, compact_closed_days, list_days, list_files, read_ledger
from ledger.storage import delta_log
from ledger.storage.store import requests_dir, rewrite_day
from tests.builders import build_ledger, priced_batch
from tests.paths import REPO


def delta_rs(folder):
    table = DeltaTable(str(folder))
    return table.version(), sorted(table.file_uris())


def ours(folder):
    found = delta_log.snapshot(folder)
    assert found is not None
    return found[0], sorted(found[1])


@pytest.mark.slow
def test_the_log_reader_lists_what_delta_rs_lists_through_a_checkpoint_compaction_and_a_rewrite(tmp_path):
    seed, data = tmp_path / "seed", tmp_path / "data"
    build_ledger(seed, n_records=1_200, days=4, seed=3, end=datetime(2026, 11, 4, 23, tzinfo=UTC))
    rows = read_ledger(seed)
    folder = requests_dir(data)
    appender = Appender(data)
    for start in range(0, 600, 150):
        appender.append(rows.slice(start, 150))
        assert ours(folder) == delta_rs(folder)
    DeltaTable(str(folder)).create_checkpoint()
    assert (folder / "_delta_log" / "_last_checkpoint").exists()
    delta_log._states.clear()  # a new process: starts from the checkpoint
    assert ours(folder) == delta_rs(folder)
    for start in range(600, rows.num_rows, 150):
        appender.append(rows.slice(start, 150))
    assert ours(folder) == delta_rs(folder)
    assert compact_closed_days(data, date(2026, 11, 6))  # removes: the replaced files leave the snapshot
    assert ours(folder) == delta_rs(folder)
    assert rewrite_day(data, date(2026, 11, 2), lambda t: t.slice(0, 10))
    assert ours(folder) == delta_rs(folder)
    delta_log._states.clear()
    assert ours(folder) == delta_rs(folder)
    assert list_days(data) == [date(2026, 11, d) for d in range(1, 5)]
    assert sorted(map(str, list_files(data))) == delta_rs(folder)[1]


def test_a_commit_is_listed_by_the_next_read_however_soon(tmp_path):
    build_ledger(tmp_path, n_records=200, days=2, seed=1, end=datetime(2026, 11, 2, 23, tzinfo=UTC))
    seed = read_ledger(tmp_path)
    folder = requests_dir(tmp_path)
    for k in range(3):  # each read caches the snapshot, then a commit follows at once
        before = ours(folder)
        Appender(tmp_path).append(seed.slice(k, 1).set_column(1, "id", [[f"late-{k}"]]))
        assert ours(folder) == delta_rs(folder) != before


def test_a_log_with_a_reader_feature_it_does_not_follow_is_left_to_deltalake(tmp_path):
    log = tmp_path / "t" / "_delta_log"
    log.mkdir(parents=True)
    protocol = {"minReaderVersion": 3, "minWriterVersion": 7, "readerFeatures": ["deletionVectors"]}
    add = {"path": "date=2026-11-01/a.parquet", "partitionValues": {"date": "2026-11-01"}, "size": 1}
    lines = [orjson.dumps({"protocol": protocol}), orjson.dumps({"add": {**add, "modificationTime": 0}})]
    (log / f"{0:020d}.json").write_bytes(b"\n".join(lines))
    assert delta_log.snapshot(tmp_path / "t") is None
    (log / f"{0:020d}.json").write_bytes(b"\n".join([orjson.dumps({"protocol": {"minReaderVersion": 1}}), lines[1]]))
    assert delta_log.snapshot(tmp_path / "t") == (0, {str((tmp_path / "t" / add["path"]).resolve()): date(2026, 11, 1)})
    assert delta_log.snapshot(tmp_path / "none") is None


PROBE = """
import sys
from pathlib import Path
from ledger import list_days, list_files
from ledger.queries import Filters, spend_summary
days = list_days(Path(sys.argv[1]))
spend_summary(Path(sys.argv[1]), Filters.for_dates(days[0], days[-1], "UTC"))
print(len(list_files(Path(sys.argv[1]))) > 0, "deltalake" in sys.modules)
"""


@pytest.mark.slow
def test_a_reader_of_the_ledger_never_imports_deltalake(tmp_path):
    build_ledger(tmp_path, n_records=300, days=2, seed=2, end=datetime(2026, 11, 2, 23, tzinfo=UTC))
    out = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "False"]


def test_a_table_made_again_in_its_folder_is_read_again_even_when_its_log_folder_is_the_same(tmp_path):
    """A table deleted and made again in the same folder (a rollup table rebuilt after a kill): when
    the new log reaches the cached version in the very same `_delta_log` folder (an inode reused),
    the reader must not follow the old table's files from its cache."""
    import shutil

    import pyarrow as pa
    from deltalake import write_deltalake

    old, new = tmp_path / "table", tmp_path / "other"
    for folder, base in ((old, 0), (new, 100)):
        for n in range(3):
            write_deltalake(str(folder), pa.table({"x": [base + n]}), mode="append")
    assert delta_log.paths(old) is not None
    for path in old.glob("*.parquet"):
        path.unlink()
    for path in (old / "_delta_log").iterdir():
        path.unlink()
    for path in new.glob("*.parquet"):
        shutil.copy(path, old / path.name)
    for path in (new / "_delta_log").iterdir():
        shutil.copy(path, old / "_delta_log" / path.name)
    found = delta_log.paths(old)
    assert found is not None
    assert sorted(found[1]) == sorted(str(old / Path(p).name) for p in DeltaTable(str(old)).file_uris())
    assert all(Path(p).exists() for p in found[1])


def test_a_log_folder_a_kill_left_without_its_first_commit_is_no_table_and_the_first_append_makes_it(tmp_path):
    """delta-rs makes `_delta_log/` before it links the first commit to its name: a kill between
    leaves the folder with only the staged commit. The ledger reads empty, an append creates the table."""
    data = tmp_path / "data"
    log = requests_dir(data) / "_delta_log"
    log.mkdir(parents=True)
    (log / "00000000000000000000.json#1").write_bytes(b'{"commitInfo":{}}\n')
    assert not delta_log.has_commit(log)
    assert list_files(data) == [] and list_days(data) == []
    rows = priced_batch(0, 50)
    Appender(data).append(rows)
    assert delta_log.has_commit(log)
    assert read_ledger(data).num_rows == 50 and delta_rs(requests_dir(data))[0] == ours(requests_dir(data))[0]
