"""An old-layout ledger (part-<seq> / compact-<seq> files, the seq visibility rule) becomes the
Delta table: every visible row once, superseded files not resurrected, old files removed only
after the totals match, and a SIGKILL at any instant of `python -m collector migrate` recovered
by a rerun."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from collector.__main__ import main
from ledger import read_ledger
from ledger.queries import update_rollups
from ledger.storage.migrate import OLD_ROLLUPS, migrate, old_days
from ledger.storage.store import write_rows
from tests.builders import build_ledger
from tests.paths import REPO
from tests.support.waits import poll_until

FIRST = date(2026, 11, 1)


def old_ledger(data_dir: Path, days: int, n: int = 400) -> dict[str, float]:
    """Write an old-layout ledger: per day two parts, then a compact holding both, then a late part.
    Returns id -> cost of the rows the old rule shows (superseded parts deliberately left behind)."""
    seed = data_dir.parent / f"seed-{data_dir.name}"
    end = datetime.combine(FIRST + timedelta(days=days - 1), datetime.min.time(), UTC).replace(hour=23)
    build_ledger(seed, n_records=n, days=days, seed=3, end=end)
    rows = read_ledger(seed)
    shown: dict[str, float] = {}
    for k in range(days):
        day = FIRST + timedelta(days=k)
        mine = rows.filter(pa.compute.equal(pa.compute.cast(rows["timestamp"], pa.date32()), pa.scalar(day)))
        half = mine.num_rows // 2
        folder = data_dir / "requests" / f"date={day.isoformat()}"
        folder.mkdir(parents=True)
        pq.write_table(mine.slice(0, half), folder / f"part-{100:020d}.parquet")
        pq.write_table(mine.slice(half, half), folder / f"part-{200:020d}.parquet")
        pq.write_table(mine.slice(0, 2 * half), folder / f"compact-{201:020d}.parquet")
        pq.write_table(mine.slice(2 * half), folder / f"part-{300:020d}.parquet")  # a late row, after compaction
        shown.update(zip(mine["id"].to_pylist(), mine["cost"].to_pylist(), strict=True))
    return shown


def check(data_dir: Path, expected: dict[str, float]) -> None:
    table = DeltaTable(str(data_dir / "requests")).to_pyarrow_table(columns=["id", "cost"])
    counts = Counter(table["id"].to_pylist())
    assert max(counts.values()) == 1 and set(counts) == set(expected)
    assert sum(c for c in table["cost"].to_pylist() if c) == pytest.approx(sum(c for c in expected.values() if c))


@pytest.mark.slow
def test_an_old_ledger_migrates_once_and_its_old_files_go(tmp_path):
    data = tmp_path / "data"
    expected = old_ledger(data, days=3)
    result = migrate(data)
    assert (result.days, result.rows, result.mismatch) == (3, len(expected), None)
    assert result.removed == 12 and old_days(data) == {}
    check(data, expected)
    assert migrate(data).days == 0  # idempotent
    check(data, expected)


@pytest.mark.slow
def test_totals_that_differ_keep_the_old_files_and_say_so(tmp_path, capsys):
    data = tmp_path / "data"
    old_ledger(data, days=2)
    stray = read_ledger(tmp_path / "seed-data").slice(0, 1)  # a row of the first day already in the table
    write_rows(data, stray.set_column(1, "id", pa.array(["stray"])))
    config = tmp_path / "c.toml"
    config.write_text(f'data_dir = "{data}"\n')
    assert main(["--config", str(config), "migrate"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"ledger migration: {FIRST}: the old files hold ")
    assert "the old files are kept" in err[0]
    assert len(old_days(data)) == 2  # nothing deleted


def test_the_old_rollups_folder_goes_with_the_migration_and_the_rollups_job_leaves_it(tmp_path, capsys):
    """`rollups/hourly` (the rollups before they were Delta tables) is deleted by `python -m collector
    migrate`, which every collector command runs first; the rollups job, every 5 minutes, never
    looks at it."""
    data = tmp_path / "data"
    build_ledger(data, n_records=300, days=1, seed=7, end=datetime(2026, 11, 24, 23, tzinfo=UTC))
    old = data / OLD_ROLLUPS / "date=2026-11-24" / "totals-0123abcd.parquet"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"PAR1")
    assert len(update_rollups(data)) == 2 and update_rollups(data) == []
    assert old.exists()  # the periodic job left it alone, twice
    config = tmp_path / "c.toml"
    config.write_text(f'data_dir = "{data}"\n')
    assert main(["--config", str(config), "migrate"]) == 0
    assert "ledger migration: 0 days" in capsys.readouterr().out
    assert not (data / OLD_ROLLUPS).exists() and (data / "rollups" / "totals" / "_delta_log").is_dir()
    assert migrate(data).days == 0  # again: nothing to do, nothing raised


def kill_at(proc: subprocess.Popen[bytes], log: Path, commits: int) -> None:
    """SIGKILL `proc` once the Delta log holds `commits` commits (or it ended, or a minute passed)."""
    poll_until(lambda: proc.poll() is not None or len(list(log.glob("*.json"))) >= commits, 60, every=0.002)
    os.kill(proc.pid, signal.SIGKILL)


@pytest.mark.process
@pytest.mark.slow
def test_a_migration_killed_at_any_instant_then_rerun_stores_every_row_once(tmp_path):
    data = tmp_path / "data"
    expected = old_ledger(data, days=12, n=1200)
    config = tmp_path / "c.toml"
    config.write_text(f'data_dir = "{data}"\n')
    command = [sys.executable, "-m", "collector", "--config", str(config), "migrate"]
    for commits in (2, 6, 10):  # kill while days are being committed, later and later
        proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        kill_at(proc, data / "requests" / "_delta_log", commits)
        proc.wait()
    final = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr[-2000:]
    assert old_days(data) == {}
    check(data, expected)
