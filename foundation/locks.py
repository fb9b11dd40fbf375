"""Exclusive locks across threads and processes of one host: `fcntl.flock` on a lock file.

Why flock: the kernel releases it when its holder dies, SIGKILL included, so no lock is ever
left behind and nothing has to guess whether a holder is still alive; and each open of the
file is its own holder, so two threads of one process exclude each other as two processes do.
The holder writes its pid, since when and what it does into the file, so a process that has
to wait can say whom it waits for. Not for network file systems (the locks are per host).

Example:
    >>> lock = FileLock(Path("data/state/locks/poll.lock"), "collector poll:sim")
    >>> with lock.held() as got:
    ...     got, lock.holder().pid == os.getpid()
    (True, True)
    >>> lock.holder() is None       # released: the file is emptied before the unlock
    True
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

__all__ = ["FileLock", "Holder"]


@dataclass(frozen=True, kw_only=True)
class Holder:
    """Who holds a lock: a process, since when (UTC, ISO 8601), doing what."""

    pid: int
    since: str
    what: str

    def describe(self) -> str:
        return f"pid {self.pid} ({self.what}) since {self.since}"


class FileLock:
    """An exclusive lock on `path` (created with its folder on first use, never deleted)."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = Path(path)
        self.what = what

    def holder(self) -> Holder | None:
        """Who holds the lock now, as its holder wrote it; None if free (or just changing hands)."""
        try:
            data = orjson.loads(self.path.read_bytes() or b"null")
            return Holder(pid=int(data["pid"]), since=str(data["since"]), what=str(data["what"]))
        except (FileNotFoundError, orjson.JSONDecodeError, TypeError, KeyError, ValueError):
            return None

    @contextmanager
    def held(
        self,
        *,
        stop: threading.Event | None = None,
        on_wait: Callable[[Holder | None], None] | None = None,
        every: float = 0.05,
    ) -> Iterator[bool]:
        """Hold the lock for the `with` block; yields True.

        If another holder has it, `on_wait(holder)` is called once, then this waits; with a
        `stop` event, the wait checks it every `every` seconds and yields False (lock not taken)
        once it is set, so a shutting-down process does not sit behind a long poll.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if not self._take(fd, stop, on_wait, every):
                yield False
                return
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            os.ftruncate(fd, 0)
            os.pwrite(fd, orjson.dumps({"pid": os.getpid(), "since": stamp, "what": self.what}), 0)
            try:
                yield True
            finally:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _take(
        self,
        fd: int,
        stop: threading.Event | None,
        on_wait: Callable[[Holder | None], None] | None,
        every: float,
    ) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            pass
        if on_wait is not None:
            on_wait(self.holder())
        if stop is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return True
        while not stop.wait(every):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                continue
        return False
