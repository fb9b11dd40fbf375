"""A re-price SIGKILLed mid-run loses and doubles nothing: the ledger reads the same rows after
every kill, and a final run prices them all (real processes, kill -9)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pyarrow.compute as pc
import pytest

from ledger import Appender, read_ledger
from tests.paths import REPO

from .test_rewrite_race import MODEL, batch, other_book

pytestmark = pytest.mark.process

DAYS = 24
PER_DAY = 3_000

REPRICE = textwrap.dedent("""
    import sys
    from pathlib import Path
    from collector._reprice import reprice
    from tests.ledger.test_rewrite_race import other_book
    book = other_book()
    print("ready", flush=True)
    print(reprice(Path(sys.argv[1]), book, "USD"), flush=True)
""")


def reprice_process(data: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", REPRICE, str(data)], cwd=REPO, stdout=subprocess.PIPE, text=True)


@pytest.fixture
def ledger(data_dir: Path) -> Path:
    """On local disk, then on the loopback S3 server."""
    appender = Appender(data_dir)
    for d in range(DAYS):
        appender.append(batch(d * PER_DAY, PER_DAY, day=f"2026-10-{d + 1:02d}"))
    return data_dir


@pytest.mark.slow
def test_sigkill_during_reprice_keeps_every_row_once_and_a_rerun_finishes(ledger: Path) -> None:
    before = Counter(read_ledger(ledger)["id"].to_pylist())
    assert len(before) == DAYS * PER_DAY
    rng = random.Random(7)
    for _ in range(5):
        with reprice_process(ledger) as proc:  # on leaving: waits, and closes its stdout pipe
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            try:
                proc.wait(timeout=rng.uniform(0.0, 0.4))
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
        assert Counter(read_ledger(ledger)["id"].to_pylist()) == before
    done = reprice_process(ledger)
    out, _ = done.communicate(timeout=300)
    assert done.returncode == 0, out
    table = read_ledger(ledger)
    assert Counter(table["id"].to_pylist()) == before
    book = other_book()
    assert set(table["price_version"].to_pylist()) == {book.version}
    # each row: 10 prompt tokens at 10/M and 1 completion token at 20/M, as other_book prices MODEL
    assert set(table["priced_model"].to_pylist()) == {MODEL}
    assert pc.all(pc.less(pc.abs(pc.subtract(table["cost"], 10 * 10 / 1e6 + 20 / 1e6)), 1e-12)).as_py()
