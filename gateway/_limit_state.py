"""The limits' shared state: one SQLite file (WAL) that every gateway replica on the host opens.

Why SQLite with `BEGIN IMMEDIATE`: a rate limit is a read-then-increment, and two processes
must never both take the last slot; SQLite's write lock serialises them across processes on one
host, and a WAL file lets readers go on meanwhile. A lock held longer than `timeout` (another
process stuck, a disk gone) raises `sqlite3.Error`, which the limiter turns into fail-open or
fail-closed. Spend is kept per (limit, period, minute), so the ledger's figure can replace the
minutes it already covers (`set_ledger` notes the own spend before its `as_of`), and as a running
total per (limit, period), so reading every limit's spend is two queries whatever the history.
A request's reservation is one row per (request, limit) in `held`, read in the same transaction
as the spend it is checked against; it lapses when its replica stops renewing it.

Example:
    >>> state = LimitState(Path("data/gateway/limits.sqlite3"), timeout=0.1)
    >>> state.take_requests([("search", 600, None, True)], minute=29_000_000)   # {} = counted, none full
    {}
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ._limit_store import RESERVATION_SECONDS, Hold, Rate, Settled, SpendRow, TokenRow

_RATE = "SELECT requests, tokens FROM rate WHERE lim = ? AND minute = ?"
_ADD_TOKENS = "INSERT INTO rate VALUES (?, ?, 0, ?) ON CONFLICT DO UPDATE SET tokens = tokens + excluded.tokens"
_ADD_SPEND = "INSERT INTO spend VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET amount = amount + excluded.amount"
_ADD_TOTAL = "INSERT INTO totals VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET amount = amount + excluded.amount"
_COVERED = "UPDATE ledger SET own_before = own_before + ? WHERE lim = ? AND period = ? AND as_of > ?"
_BEFORE = "SELECT coalesce(sum(amount), 0) FROM spend WHERE lim = ? AND period = ? AND minute < ?"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS rate (lim TEXT, minute INTEGER, requests INTEGER, tokens INTEGER,
                                 PRIMARY KEY (lim, minute));
CREATE TABLE IF NOT EXISTS spend (lim TEXT, period TEXT, minute INTEGER, amount REAL,
                                  PRIMARY KEY (lim, period, minute));
CREATE TABLE IF NOT EXISTS totals (lim TEXT, period TEXT, amount REAL, PRIMARY KEY (lim, period));
CREATE TABLE IF NOT EXISTS ledger (lim TEXT, period TEXT, amount REAL, as_of INTEGER, own_before REAL,
                                   PRIMARY KEY (lim, period));
CREATE TABLE IF NOT EXISTS held (token TEXT, lim TEXT, period TEXT, amount REAL, expires REAL,
                                 PRIMARY KEY (token, lim));
CREATE INDEX IF NOT EXISTS held_period ON held (lim, period, expires);
CREATE TABLE IF NOT EXISTS lease (role TEXT PRIMARY KEY, holder TEXT, until REAL);
"""
_SPENT_HELD = """SELECT coalesce((SELECT amount FROM totals WHERE lim = ?1 AND period = ?2), 0)
 + coalesce((SELECT amount - own_before FROM ledger WHERE lim = ?1 AND period = ?2), 0),
 (SELECT coalesce(sum(amount), 0) FROM held WHERE lim = ?1 AND period = ?2 AND expires > ?3)"""
_CLAIM = """INSERT INTO lease VALUES (?1, ?2, ?3) ON CONFLICT (role) DO UPDATE SET holder = ?2, until = ?3
 WHERE lease.holder = ?2 OR lease.until < ?4"""


class LimitState:
    def __init__(self, path: Path, timeout: float, hot: bool = False) -> None:
        """`hot`: the request path's connection, which never checkpoints (the worker's does, `checkpoint`)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.timeout = timeout
        self.db = self._connect(hot)

    def _connect(self, hot: bool) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        if hot:
            db.execute("PRAGMA wal_autocheckpoint=0")
        db.executescript(_SCHEMA)
        return db

    def checkpoint(self) -> None:
        """Copy the WAL back into the database without waiting for readers (the hot path skips it)."""
        self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self) -> None:
        self.db.close()

    def take_requests(self, limits: Iterable[Rate], minute: int) -> dict[str, str]:
        """Count one request against each (name, requests_per_minute, tokens_per_minute, hard).

        Returns {name: "requests" or "tokens"} for the limits already full this minute; when one
        of them is hard nothing is counted (the request is refused), else every limit counts it.
        """
        return self.admit("", [], list(limits), minute, 0.0)[1]

    def reserve(self, token: str, holds: list[Hold], now: float) -> dict[str, float]:
        return self.admit(token, holds, [], 0, now)[0]

    def admit(
        self, token: str, holds: list[Hold], rates: list[Rate], minute: int, now: float
    ) -> tuple[dict[str, float], dict[str, str]]:
        """See LimitStore.admit: one `BEGIN IMMEDIATE` transaction reads, holds and counts."""
        reached: dict[str, float] = {}
        full: dict[str, str] = {}
        with self._transaction() as db:
            refused = False
            for hold in holds:
                spent, held = db.execute(_SPENT_HELD, (hold.name, hold.period, now)).fetchone()
                if spent + held >= hold.amount:
                    reached[hold.name] = float(spent)
                    refused = refused or hold.hard
            if refused:
                return reached, full
            for name, rpm, tpm, hard in rates:
                row = db.execute(_RATE, (name, minute)).fetchone()
                requests, tokens = row or (0, 0)
                if rpm is not None and requests >= rpm:
                    full[name] = "requests"
                elif tpm is not None and tokens >= tpm:
                    full[name] = "tokens"
                refused = refused or (hard and name in full)
            if not refused:
                db.executemany(
                    "INSERT OR REPLACE INTO held VALUES (?, ?, ?, ?, ?)",
                    [(token, h.name, h.period, h.cost, now + RESERVATION_SECONDS) for h in holds],
                )
                db.executemany(
                    "INSERT INTO rate VALUES (?, ?, 1, 0) ON CONFLICT DO UPDATE SET requests = requests + 1",
                    [(name, minute) for name, *_ in rates],
                )
        return reached, full

    def renew(self, held: list[Settled], now: float) -> None:
        with self._transaction() as db:
            db.executemany(
                "UPDATE held SET expires = ? WHERE token = ? AND lim = ?",
                [(now + RESERVATION_SECONDS, token, name) for token, name, _ in held],
            )

    def release(self, held: list[Settled]) -> None:
        with self._transaction() as db:
            db.executemany("DELETE FROM held WHERE token = ? AND lim = ?", [(t, n) for t, n, _ in held])

    def reserved(self, periods: Iterable[tuple[str, str]], now: float) -> dict[tuple[str, str], float]:
        wanted = set(periods)
        out = dict.fromkeys(wanted, 0.0)
        query = "SELECT lim, period, sum(amount) FROM held WHERE expires > ? GROUP BY lim, period"
        for lim, period, amount in self.db.execute(query, (now,)):
            if (lim, period) in out:
                out[(lim, period)] = float(amount)
        return out

    def claim(self, role: str, holder: str, seconds: float, now: float) -> bool:
        with self._transaction() as db:
            db.execute(_CLAIM, (role, holder, now + seconds, now))
            row = db.execute("SELECT holder FROM lease WHERE role = ?", (role,)).fetchone()
        return row is not None and row[0] == holder

    def epoch(self) -> str:
        """A file is never lost and found empty while replicas run: one life."""
        return "sqlite"

    def add_usage(
        self, tokens: list[TokenRow], spend: list[SpendRow], settled: list[Settled] | None = None, epoch: str = ""
    ) -> None:
        """Add (limit, minute, tokens) and (limit, period, minute, cost), and drop the reservations they
        settle, in one transaction (so a request's cost is never counted both held and spent, nor neither)."""
        with self._transaction() as db:
            db.executemany("DELETE FROM held WHERE token = ? AND lim = ?", [(t, n) for t, n, _ in settled or ()])
            db.executemany(_ADD_TOKENS, tokens)
            db.executemany(_ADD_SPEND, spend)
            db.executemany(_ADD_TOTAL, [(name, period, cost) for name, period, _, cost in spend])
            db.executemany(_COVERED, [(cost, name, period, minute) for name, period, minute, cost in spend])

    def spent(self, periods: Iterable[tuple[str, str]]) -> dict[tuple[str, str], float]:
        """Each (limit, period)'s spend: the ledger's figure plus the gateway's own since it (two queries)."""
        wanted = set(periods)
        ids = sorted({period for _, period in wanted})
        marks = ",".join("?" * len(ids))
        own = {
            (lim, period): amount
            for lim, period, amount in self.db.execute(
                f"SELECT lim, period, amount FROM totals WHERE period IN ({marks})", ids
            )
        }
        out = {key: float(own.get(key, 0.0)) for key in wanted}
        query = f"SELECT lim, period, amount, own_before FROM ledger WHERE period IN ({marks})"
        for lim, period, amount, before in self.db.execute(query, ids):
            if (lim, period) in out:
                out[(lim, period)] += float(amount) - float(before)
        return out

    def set_ledger(self, name: str, period: str, amount: float, as_of: int) -> None:
        """The ledger's spend for the period before minute `as_of`; it replaces the own spend before `as_of`."""
        with self._transaction() as db:
            before = db.execute(_BEFORE, (name, period, as_of)).fetchone()[0]
            db.execute("INSERT OR REPLACE INTO ledger VALUES (?, ?, ?, ?, ?)", (name, period, amount, as_of, before))

    def purge(self, before_minute: int, now: float = 0.0) -> None:
        """Drop rate rows older than `before_minute`, spend rows older than 40 days and lapsed reservations."""
        with self._transaction() as db:
            db.execute("DELETE FROM held WHERE expires <= ?", (now,))
            db.execute("DELETE FROM rate WHERE minute < ?", (before_minute,))
            db.execute("DELETE FROM spend WHERE minute < ?", (before_minute - 40 * 1440,))

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One `BEGIN IMMEDIATE` transaction: committed, or rolled back (if still open) on any error."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
