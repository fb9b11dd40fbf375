"""Turning validated records into ledger rows, and appending only rows not stored yet.

Why an id cache: the dedupe key is (source, id), and a replayed page (a crash after the write
but before the cursor moved, or a source that repeats itself) must not add rows twice. The
ids of the days a batch touches are read from disk once per process and kept for a few days,
which is what a backfill in time order needs. The cache describes one table version, the one
this Appender's last commit made: each append first asks the log for the latest version (under
the ledger lock), and if anything else committed meanwhile (another process, a compaction, a
re-pricing) the cache is dropped and those days are read again. A backfill's commits never
list the table's files: at 10k records a commit, that listing cost more than the commit.

Why a batch number too: each append is one Delta commit, and a caller that names its batch
(`batch=(source, n)`, n only ever increasing: the collector counts the pages whose cursor it
moved) has it recorded in that commit as an application transaction. A batch retried after a
SIGKILL (committed, cursor not yet moved) is then recognised by the log itself (`replayed`
counts them) and its txn is not recorded again; the id check still runs on it, so a source
whose last page grew meanwhile loses nothing: only rows not stored yet are appended. On S3 the
ledger lock is per host; a commit another host's commit of the same batch number beat is refused
by delta-rs (`table.Conflict`), and the append decides again from the log (a replay, or the rows
still new), so two hosts never both land one batch.

Example:
    >>> from tests.builders import build_ledger
    >>> _ = build_ledger(Path("seed"), n_records=500, days=2, seed=7, end=datetime(2026, 11, 2, 23, tzinfo=UTC))
    >>> from ledger.storage.store import read_ledger
    >>> rows = read_ledger(Path("seed"))
    >>> appender = Appender(Path("data"))
    >>> appender.append(rows), appender.append(rows)     # a replayed page adds nothing
    (504, 0)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ledger.pricing.prices import PriceBook

from . import table as delta
from .schema import SCHEMA
from .store import day_files, dedupe, ids_in, ledger_lock, requests_dir, split_by_day

CONFLICT_RETRIES = 5
"""Commits refused by delta-rs's conflict check (another host's commit of the same batch) before giving up."""


def price_rows(records: pa.Table, source: str, book: PriceBook, currency: str, now: datetime | None = None) -> pa.Table:
    """Complete a table of record columns into SCHEMA: source, price, currency, ingestion time."""
    n = records.num_rows
    now_us = int((now or datetime.now(UTC)).timestamp() * 1_000_000)
    filled = {
        "source": pa.array([source] * n, pa.string()),
        "request_count": pa.array(np.ones(n, dtype=np.int64)),
        "aggregated": pa.array(np.zeros(n, dtype=bool)),
        "currency": pa.array([currency] * n, pa.string()),
        "price_version": pa.array([book.version] * n, pa.string()),
        "ingested_at": pa.array(np.full(n, now_us, dtype=np.int64)).cast(SCHEMA.field("ingested_at").type),
    }
    priced_model, cost = book.cost_columns(records, currency)
    filled["priced_model"], filled["cost"] = priced_model, cost
    columns = [
        records[name] if name in records.column_names else filled.get(name, pa.nulls(n, SCHEMA.field(name).type))
        for name in SCHEMA.names
    ]
    return pa.Table.from_arrays(columns, schema=SCHEMA)


class Appender:
    """Appends rows to the ledger exactly once per (source, id), across threads and processes."""

    def __init__(self, data_dir: Path, days_kept: int = 4) -> None:
        self.data_dir = Path(data_dir)
        self.days_kept = days_kept
        self._ids: OrderedDict[tuple[str, date], set[str]] = OrderedDict()
        self._txns: dict[str, int | None] = {}
        self._version: int | None = None
        """The table version both caches describe: the one this Appender's last commit made."""
        self._lock = threading.Lock()  # poll jobs of several sources share one Appender
        self.replayed = 0
        """Batches recognised as already committed, since this Appender was made."""

    def append(self, rows: pa.Table, batch: tuple[str, int] | None = None) -> int:
        """Write the rows not already stored, in one commit; returns how many were new.

        Deciding which ids are new and writing them is one span under the ledger lock, so two
        writers (threads or processes) can never both decide that an id is new. `batch` =
        (app id, number): see the module docstring; a number at or below the one the log holds
        for that app id is a replay.
        """
        with self._lock, ledger_lock(self.data_dir):
            for attempt in range(CONFLICT_RETRIES):
                try:
                    return self._append_batch(rows, batch)
                except delta.Conflict:  # another host committed first (on S3): decide again from its commit
                    if attempt == CONFLICT_RETRIES - 1:
                        raise
            raise AssertionError("unreachable")

    def _append_batch(self, rows: pa.Table, batch: tuple[str, int] | None) -> int:
        folder = requests_dir(self.data_dir)
        self._follow(delta.version(folder))
        if batch is not None:
            done = self._txn(folder, batch[0])
            if done is not None and batch[1] <= done:
                self.replayed += 1
                batch = None
        return self._append(folder, rows, batch)

    def committed(self, app_id: str) -> int | None:
        """The last batch number the ledger holds for `app_id`."""
        return delta.txn_version(requests_dir(self.data_dir), app_id)

    def _follow(self, version: int | None) -> None:
        """Drop the caches if the table is no longer at the version they describe (another
        writer, a compaction or a re-pricing committed since): they are read again as needed."""
        if version != self._version:
            self._ids.clear()
            self._txns.clear()
            self._version = version

    def _txn(self, folder: Path, app_id: str) -> int | None:
        if app_id not in self._txns:
            self._txns[app_id] = delta.txn_version(folder, app_id)
        return self._txns[app_id]

    def _known(self, source: str, day: date) -> set[str]:
        """The ids stored for (source, day) at `self._version`, read from the day's files once."""
        key = (source, day)
        ids = self._ids.get(key)
        if ids is None:
            ids = self._ids[key] = ids_in(day_files(self.data_dir, day, fetch=False), source)  # fetches what it reads
        self._ids.move_to_end(key)
        while len(self._ids) > self.days_kept:
            self._ids.popitem(last=False)
        return ids

    def _append(self, folder: Path, rows: pa.Table, batch: tuple[str, int] | None) -> int:
        fresh: list[tuple[pa.Table, list[str], set[str]]] = []
        for day, part in split_by_day(dedupe(rows)).items():
            sources = pc.unique(part["source"]).to_pylist()
            for source in sources:
                mine = part if len(sources) == 1 else part.filter(pc.equal(part["source"], source))
                known = self._known(source, day)
                ids = mine["id"].to_pylist()
                if not known.isdisjoint(ids):
                    keep = [i not in known for i in ids]
                    mine, ids = mine.filter(pa.array(keep)), [i for i, k in zip(ids, keep, strict=True) if k]
                fresh.append((mine, ids, known))
        table = pa.concat_tables([new for new, _, _ in fresh]) if fresh else None
        if table is None or table.num_rows == 0:
            return 0
        expected = 1 if self._version is None else self._version + 1  # creating the table is version 0
        version = delta.append(folder, table, batch)
        if version != expected:  # another writer committed too: what it wrote is read when needed
            self._follow(version)
            return int(table.num_rows)
        self._version = version
        for _, ids, known in fresh:
            known.update(ids)
        if batch is not None:
            self._txns[batch[0]] = batch[1]
        return int(table.num_rows)
