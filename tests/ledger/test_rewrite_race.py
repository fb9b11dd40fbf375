"""Every read-modify-write of a day (reprice, compaction, upsert) keeps rows written meanwhile.

The bug: `reprice` read a day outside the ledger lock and then replaced it, so rows the
running collector appended in between were deleted. These tests append from another thread
or process while a rewrite is in progress and count every row afterwards, on local disk and on
the loopback S3 server (`data_dir`).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from collector._records import parse_records
from collector._reprice import reprice
from ledger import Appender, Price, PriceBook, compact_day, price_rows, read_ledger
from ledger.storage import table as delta
from ledger.storage.upsert import upsert_rows
from tests.paths import REPO

pytestmark = pytest.mark.slow

MODEL = "mistral-small-2603"
DAY = "2026-11-01"


def batch(start: int, n: int, day: str = DAY, source: str = "s", book: PriceBook | None = None) -> pa.Table:
    records = [
        {
            "id": f"r{i}",
            "timestamp": f"{day}T{i % 24:02d}:00:00Z",
            "model": MODEL,
            "status_code": 200,
            "prompt_tokens": 10,
            "completion_tokens": 1,
        }
        for i in range(start, start + n)
    ]
    table, _ = parse_records(records)
    return price_rows(table, source, book or PriceBook.load(), "USD")


def other_book() -> PriceBook:
    listed = PriceBook.load().price_at(MODEL, datetime(2026, 11, 1, tzinfo=UTC), "USD")
    assert listed is not None
    return PriceBook.load(
        [
            Price(
                model=MODEL,
                effective_from=listed.effective_from,
                currency="USD",
                input_per_1m=10.0,
                output_per_1m=20.0,
                cached_input_per_1m=1.0,
            )
        ]
    )


class WriterDuringRewrite:
    """Wraps a function called while a day is being rewritten: it appends rows from another thread.

    The writer waits for the ledger lock like the collector does; with the lock held by the
    rewrite it finishes only after the rewrite, and its rows must then still be there.
    """

    def __init__(self, data_dir: Path, rows: pa.Table) -> None:
        self.thread = threading.Thread(target=Appender(data_dir).append, args=(rows,))
        self.started = False

    def __call__(self) -> None:
        if not self.started:
            self.started = True
            self.thread.start()
            self.thread.join(timeout=2)


def test_rows_appended_while_reprice_rewrites_a_day_are_kept(data_dir, monkeypatch):
    Appender(data_dir).append(batch(0, 10))
    book = other_book()
    hook = WriterDuringRewrite(data_dir, batch(100, 10))
    real = PriceBook.cost_columns

    def cost_columns(self, table, currency):
        hook()
        return real(self, table, currency)

    monkeypatch.setattr(PriceBook, "cost_columns", cost_columns)
    reprice(data_dir, book, "USD")
    hook.thread.join()
    ids = sorted(read_ledger(data_dir)["id"].to_pylist())
    assert ids == sorted([f"r{i}" for i in range(10)] + [f"r{i}" for i in range(100, 110)])


def hook_file_writes(monkeypatch, hook: WriterDuringRewrite) -> None:
    """Run `hook` as the rewrite's Delta commit (an overwrite, or optimize) is about to be written."""
    for name in ("write_deltalake", "compact"):
        real = getattr(delta, name)

        def wrapped(*args, real=real, **kwargs):
            hook()
            return real(*args, **kwargs)

        monkeypatch.setattr(delta, name, wrapped)


def test_rows_appended_while_upsert_rewrites_a_day_are_kept(data_dir, monkeypatch):
    Appender(data_dir).append(batch(0, 10))
    hook = WriterDuringRewrite(data_dir, batch(100, 10))
    hook_file_writes(monkeypatch, hook)
    upsert_rows(data_dir, batch(500, 3, source="agg"))
    hook.thread.join()
    assert read_ledger(data_dir).num_rows == 10 + 10 + 3


def test_rows_appended_while_compaction_rewrites_a_day_are_kept(data_dir, monkeypatch):
    for start in (0, 10, 20):
        Appender(data_dir).append(batch(start, 10))
    hook = WriterDuringRewrite(data_dir, batch(100, 10))
    hook_file_writes(monkeypatch, hook)
    assert compact_day(data_dir, date(2026, 11, 1))
    hook.thread.join()
    assert read_ledger(data_dir).num_rows == 40


WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from tests.ledger.test_rewrite_race import batch
    from ledger import Appender
    data, start, count = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    appender = Appender(data)
    for k in range(count):
        appender.append(batch(start + k * 5, 5, day="2026-11-0%d" % (1 + k % 3)))
    print("done", flush=True)
""")


def test_a_collector_process_appending_during_repeated_reprices_loses_nothing(data_dir):
    for d in (1, 2, 3):
        Appender(data_dir).append(batch(d * 10_000, 50, day=f"2026-11-0{d}"))
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(data_dir), "1000", "60"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    books = [other_book(), PriceBook.load()]
    k = 0
    while writer.poll() is None:
        reprice(data_dir, books[k % 2], "USD")
        k += 1
    with writer:  # closes its stdout pipe
        assert writer.returncode == 0 and "done" in writer.stdout.read()
    ids = read_ledger(data_dir)["id"].to_pylist()
    assert len(ids) == len(set(ids)) == 150 + 60 * 5
    assert k >= 1
