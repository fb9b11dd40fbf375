"""Moving the old per-file billed layout into the Delta table, SIGKILLed at several points, then
run again, ends with every key's lines once: the totals of the old files, 0 lost, 0 duplicated
(real processes, kill -9). After each kill, every key whose old file is gone holds its lines in
the table, and no key holds any line twice. Expected lines are the ones this test wrote.

Kill points, in this order: the first commit (the table's create, at the `linkat` of its commit
file), a commit midway (its data file written), two commits a poll of the log sees land (the kill
follows them), then the `unlink` of one old file among the deletes (the `linkat`s and the `unlink`
by strace: no poll reaches those instants). The `unlink` comes last: a rerun writes only the keys
the table lacks, so once the deletes began no commit is left for a later kill to hit."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from deltalake import DeltaTable

from ledger.billing import BILLED_SCHEMA, billed_dir, migrate_billed, read_billed
from ledger.storage import table as delta
from tests.paths import REPO
from tests.support.kills import HAS_STRACE, at_syscall, kill_when, was_killed

from .test_billed_delta import write_old_file

pytestmark = pytest.mark.process

LAYOUT = delta.Layout(BILLED_SCHEMA, ("month",))
MIGRATE = textwrap.dedent("""
    import sys
    from pathlib import Path
    from ledger.billing import migrate_billed
    print(migrate_billed(Path(sys.argv[1])), flush=True)
""")
Key = tuple[str, str, str | None]
Line = tuple[object, ...]


def old_layout(data: Path) -> dict[Key, Counter[Line]]:
    """18 old files (3 sources, 3 months, with and without a workspace) of 1 to 4 lines, one of them
    unreadable (no amount); returns each key's lines as written."""
    written: dict[Key, Counter[Line]] = {}
    number = 0
    for source in ("mistral_admin", "oai", "ant"):
        for month in ("2026-08", "2026-09", "2026-10"):
            for workspace in (None, "ws-1"):
                rows: list[dict[str, object]] = [
                    {"model": f"m{j}", "metric": "input", "quantity": float(j), "amount": number * 10 + j / 4}
                    for j in range(1 + number % 4)
                ]
                if number == 5:
                    rows.append({"model": "odd", "amount": None, "raw": '{"x": 1}', "problem": "unreadable"})
                write_old_file(data, source, month, workspace, rows)
                written[(source, month, workspace)] = Counter(line(r) for r in rows)
                number += 1
    return written


def line(row: dict[str, object]) -> Line:
    return tuple(row.get(c) for c in ("model", "metric", "quantity", "amount", "raw", "problem"))


def in_table(rows: list[dict[str, object]]) -> dict[Key, Counter[Line]]:
    out: dict[Key, Counter[Line]] = {}
    for row in rows:
        workspace = row["workspace"]
        key = (str(row["source"]), str(row["month"]), None if workspace is None else str(workspace))
        out.setdefault(key, Counter())[line(row)] += 1
    return out


def old_files(data: Path) -> set[Path]:
    return set((data / "billing").glob("*/*.parquet"))


def check_after_kill(data: Path, written: dict[Key, Counter[Line]], files: dict[Key, Path]) -> None:
    """Read without migrating (this package's reader and deltalake's): each key's lines are in the
    table exactly as written, or not yet there while its old file is; never lost, never twice."""
    folder = billed_dir(data)
    if not delta.is_table(folder):
        assert old_files(data) == set(files.values())
        return
    ours = in_table(delta.read(folder, LAYOUT).to_pylist())
    assert in_table(DeltaTable(str(folder)).to_pyarrow_table().to_pylist()) == ours
    for key, lines in written.items():
        if not files[key].exists():
            assert ours.get(key) == lines, f"{key}: its old file is deleted, the table holds {ours.get(key)}"
        else:
            assert ours.get(key) in (None, lines), f"{key}: the table holds {ours.get(key)}, not its old lines"
    assert ours.keys() <= written.keys()


def totals(lines: dict[Key, Counter[Line]]) -> dict[Key, tuple[int, float]]:
    """Lines and amount billed per key (an unreadable line's amount is none: 0)."""
    out = {}
    for key, found in lines.items():
        amounts = [amount for entry, n in found.items() for amount in [entry[3]] * n]
        out[key] = (found.total(), round(sum(a for a in amounts if isinstance(a, float)), 9))
    return out


def latest(data: Path) -> int:
    """The billed table's latest version from its log's file names (-1: no commit yet)."""
    found = [int(p.name.removesuffix(".json")) for p in (billed_dir(data) / "_delta_log").glob("*.json")]
    return max(found, default=-1)


@pytest.mark.slow
def test_a_billed_migration_killed_at_several_points_then_rerun_moves_every_line_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    written = old_layout(data)
    files: dict[Key, Path] = {}
    for path in old_files(data):
        source, stem = path.parent.name, path.name.removesuffix(".parquet")
        month, _, workspace = stem.partition(".")
        files[(source, month, workspace or None)] = path
    assert files.keys() == written.keys()
    command = [sys.executable, "-c", MIGRATE, str(data)]
    log = billed_dir(data) / "_delta_log"
    rng = random.Random(5)

    def strace_kill(syscall: str, path: Path) -> int:
        done = subprocess.run(at_syscall(path, syscall, command), cwd=REPO, capture_output=True, text=True, timeout=120)
        assert was_killed(done), done.stderr[-2000:]
        check_after_kill(data, written, files)
        return 1

    killed = 0
    if HAS_STRACE:
        killed += strace_kill("linkat", log / f"{0:020d}.json")  # the table's create
        killed += strace_kill("linkat", log / f"{latest(data) + rng.randint(3, 6):020d}.json")  # a commit midway
    for _ in range(2):  # kills a poll of the log decides: just after a commit it sees land
        target = latest(data) + rng.randint(2, 4)
        with subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL) as proc:
            killed += kill_when(proc, (log / f"{target:020d}.json").exists)
        check_after_kill(data, written, files)
    if HAS_STRACE:  # last: once the deletes began every key is in the table, and a rerun commits nothing
        killed += strace_kill("unlink", sorted(old_files(data))[6])  # the 7th old file's delete
        assert len(old_files(data)) == len(files) - 6  # 6 deleted before the kill
    assert killed >= 2, "the migrations ended before their kills"
    moved = migrate_billed(data)  # the rerun: every old file left
    assert moved.mismatch is None and moved.removed == moved.files > 0
    assert old_files(data) == set()
    table = in_table(read_billed(data).to_pylist())
    lost = sum((written[k] - table.get(k, Counter())).total() for k in written)
    doubled = sum((table[k] - written.get(k, Counter())).total() for k in table)
    assert (lost, doubled) == (0, 0)
    assert totals(table) == totals(written)  # what the migration compares, per key
    assert table == written
