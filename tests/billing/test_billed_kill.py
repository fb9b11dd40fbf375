"""A billed-table update SIGKILLed at any moment leaves every key whole: the table reads, and each
(source, month, workspace) holds exactly the lines of one of its updates, the last one committed
before the kill or, for the key being written, the one in flight; never neither, never both, never
a line twice (real processes, kill -9). Expected lines are computed here from the update's number,
not read back through the code under test.

A child updates the keys in turn, forever; the parent kills it at a varied moment, each a
condition polled with a deadline: once the log holds a given commit (a random one; 50, after which
the writer vacuums; 99, after which delta-rs writes the checkpoint of the 100th commit), or while
a data file of the next commit is on disk and the log does not name it yet. How many updates
landed is counted by deltalake from the log. On S3 the same, killed once a HEAD sees a commit
object land. The moments a poll cannot reach (the instant the first commit is linked into a new
table's log, and the next two) are reached by strace, which delivers the SIGKILL on entering
that very `linkat`."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from deltalake import DeltaTable

from ledger.billing import BilledRow, billed_dir, read_billed, update_billed, write_billed
from ledger.storage import remote
from ledger.storage import table as delta
from tests.paths import REPO
from tests.support.kills import HAS_STRACE, at_syscall, kill_when, was_killed
from tests.support.s3 import S3, working_folder

pytestmark = pytest.mark.process

KEYS: list[tuple[str, str, str | None]] = [
    (source, month, workspace)
    for source in ("adm", "oai")
    for month in ("2026-10", "2026-11")
    for workspace in (None, "ws 'a'")
]
FETCHED = datetime(2026, 11, 20, 8, tzinfo=UTC)
SETUP_COMMITS = len(KEYS)
"""The parent writes generation 0 of each key (versions 1..8 after the create, version 0)."""

UPDATE = textwrap.dedent("""
    import sys
    from itertools import count
    from pathlib import Path
    from ledger.billing import update_billed
    from tests.billing.test_billed_kill import KEYS, fetched, lines
    data, done = Path(sys.argv[1]), int(sys.argv[2])
    for number in count(done):
        key, generation = number % len(KEYS), number // len(KEYS) + 1
        update_billed(data, *KEYS[key], lines(key, generation), fetched(generation))
""")


def fetched(generation: int) -> datetime:
    return FETCHED + timedelta(minutes=generation)


def lines(key: int, generation: int) -> list[BilledRow]:
    """The lines update `generation` of key number `key` writes: one to three, each amount unique."""
    return [
        BilledRow(
            category="completion",
            model=f"m{line}",
            metric="input",
            quantity=float(generation * 1000 + line),
            amount=key * 1e4 + generation + line / 10,
            currency="USD",
        )
        for line in range(1 + (key + generation) % 3)
    ]


Row = tuple[object, ...]
COLUMNS = ("category", "model", "metric", "quantity", "amount", "currency", "fetched_at", "problem")


def expected(updates: int) -> dict[tuple[str, str, str | None], Counter[Row]]:
    """Each key's lines once `updates` updates of the child's sequence committed (update u writes
    generation u // 8 + 1 of key u % 8; generation 0 is the parent's)."""
    out: dict[tuple[str, str, str | None], Counter[Row]] = {}
    for key, name in enumerate(KEYS):
        generation = (updates - key + len(KEYS) - 1) // len(KEYS)
        out[name] = Counter()
        for r in lines(key, generation):
            out[name][(r.category, r.model, r.metric, r.quantity, r.amount, r.currency, fetched(generation), None)] += 1
    return out


def stored(rows: list[dict[str, object]]) -> dict[tuple[str, str, str | None], Counter[Row]]:
    out: dict[tuple[str, str, str | None], Counter[Row]] = {}
    for row in rows:
        workspace = row["workspace"]
        key = (str(row["source"]), str(row["month"]), None if workspace is None else str(workspace))
        out.setdefault(key, Counter())[tuple(row[c] for c in COLUMNS)] += 1
    return out


def check(data: Path) -> int:
    """The table, read by this package and by deltalake alike, is exactly the state after as many of
    the child's updates as its log holds write commits (counted by deltalake); returns that number."""
    ours = stored(read_billed(data).to_pylist())
    table = DeltaTable(delta.table_uri(billed_dir(data)))
    assert stored(table.to_pyarrow_table().to_pylist()) == ours
    updates = sum(commit.get("operation") == "WRITE" for commit in table.history()) - SETUP_COMMITS
    want = expected(updates)
    wrong = {key: (rows, want[key]) for key, rows in ours.items() if rows != want[key]}
    assert not wrong, f"after {updates} committed updates, keys hold other lines than their last update's: {wrong}"
    assert ours.keys() == want.keys()
    return updates


def unlogged(folder: Path) -> Callable[[], set[str]]:
    """A poll of the data files (or their staged parts) on disk that no commit names yet."""
    named: set[str] = set()
    read: set[str] = set()

    def poll() -> set[str]:
        for commit in sorted((folder / "_delta_log").glob("*.json")):
            if commit.name not in read:
                for line in commit.read_bytes().splitlines():
                    action = orjson.loads(line)
                    if "add" in action:
                        named.add(action["add"]["path"])
                read.add(commit.name)
        on_disk = {p.relative_to(folder).as_posix() for p in folder.glob("month=*/*") if ".parquet" in p.name}
        return on_disk - named

    return poll


def moment(folder: Path, when: int | str) -> Callable[[], bool]:
    """When to kill: once the log holds the commit of version `when`, or ("written") while a data
    file is on disk that no commit names (beyond those an earlier kill left)."""
    if isinstance(when, int):
        return (folder / "_delta_log" / f"{when:020d}.json").exists
    orphans = unlogged(folder)()
    waiting = unlogged(folder)
    return lambda: bool(waiting() - orphans)


@pytest.mark.slow
def test_sigkill_during_billed_updates_leaves_every_key_whole(tmp_path: Path) -> None:
    data = tmp_path / "data"
    folder = prefill(data)
    rng = random.Random(11)
    # when to kill: once the log holds a version (50 vacuums, 99 writes a checkpoint: the kill
    # lands in that work), or ("written") while a data file of the next commit is on disk unnamed;
    # on a loaded machine such a kill may land a little later (the strace test below is exact)
    plan: list[int | str] = [rng.randint(9, 24), "written", 50, "written", 99, "written"]
    done, landed = 0, 0
    for when in plan:
        condition = moment(folder, when)
        command = [sys.executable, "-c", UPDATE, str(data), str(done)]
        with subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL) as proc:  # waits for the kill
            landed += kill_when(proc, condition)
        done = check(data)
    assert landed == len(plan), "the child ended by itself"
    assert done >= 99 - SETUP_COMMITS, "the kills never reached the log checkpoint"
    for number in range(done, done + len(KEYS)):  # the table takes updates again, each key once
        key, generation = number % len(KEYS), number // len(KEYS) + 1
        update_billed(data, *KEYS[key], lines(key, generation), fetched(generation))
    assert check(data) == done + len(KEYS)


def prefill(data: Path) -> Path:
    """Generation 0 of every key, written here; the table's folder."""
    for key, name in enumerate(KEYS):
        write_billed(data, *name, lines(key, 0), fetched(0))
    assert check(data) == 0
    return billed_dir(data)


@pytest.mark.slow
def test_sigkill_during_billed_updates_on_s3_leaves_every_key_whole(s3: S3, tmp_path: Path) -> None:
    """The same in the bucket (a commit is one conditional put): killed once a HEAD sees a commit
    object land, three times, at random versions (each update takes a few requests, so fewer rounds)."""
    data = working_folder(s3, tmp_path)
    uri = delta.table_uri(prefill(data))
    rng = random.Random(13)
    done, landed = 0, 0
    for _ in range(3):
        commit = f"{uri}/_delta_log/{done + SETUP_COMMITS + rng.randint(1, 6):020d}.json"
        with subprocess.Popen([sys.executable, "-c", UPDATE, str(data), str(done)], cwd=REPO) as proc:
            landed += kill_when(proc, lambda: remote.has(commit), every=0.01)  # noqa: B023 - used before the next round
        done = check(data)
    assert landed == 3, "the child ended by itself"
    for number in range(done, done + 2):
        key, generation = number % len(KEYS), number // len(KEYS) + 1
        update_billed(data, *KEYS[key], lines(key, generation), fetched(generation))
    assert check(data) == done + 2


def assert_resumes(data: Path, updates: int) -> None:
    """After a kill in its first commits the table holds exactly the child's first `updates`
    updates (none: it reads empty), read by this package and by deltalake, then takes the next."""
    for done in (updates, updates + 1):
        want = {KEYS[n]: lines_of(n) for n in range(done)}
        assert stored(read_billed(data).to_pylist()) == want
        if done:
            assert stored(DeltaTable(str(billed_dir(data))).to_pyarrow_table().to_pylist()) == want
        if done == updates:
            update_billed(data, *KEYS[done], lines(done, 1), fetched(1))


def lines_of(key: int) -> Counter[Row]:
    """Generation 1 of key number `key` as stored."""
    return expected(key + 1)[KEYS[key]]


def test_a_table_whose_first_commit_a_kill_cut_reads_empty_and_takes_updates(tmp_path: Path) -> None:
    """What a kill inside delta-rs's create leaves on local disk: the log folder, made first, holding
    only the first commit's staged file (it is linked to its name last)."""
    data = tmp_path / "data"
    log = billed_dir(data) / "_delta_log"
    log.mkdir(parents=True)
    (log / "00000000000000000000.json#1").write_bytes(b'{"commitInfo":{}}\n')
    assert_resumes(data, 0)


@pytest.mark.slow
@pytest.mark.skipif(not HAS_STRACE, reason="needs strace to kill at a chosen system call")
@pytest.mark.parametrize("version", [0, 1, 2])
def test_sigkill_at_the_first_commits_of_a_new_billed_table(tmp_path: Path, version: int) -> None:
    """A real SIGKILL exactly as the child links the commit file of `version` into the log (strace
    delivers it on entering that `linkat`, so the commit never lands): the table's create (0), its
    first update with the data file written (1), the second (2)."""
    data = tmp_path / "data"
    log = billed_dir(data) / "_delta_log"
    command = at_syscall(log / f"{version:020d}.json", "linkat", [sys.executable, "-c", UPDATE, str(data), "0"])
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert was_killed(done), done.stderr[-2000:]
    assert sorted(p.name for p in log.glob("*.json")) == [f"{v:020d}.json" for v in range(version)]
    assert_resumes(data, max(version - 1, 0))
