"""Collector failover: a Redis lease makes one collector of several the active one (issue 22).

Why a lease and a fencing token: the job locks of `_runner` are per host (flock), so two hosts
sharing a data_dir would both poll. With `[collector] lease_url`, every collector loops on
`SET lease <holder> NX PX <lease_seconds>`; the one that gets it also takes the next fencing
token (INCR, so tokens only grow) and runs the jobs, renewing the lease every third of
`lease_seconds` (compare-and-renew: only while it is still the holder). The others stand by and
take over once it expires: a killed leader is replaced within `lease_seconds` plus one poll.

A leader that stalled past its lease (SIGSTOP, a VM pause, a long GC) wakes up believing it
still leads. So every commit (ledger append, cursor move, the alert engine's save and each
send) first checks that the lease still names this holder *and* the fencing token is still its
own; if not, `LeaseLost` aborts the job without writing (logged `lease_lost`) and the process
goes back to standby. A commit already past its check when the process stalled still lands:
the append dedupes under the ledger lock and the cursor moves by compare-and-swap, so that late
write cannot store a record twice (see docs/deployment.md "Collector failover").

Example (the Redis calls are shown in tests/collector/test_failover.py, against a real server):
    >>> holder = holder_id()              # host:pid:random, what the lease key and the status hold
    >>> holder.split(":")[1] == str(os.getpid()), KEY, FENCE
    (True, 'monitor:collector:lease', 'monitor:collector:fence')
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import replace
from typing import Any

import pyarrow as pa
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from foundation.config import LeaseConfig
from foundation.jobs import Job
from foundation.log import event_logger
from ledger import Appender

from ._context import Context
from ._state import CursorStore, StatusBoard
from .errors import LeaseLost

log = event_logger("collector")
KEY = "monitor:collector:lease"
FENCE = "monitor:collector:fence"

_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return false
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] and redis.call('GET', KEYS[2]) == ARGV[3] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_CHECK = """
if redis.call('GET', KEYS[1]) == ARGV[1] and redis.call('GET', KEYS[2]) == ARGV[2] then return 1 end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def holder_id() -> str:
    """`host:pid:random`: unique per process, readable in the status and the logs."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Lease:
    """The Redis side: acquire, renew, check, release (each one Lua script, so atomic)."""

    def __init__(self, config: LeaseConfig, holder: str | None = None) -> None:
        self.config = config
        self.holder = holder or holder_id()
        timeout = max(0.5, config.seconds / 3)
        self.client = redis.Redis.from_url(
            config.url,
            password=config.password(),
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
            health_check_interval=0,
        )
        self._acquire = self.client.register_script(_ACQUIRE)
        self._renew = self.client.register_script(_RENEW)
        self._check = self.client.register_script(_CHECK)
        self._release = self.client.register_script(_RELEASE)

    @property
    def millis(self) -> int:
        return self.config.seconds * 1000

    def acquire(self) -> int | None:
        """The new fencing token if the lease was free, else None."""
        token = self._acquire(keys=[KEY, FENCE], args=[self.holder, self.millis])
        return int(token) if token else None

    def renew(self, token: int) -> bool:
        return bool(self._renew(keys=[KEY, FENCE], args=[self.holder, self.millis, token]))

    def check(self, token: int) -> bool:
        return bool(self._check(keys=[KEY, FENCE], args=[self.holder, token]))

    def release(self) -> None:
        self._release(keys=[KEY], args=[self.holder])

    def current(self) -> str | None:
        """Who holds the lease now (None: nobody)."""
        value = self.client.get(KEY)
        return str(value) if value is not None else None


class Failover:
    """This process's side: standby or leader, a keeper thread, and the fence every commit calls.

    `leader` is true only while the last successful acquire or renew, counted from before it
    was sent, is younger than `lease_seconds` (so a Redis outage demotes the leader by itself).
    """

    def __init__(
        self,
        lease: Lease,
        status: StatusBoard,
        stop: threading.Event,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lease, self.status, self.stop, self.clock = lease, status, stop, clock
        self.token: int | None = None
        self.valid_until = 0.0
        self.last_error: str | None = None  # the last tick's Redis error
        self.on_acquired: Callable[[], None] = lambda: None
        self._lock = threading.Lock()
        self._run: ContextVar[int | None] = ContextVar(f"lease_run_{id(self)}")
        """The token the running job started under: a context variable, so a job's own helper threads
        (the poll's committer) see it too."""
        self._thread: threading.Thread | None = None

    @property
    def seconds(self) -> int:
        return self.lease.config.seconds

    @property
    def leader(self) -> bool:
        return self.token is not None and self.clock() < self.valid_until

    def tick(self) -> None:
        """One step of the keeper: a standby tries to acquire, a leader renews."""
        started = self.clock()
        token = self.token
        try:
            if token is None:
                got = self.lease.acquire()
                if got is not None:
                    self._acquired(got, started)
            elif self.lease.renew(token):
                self.valid_until = started + self.seconds
            else:
                self.lose("the lease expired and another collector took it (renew refused)")
        except redis.RedisError as exc:
            error = str(exc)[:300]
            if error != self.last_error:  # one line per outage (and per new error), not one per second
                log.warning("lease_error", error=error, leader=self.token is not None)
            self.last_error = error
            if self.token is not None and self.clock() >= self.valid_until:
                self.lose(f"could not renew the lease before it expired ({error[:200]})")
            return
        if self.last_error is not None:
            log("lease_ok", after_error=self.last_error)
            self.last_error = None

    def _acquired(self, token: int, started: float) -> None:
        with self._lock:
            self.token, self.valid_until = token, started + self.seconds
        log("lease_acquired", holder=self.lease.holder, token=token, lease_seconds=self.seconds)
        self.status.record_lease(self.lease.holder, token, self.seconds)
        self.on_acquired()

    def lose(self, reason: str, job: str | None = None, token: int | None = None) -> None:
        """Back to standby; logged by the keeper once per lost lease, and by every job it aborts."""
        with self._lock:
            held, self.token = self.token, None
        if held is not None or job is not None:
            token = held if held is not None else token
            log.warning("lease_lost", holder=self.lease.holder, token=token, reason=reason, job=job)

    def fence(self) -> None:
        """Before a commit: LeaseLost unless this holder and the token the running job started
        under are still current in Redis (a job of a lost term never writes, even if this
        process leads again by now)."""
        token = self._run.get(self.token)
        if token is None:
            raise LeaseLost("not the lease holder; not writing")
        try:
            current = self.lease.check(token)
        except redis.RedisError as exc:
            raise LeaseLost(f"cannot check the lease ({str(exc)[:200]}); not writing", token) from None
        if not current:
            raise LeaseLost(f"fencing token {token} is no longer current; not writing", token)

    def start(self) -> None:
        """The keeper thread: a standby tries every second at most, a leader renews every third of the lease."""

        def loop() -> None:
            while True:
                try:
                    self.tick()
                except Exception as exc:  # noqa: BLE001 - the keeper must outlive any one failure
                    log.error("lease_error", error=f"{type(exc).__name__}: {str(exc)[:300]}", leader=self.leader)
                wait = self.seconds / 3 if self.token is not None else min(1.0, self.seconds / 3)
                if self.stop.wait(wait):
                    return

        if self.token is None:
            log("lease_standby", holder=self.lease.holder, lease_seconds=self.seconds)
        self._thread = threading.Thread(target=loop, name="collector-lease", daemon=True)
        self._thread.start()

    def release(self) -> None:
        """On a clean stop (after `stop` is set): free the lease so a standby takes over now."""
        if self._thread is not None:
            self._thread.join(timeout=self.seconds)
        if self.token is None:
            return
        try:
            self.lease.release()
        except redis.RedisError as exc:
            log.warning("lease_error", error=str(exc)[:300], leader=True)
            return
        self.token = None
        self.status.record_lease(None, None, self.seconds)
        log("lease_released", holder=self.lease.holder)

    def gate(self, job: Job) -> Job:
        """`job`, run only by the leader; a LeaseLost inside it ends the run without writing."""

        def run() -> bool:
            if not self.leader:
                return True
            self._run.set(self.token)
            try:
                return job.run()
            except LeaseLost as exc:
                self.lose(str(exc), job.name, exc.token)
                return True
            finally:
                self._run.set(None)

        return replace(job, run=run)


class FencedAppender(Appender):
    def __init__(self, data_dir: Any, fence: Callable[[], None]) -> None:
        super().__init__(data_dir)
        self._fence = fence

    def append(self, rows: pa.Table, batch: tuple[str, int] | None = None) -> int:
        self._fence()
        return super().append(rows, batch)


class FencedCursorStore(CursorStore):
    def __init__(self, data_dir: Any, fence: Callable[[], None]) -> None:
        super().__init__(data_dir)
        self._fence = fence

    def set(self, source: str, cursor: str) -> None:
        self._fence()
        super().set(source, cursor)

    def advance(self, source: str, expected: str | None, cursor: str, batch: int | None = None) -> bool:
        self._fence()
        return super().advance(source, expected, cursor, batch)


def failover_for(context: Context) -> tuple[Failover, Context] | None:
    """With `[collector] lease_url`: the Failover and a context whose commits check the fence."""
    config = context.config.lease
    if config is None:
        return None
    failover = Failover(Lease(config), context.status, context.stop)
    fenced = replace(
        context,
        appender=FencedAppender(context.data_dir, failover.fence),
        cursors=FencedCursorStore(context.data_dir, failover.fence),
    )
    return failover, fenced
