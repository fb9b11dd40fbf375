"""The ledger's mark (ledger/storage/mark.py): new after every change a dashboard figure reads (a commit, a
rollup build, the status, the alert state, the budgets file, FX rates, billing files), equal while nothing
changed, exact when two commits share a clock tick; probed at most once a second per data_dir."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from alerts import StateStore
from ledger.billing import billed_dir, write_reading
from ledger.pricing import fx
from ledger.queries._rollup_build import update_rollups
from ledger.queries._rollups import rollup_table
from ledger.queries._status import STATUS
from ledger.storage import MarkCache, atomic_write_bytes, ledger_mark, remote, write_rows
from ledger.storage.mark import FILES, FOLDERS, TABLES
from ledger.storage.store import requests_dir
from pages._keys import BUDGETS_FILE
from tests.builders import priced_batch

DAY = date(2026, 11, 1)


def test_a_commit_and_a_rollup_build_move_the_mark_and_nothing_else_does(data_dir: Path) -> None:
    write_rows(data_dir, priced_batch(0, 20))
    first = ledger_mark(data_dir)
    assert ledger_mark(data_dir) == first
    write_rows(data_dir, priced_batch(20, 20))
    second = ledger_mark(data_dir)
    assert second != first
    assert ledger_mark(data_dir) == second
    assert update_rollups(data_dir, [DAY])
    third = ledger_mark(data_dir)
    assert third != second
    assert ledger_mark(data_dir) == third


def test_a_poll_that_stores_no_row_leaves_the_mark(tmp_path: Path) -> None:
    """The collector writes its status at every poll, rows or not: were it watched, every cached figure would be
    computed again after each poll of an idle source. Only the freshness line reads it (10 s time to live)."""
    data_dir = tmp_path / "data"
    write_rows(data_dir, priced_batch(0, 20))
    before = ledger_mark(data_dir)
    atomic_write_bytes(data_dir / STATUS, b'{"sources": {"sim": {"last_success": "2026-11-02T12:00:00Z"}}}')
    assert ledger_mark(data_dir) == before


def test_the_alert_state_budgets_file_rates_and_readings_move_the_mark(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    write_rows(data_dir, priced_batch(0, 20))
    seen = [ledger_mark(data_dir)]
    store = StateStore(data_dir)
    store.save(store.read())
    seen.append(ledger_mark(data_dir))
    (data_dir / "budgets.toml").write_text('[key_labels]\n"key-1" = "search prod"\n')
    seen.append(ledger_mark(data_dir))
    atomic_write_bytes(data_dir / fx.FETCHED, b"date,currency,per_eur\n2026-11-02,USD,1.1\n")
    seen.append(ledger_mark(data_dir))
    write_reading(data_dir, "mistral_admin", "spend-limit", {"used": 1.0, "limit": 10.0})
    seen.append(ledger_mark(data_dir))
    assert len(set(seen)) == len(seen)
    assert ledger_mark(data_dir) == seen[-1]


def test_two_commits_in_one_clock_tick_still_move_the_mark(tmp_path: Path) -> None:
    """Every time the file system shows is pinned to one instant: the version still tells the commits apart."""
    data_dir = tmp_path / "data"
    log = requests_dir(data_dir) / "_delta_log"

    def one_tick() -> None:
        for path in (log, *log.iterdir(), requests_dir(data_dir), data_dir):
            os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))

    write_rows(data_dir, priced_batch(0, 20))
    one_tick()
    before = ledger_mark(data_dir)
    write_rows(data_dir, priced_batch(20, 20))
    one_tick()
    assert ledger_mark(data_dir) != before


def test_a_table_made_again_in_its_folder_moves_the_mark(tmp_path: Path) -> None:
    import shutil

    data_dir = tmp_path / "data"
    write_rows(data_dir, priced_batch(0, 20))
    before = ledger_mark(data_dir)
    shutil.rmtree(requests_dir(data_dir))
    assert ledger_mark(data_dir) != before
    write_rows(data_dir, priced_batch(100, 20))  # version 0 again, another file
    assert ledger_mark(data_dir) != before


def test_on_s3_the_probe_copies_the_rates_and_readings_another_host_wrote(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = remote.beside(data_dir, "")
    if url is None:
        pytest.skip("an s3 data_dir only")
    monkeypatch.setattr(remote, "MIRROR_SECONDS", 0.0)
    before = ledger_mark(data_dir)
    remote.put(f"{url}fx/rates.csv", b"date,currency,per_eur\n2026-11-02,USD,1.1\n")
    after = ledger_mark(data_dir)
    assert after != before
    assert (data_dir / fx.FETCHED).exists()
    remote.put(f"{url}billing/mistral_admin/spend-limit.json", b'{"used": 1.0}')
    assert ledger_mark(data_dir) != after


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_cache_probes_a_data_dir_at_most_once_a_second(tmp_path: Path) -> None:
    probed: list[Path] = []

    def probe(data_dir: Path) -> tuple[tuple[str, object], ...]:
        probed.append(data_dir)
        return (("n", len(probed)),)

    clock = Clock()
    marks = MarkCache(probe, clock)
    first = marks(tmp_path / "a")
    clock.now += 0.9
    assert marks(tmp_path / "a") == first
    assert marks(tmp_path / "b") != first  # each data_dir its own probe
    clock.now += 0.1
    assert marks(tmp_path / "a") != first
    assert len(probed) == 3


def test_the_watched_names_are_where_their_readers_read(tmp_path: Path) -> None:
    """A reader's path moved without the mark following it would leave figures stale for a whole time to live."""
    root = tmp_path / "data"
    tables = [requests_dir(root), rollup_table(root, "totals"), rollup_table(root, "latency"), billed_dir(root)]
    assert [p.relative_to(root).as_posix() for p in tables] == list(TABLES)
    assert {StateStore(root).path.relative_to(root).as_posix(), BUDGETS_FILE} == set(FILES)
    assert fx.FETCHED.parent.as_posix() in FOLDERS
    assert "billing" in FOLDERS


def test_a_failed_probe_keeps_the_last_mark_and_is_tried_again(tmp_path: Path) -> None:
    answers: list[object] = [(("v", 1),), OSError("S3 unreachable"), (("v", 2),)]

    def probe(data_dir: Path) -> tuple[tuple[str, object], ...]:
        found = answers.pop(0)
        if isinstance(found, Exception):
            raise found
        return found  # type: ignore[return-value]

    clock = Clock()
    marks = MarkCache(probe, clock)
    assert marks(tmp_path) == (("v", 1),)
    clock.now += 1.0
    assert marks(tmp_path) == (("v", 1),)
    clock.now += 1.0
    assert marks(tmp_path) == (("v", 2),)
    with pytest.raises(OSError):
        MarkCache(lambda _: (_ for _ in ()).throw(OSError("down")), clock)(tmp_path)
