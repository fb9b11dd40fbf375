"""The durable buffer: records in SQLite (WAL), the row sequence doubling as the cursor.

Why SQLite with one writer: the usage endpoint must page in a stable order that never goes
back, and a restart must lose nothing committed. One writer thread inserting in batches gives
increasing `seq` values that become visible in order (a reader never sees seq 7 before seq 6
commits); AUTOINCREMENT keeps them increasing even after retention deletes the newest rows.
Readers use their own connection: WAL lets them read while the writer writes.

A record is *committed* when the writer's transaction holding it has committed; in WAL mode
with synchronous=NORMAL that survives the process being killed (SIGKILL), and with FULL it
also survives power loss.

Example:
    >>> buffer = Buffer(Path("/tmp/b.sqlite3"))
    >>> buffer.write([b'{"id": "r1"}'], now=time.time())
    >>> buffer.page(after=0, limit=10)
    Page(bodies=[b'{"id": "r1"}'], last_seq=1, has_more=False)
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS records_ts ON records (ts);
"""


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
        self.writer = self._connect(synchronous)
        self.writer.executescript(_SCHEMA)
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
        """Commit a batch in one transaction: all of it is durable, or none of it."""
        with self.writer:
            self.writer.execute("BEGIN IMMEDIATE")
            self.writer.executemany("INSERT INTO records (ts, body) VALUES (?, ?)", ((now, b) for b in bodies))

    def purge(self, before: float) -> int:
        """Delete the records older than `before` (epoch seconds); returns how many."""
        with self.writer:
            self.writer.execute("BEGIN IMMEDIATE")
            return self.writer.execute("DELETE FROM records WHERE ts < ?", (before,)).rowcount

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

    def count(self) -> int:
        return int(self._reader().execute("SELECT count(*) FROM records").fetchone()[0])

    def close(self) -> None:
        self.writer.close()
