"""The billed table is a Delta table (issue 21): readable by any Delta reader, one commit per
(source, month, workspace) that never loses another key's update, the old per-file layout moved
into it once (filling only the keys the table lacks: another host's newer bill is kept, also when
it lands between the migration's check and its commit), and on S3 a fresh host reconciles against
the bucket's bill."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable

from ledger import write_rows
from ledger.billing import (
    BILLED_SCHEMA,
    BilledRow,
    billed_dir,
    billing_dir,
    migrate_billed,
    read_billed,
    reconcile,
    update_billed,
    write_billed,
)
from ledger.storage import table
from tests.builders import priced_batch
from tests.paths import REPO
from tests.support.s3 import working_folder

FETCHED = datetime(2026, 11, 20, 8, tzinfo=UTC)
MONTH = "2026-11"


def bill(model: str, amount: float, problem: str | None = None) -> BilledRow:
    return BilledRow(category="completion", model=model, metric="input", amount=amount, currency="USD", problem=problem)


def amounts(data: Path) -> dict[tuple[str, str | None, str], float | None]:
    return {(r["source"], r["workspace"], r["model"]): r["amount"] for r in read_billed(data).to_pylist()}


def test_the_billed_table_is_a_delta_table_partitioned_by_month(tmp_path):
    write_billed(tmp_path, "adm", MONTH, None, [bill("a", 1.0), bill("b", 2.0)], FETCHED)
    write_billed(tmp_path, "adm", "2026-10", "ws 'one'", [bill("a", 3.0)], FETCHED)
    table = DeltaTable(str(billed_dir(tmp_path)))
    assert table.metadata().partition_columns == ["month"]
    rows = table.to_pyarrow_table().sort_by([("month", "ascending"), ("model", "ascending")])
    assert rows.select(["month", "workspace", "model", "amount"]).to_pylist() == [
        {"month": "2026-10", "workspace": "ws 'one'", "model": "a", "amount": 3.0},
        {"month": MONTH, "workspace": None, "model": "a", "amount": 1.0},
        {"month": MONTH, "workspace": None, "model": "b", "amount": 2.0},
    ]
    assert {p.name for p in billed_dir(tmp_path).iterdir() if p.is_dir()} == {
        "_delta_log",
        "month=2026-10",
        f"month={MONTH}",
    }


def test_an_update_replaces_exactly_its_key_in_one_commit(tmp_path):
    write_billed(tmp_path, "adm", MONTH, None, [bill("a", 1.0)], FETCHED)
    write_billed(tmp_path, "adm", MONTH, "ws", [bill("a", 5.0)], FETCHED)
    write_billed(tmp_path, "other", MONTH, None, [bill("a", 7.0)], FETCHED)
    version = DeltaTable(str(billed_dir(tmp_path))).version()
    update_billed(tmp_path, "adm", MONTH, None, [bill("a", 2.0), bill("b", 4.0)], FETCHED)
    assert DeltaTable(str(billed_dir(tmp_path))).version() == version + 1
    assert amounts(tmp_path) == {
        ("adm", None, "a"): 2.0,
        ("adm", None, "b"): 4.0,
        ("adm", "ws", "a"): 5.0,
        ("other", None, "a"): 7.0,
    }
    update_billed(tmp_path, "adm", MONTH, None, [bill("b", 0.0, problem="unreadable")], FETCHED)
    kept = [(r["model"], r["amount"], r["problem"]) for r in read_billed(tmp_path).to_pylist() if r["source"] == "adm"]
    assert sorted(kept, key=str) == sorted([("a", 5.0, None), ("b", 4.0, None), ("b", 0.0, "unreadable")], key=str)


def test_concurrent_updates_of_two_keys_in_threads_both_survive(tmp_path):
    rounds = 15
    errors: list[BaseException] = []

    def hammer(source: str) -> None:
        try:
            for i in range(rounds):
                update_billed(tmp_path, source, MONTH, None, [bill("m", float(i))], FETCHED)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(name,)) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert amounts(tmp_path) == {("one", None, "m"): rounds - 1.0, ("two", None, "m"): rounds - 1.0}
    assert sorted(DeltaTable(str(billed_dir(tmp_path))).to_pyarrow_table()["source"].to_pylist()) == ["one", "two"]


HAMMER = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from ledger.billing import BilledRow, update_billed
data, source, rounds = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
for i in range(rounds):
    row = BilledRow(category="completion", model="m", amount=float(i), currency="USD")
    update_billed(data, source, "2026-11", None, [row], datetime(2026, 11, 20, tzinfo=UTC))
"""


def hammer_in_processes(folders: list[Path], rounds: int) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", HAMMER, str(folder), f"src{i}", str(rounds)], cwd=REPO)
        for i, folder in enumerate(folders)
    ]
    for proc in procs:
        assert proc.wait(timeout=240) == 0


def test_concurrent_updates_of_two_keys_in_processes_both_survive(tmp_path):
    hammer_in_processes([tmp_path, tmp_path], rounds=10)
    assert amounts(tmp_path) == {("src0", None, "m"): 9.0, ("src1", None, "m"): 9.0}
    assert sorted(DeltaTable(str(billed_dir(tmp_path))).to_pyarrow_table()["source"].to_pylist()) == ["src0", "src1"]


def test_two_hosts_updating_two_keys_of_one_month_on_s3_both_survive(s3, tmp_path):
    """Two working folders (two hosts: no shared lock), one month partition: delta-rs refuses the
    commit that rewrote a file the other replaced first, and that update is decided again."""
    hosts = [working_folder(s3, tmp_path, "host-a"), working_folder(s3, tmp_path, "host-b")]
    hammer_in_processes(hosts, rounds=8)
    assert amounts(hosts[0]) == amounts(hosts[1]) == {("src0", None, "m"): 7.0, ("src1", None, "m"): 7.0}


def write_old_file(data: Path, source: str, month: str, workspace: str | None, rows: list[dict[str, object]]) -> Path:
    """A billed file of the old layout, `billing/<source>/<month>[.<workspace>].parquet`."""
    path = data / "billing" / source / f"{month}{'.' + workspace if workspace else ''}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    full = [
        {"source": source, "month": month, "workspace": workspace, "category": "completion", "fetched_at": FETCHED}
        | row
        for row in rows
    ]
    pq.write_table(pa.Table.from_pylist(full, schema=BILLED_SCHEMA), path)
    return path


def test_old_billed_files_migrate_once_with_equal_totals(tmp_path):
    old = [
        write_old_file(
            tmp_path, "adm", "2026-10", None, [{"model": "a", "amount": 1.5}, {"model": "b", "amount": 2.0}]
        ),
        write_old_file(tmp_path, "adm", MONTH, "ws1", [{"model": "a", "amount": 4.0}]),
        write_old_file(tmp_path, "oai", MONTH, None, [{"model": "g", "amount": None, "raw": "{}", "problem": "odd"}]),
    ]
    (tmp_path / "billing" / "adm" / "spend-limit.json").write_text("{}")
    before = sorted(pa.concat_tables([pq.read_table(p) for p in old]).to_pylist(), key=str)
    done = migrate_billed(tmp_path)
    assert (done.files, done.rows, done.removed, done.mismatch) == (3, 4, 3, None)
    assert not any(p.exists() for p in old)
    assert (tmp_path / "billing" / "adm" / "spend-limit.json").exists()
    assert sorted(DeltaTable(str(billed_dir(tmp_path))).to_pyarrow_table().to_pylist(), key=str) == before
    version = DeltaTable(str(billed_dir(tmp_path))).version()
    assert migrate_billed(tmp_path) == type(done)(files=0, rows=0, removed=0, mismatch=None)
    assert DeltaTable(str(billed_dir(tmp_path))).version() == version


def test_old_billed_files_are_moved_at_first_read(tmp_path):
    write_old_file(tmp_path, "adm", MONTH, None, [{"model": "a", "amount": 3.0}])
    assert amounts(tmp_path) == {("adm", None, "a"): 3.0}
    assert list((tmp_path / "billing" / "adm").glob("*.parquet")) == []
    assert DeltaTable(str(billed_dir(tmp_path))).to_pyarrow_table()["amount"].to_pylist() == [3.0]


def test_a_fresh_host_reads_the_bill_from_the_bucket_and_reconciles_alike(s3, tmp_path):
    host_a = working_folder(s3, tmp_path, "host-a")
    write_rows(host_a, priced_batch(0, 50))
    update_billed(host_a, "adm", MONTH, None, [bill("mistral-small-2603", 1.0), bill("codestral", 2.0)], FETCHED)
    assert any(k.startswith("monitor/billed/_delta_log/") for k in s3.keys("monitor/billed/"))
    assert any(k.startswith(f"monitor/billed/month={MONTH}/") for k in s3.keys("monitor/billed/"))
    host_b = working_folder(s3, tmp_path, "host-b")
    assert not (host_b / "billing").exists()
    assert read_billed(host_b).to_pylist() == read_billed(host_a).to_pylist()
    assert reconcile(host_b, [MONTH], "USD") == reconcile(host_a, [MONTH], "USD")
    assert {r.model for r in reconcile(host_b, [MONTH], "USD")} >= {"mistral-small-2603", "codestral"}


def test_no_source_folder_can_be_the_tables(tmp_path: Path) -> None:
    """A vacuum deletes every file of the table's folder its log does not name: a source's own folder
    (`billing/<source>`: price sheets, readings) must never be it, whatever the source is called."""
    for source in ("billed", "mistral_admin", "..", "."):
        assert billed_dir(tmp_path) != billing_dir(tmp_path, source).resolve()
        assert not billing_dir(tmp_path, source).resolve().is_relative_to(billed_dir(tmp_path))
    assert billing_dir(tmp_path, "..") == tmp_path / "billing" / "__"


def test_a_second_hosts_stale_old_files_never_replace_the_tables_newer_bill_on_s3(s3, tmp_path):
    """Host A (new code) bills key K into the bucket's table; host B still holds old-layout files
    from before the upgrade: a stale one of K and one of L, a key the table lacks. B's migration
    fills L only, keeps A's K exactly, and deletes both old files (the table is K's truth)."""
    host_a = working_folder(s3, tmp_path, "host-a")
    write_rows(host_a, priced_batch(0, 50))
    update_billed(host_a, "adm", MONTH, None, [bill("mistral-small-2603", 7.0), bill("codestral", 8.0)], FETCHED)
    newer = read_billed(host_a).to_pylist()
    host_b = working_folder(s3, tmp_path, "host-b")
    old = [
        write_old_file(host_b, "adm", MONTH, None, [{"model": "mistral-small-2603", "amount": 1.0}]),
        write_old_file(host_b, "adm", MONTH, "ws", [{"model": "codestral", "amount": 3.0}]),
    ]
    done = migrate_billed(host_b)
    fresh = working_folder(s3, tmp_path, "host-c")
    rows = read_billed(fresh).to_pylist()
    assert [r for r in rows if r["workspace"] is None] == newer
    assert amounts(fresh) == {
        ("adm", None, "mistral-small-2603"): 7.0,
        ("adm", None, "codestral"): 8.0,
        ("adm", "ws", "codestral"): 3.0,
    }
    billed = {(r.model, r.billed) for r in reconcile(fresh, [MONTH], "USD")}
    assert {("mistral-small-2603", 7.0), ("codestral", 11.0)} <= billed
    assert not any(p.exists() for p in old)
    assert (done.files, done.rows, done.kept, done.removed, done.mismatch) == (2, 1, 1, 2, None)


def test_a_key_another_host_bills_between_the_migrations_check_and_its_commit_is_kept_on_s3(s3, tmp_path, monkeypatch):
    """Host B's migration finds key K missing; host A (another process: the billed lock is per
    host) bills K before B's commit lands. delta-rs refuses B's commit (its overwrite reads what
    K's predicate selects, A added such a file), B checks again, finds K held and writes nothing."""
    host_a, host_b = working_folder(s3, tmp_path, "host-a"), working_folder(s3, tmp_path, "host-b")
    update_billed(host_a, "oai", MONTH, None, [bill("gpt", 5.0)], FETCHED)
    old = write_old_file(host_b, "adm", MONTH, None, [{"model": "codestral", "amount": 1.0}])
    real = table.write_deltalake
    commits: list[str] = []

    def a_first(handle, data, **options):
        if not commits:
            code = "from tests.billing.test_billed_delta import *; "
            code += f"update_billed(Path({str(host_a)!r}), 'adm', MONTH, None, [bill('codestral', 9.0)], FETCHED)"
            subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
        try:
            real(handle, data, **options)
        except table.Conflict:
            commits.append("refused")
            raise
        commits.append("landed")

    monkeypatch.setattr(table, "write_deltalake", a_first)
    done = migrate_billed(host_b)
    assert commits == ["refused"]
    assert (done.rows, done.kept, done.removed, done.mismatch) == (0, 1, 1, None)
    assert not old.exists()
    assert amounts(working_folder(s3, tmp_path, "host-c")) == {
        ("adm", None, "codestral"): 9.0,
        ("oai", None, "gpt"): 5.0,
    }
