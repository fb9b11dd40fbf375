"""A rollup build SIGKILLed mid-run never changes an answer: the registry's rollup files are
written by temp file + rename, so after any kill every figure read with rollups equals the raw
rows' figure, and a rerun finishes the days the kill left (real processes, kill -9)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from ledger.queries import Filters, spend_summary, update_rollups
from tests.builders import build_ledger
from tests.paths import REPO

pytestmark = pytest.mark.process

END = datetime(2026, 11, 25, tzinfo=UTC)
BUILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from ledger.queries import update_rollups
    print("ready", flush=True)
    print(len(update_rollups(Path(sys.argv[1]))), flush=True)
""")


def figures(data: Path, rollups: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int, int, float]:
    """Whole UTC days (so rollups may answer), read with rollups on or off."""
    monkeypatch.setenv("LEDGER_ROLLUPS", "1" if rollups else "0")
    summary = spend_summary(data, Filters.for_dates(date(2026, 10, 27), date(2026, 11, 24), "UTC"))
    return summary.requests, summary.errors, summary.tokens, round(summary.spend, 6)  # sums differ by order at 1e-9


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    build_ledger(tmp_path, n_records=150_000, days=28, seed=3, end=END)
    return tmp_path


@pytest.mark.slow
def test_sigkill_during_rollup_build_changes_no_figure_and_a_rerun_finishes(
    ledger: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = figures(ledger, rollups=False, monkeypatch=monkeypatch)
    killed = 0
    for round_number in range(5):
        shutil.rmtree(ledger / "rollups", ignore_errors=True)  # a whole build to interrupt, every round
        command = [sys.executable, "-c", BUILD, str(ledger)]
        with subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True) as proc:  # waits, closes the pipe
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            wanted = 1 + 7 * round_number  # kill after the first, the 8th, ... file: at a new point each round
            while proc.poll() is None and len(list((ledger / "rollups").rglob("*.parquet"))) < wanted:
                time.sleep(0.001)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                killed += 1
        assert figures(ledger, rollups=True, monkeypatch=monkeypatch) == raw
    assert killed >= 3, f"only {killed} of 5 kills landed mid-build; the test proved little"
    update_rollups(ledger)
    assert update_rollups(ledger) == []  # every day is now rolled up
    assert figures(ledger, rollups=True, monkeypatch=monkeypatch) == raw
