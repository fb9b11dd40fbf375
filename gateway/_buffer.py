"""The durable buffer: records in SQLite (WAL), the row sequence doubling as the cursor.

Why SQLite with one writer: the usage endpoint must page in a stable order that never goes
back, and a restart must lose nothing committed. One writer thread inserting in batches gives
increasing `seq` values that become visible in order (a reader never sees seq 7 before seq 6
commits); AUTOINCREMENT keeps them increasing even after retention deletes the newest rows.
Readers use their own connection: WAL lets them read while the writer writes.

A record is *committed* when the writer's transaction holding it has committed; in WAL mode
with synchronous=NORMAL that survives the process being killed (SIGKILL), and with FULL it
also survives power loss.

Why an `inflight` table: a request's intent row (already shaped as its `interrupted` record)
is committed before anything goes upstream; the transaction that appends the finished record
deletes it. So after a SIGKILL every forwarded request has exactly one of the two, and
`recover` turns the leftovers into records at the next start. One process per file (a lock).

Example:
    >>> buffer = Buffer(Path("gateway.sqlite3"))
    >>> buffer.write([b'{"id": "r1"}'], now=1_764_000_000.0)
    >>> buffer.page(after=0, limit=10)
    Page(bodies=[b'{"id": "r1"}'], last_seq=1, has_more=False)
    >>> buffer.close()
"""

from __future__ import annotations

import fcntl
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Generic, Self, TypeVar

from .errors import ConfigError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS records_ts ON records (ts);
CREATE TABLE IF NOT EXISTS inflight (
    key INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    body BLOB NOT NULL
);
"""
PURGE_CHUNK = 10_000
T = TypeVar("T")
U = TypeVar("U")


@dataclass(kw_only=True)
class Batch(Generic[T]):
    """One writer transaction: new intents, their updates, and finished records (with their intent keys).

    Why generic: the recorder gathers records as dicts (`Batch[Record]`) and hands the buffer
    their JSON (`batch.map(orjson.dumps)`, a `Batch[bytes]`), one shape for both sides.
    """

    intents: list[tuple[int, float, T]] = field(default_factory=list)
    updates: dict[int, T] = field(default_factory=dict)
    records: list[T] = field(default_factory=list)
    finished_keys: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.intents) + len(self.updates) + len(self.records)

    def map(self, convert: Callable[[T], U]) -> Batch[U]:
        """The same batch with every intent, update and record converted."""
        return Batch(
            intents=[(key, ts, convert(item)) for key, ts, item in self.intents],
            updates={key: convert(item) for key, item in self.updates.items()},
            records=[convert(item) for item in self.records],
            finished_keys=self.finished_keys,
        )


@dataclass(frozen=True)
class Page:
    bodies: list[bytes]
    last_seq: int | None
    has_more: bool


class Buffer:
    """Owns the database file. `write` and `purge` from one thread; `page` and `count` from any."""

    def __init__(self, path: Path, synchronous: str = "NORMAL") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.lock = _lock(path)
        self.writer = self._connect(synchronous)
        self.writer.executescript(_SCHEMA)
        self.writer.execute("PRAGMA wal_autocheckpoint=0")
        if synchronous == "NORMAL":  # commits run on the event loop (see _recorder): never wait 30 s for a lock there
            self.writer.execute("PRAGMA busy_timeout=2000")
        self.local = threading.local()
        self.synchronous = synchronous

    def _connect(self, synchronous: str) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = self._connect(self.synchronous)
        return conn

    def write(self, bodies: list[bytes], now: float) -> None:
        """Commit records in one transaction: all of them are durable, or none."""
        self.commit(Batch[bytes](records=bodies), now)

    def commit(self, batch: Batch[bytes], now: float) -> None:
        """Apply a batch in one transaction; a finished record and the deletion of its intent go together."""
        with self.writer:
            self.writer.execute("BEGIN IMMEDIATE")
            if batch.intents:
                self.writer.executemany(
                    "INSERT OR REPLACE INTO inflight (key, ts, body) VALUES (?, ?, ?)", batch.intents
                )
            if batch.updates:
                self.writer.executemany(
                    "UPDATE inflight SET body = ? WHERE key = ?", ((body, key) for key, body in batch.updates.items())
                )
            if batch.records:
                self.writer.executemany(
                    "INSERT INTO records (ts, body) VALUES (?, ?)", ((now, b) for b in batch.records)
                )
            if batch.finished_keys:
                self.writer.executemany("DELETE FROM inflight WHERE key = ?", ((k,) for k in batch.finished_keys))

    def recover(self, now: float) -> int:
        """Turn every intent left by a killed process into its (interrupted) record; returns how many."""
        with self.writer:
            self.writer.execute("BEGIN IMMEDIATE")
            moved = self.writer.execute(
                "INSERT INTO records (ts, body) SELECT ?, body FROM inflight ORDER BY key", (now,)
            ).rowcount
            self.writer.execute("DELETE FROM inflight")
            return int(moved)

    def purge(self, before: float, chunk: int = PURGE_CHUNK) -> int:
        """Delete up to `chunk` records older than `before` (epoch seconds); returns how many.

        Why in chunks: requests wait for the writer's commits, so one long delete would stall them.
        """
        with self.writer:
            self.writer.execute("BEGIN IMMEDIATE")
            return self.writer.execute(
                "DELETE FROM records WHERE seq IN (SELECT seq FROM records WHERE ts < ? ORDER BY seq LIMIT ?)",
                (before, chunk),
            ).rowcount

    def page(self, after: int, limit: int) -> Page:
        """Up to `limit` records with seq > after, in seq order."""
        rows = (
            self._reader()
            .execute("SELECT seq, body FROM records WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit + 1))
            .fetchall()
        )
        has_more = len(rows) > limit
        rows = rows[:limit]
        return Page([bytes(body) for _, body in rows], rows[-1][0] if rows else None, has_more)

    def checkpoint(self) -> None:
        """Copy the WAL into the database from this thread's own connection, never blocking the writer.

        Why not SQLite's automatic checkpoint: it runs inside a commit, and its fsync would then
        stall every request waiting for that commit.
        """
        self._reader().execute("PRAGMA wal_checkpoint(PASSIVE)")

    def count(self) -> int:
        return int(self._reader().execute("SELECT count(*) FROM records").fetchone()[0])

    def close(self) -> None:
        self.writer.close()
        self.lock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _lock(path: Path) -> IO[bytes]:
    """An exclusive lock held while the process lives (released by the kernel, even on SIGKILL)."""
    handle = open(path.with_name(path.name + ".lock"), "ab")  # noqa: SIM115 - held open until close()
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise ConfigError(f"db_path: {path} is in use by another gateway; give each gateway its own db_path") from None
    return handle
