"""Records leave the request path through a list drained by one writer task, in batches.

Why: a request must never wait on the disk, and must never fail because a record could not be
written. `submit` only appends to a list (bounded: past `max_pending` the record is dropped,
logged and counted); the writer wakes, waits `flush_interval` so a batch can gather, and commits
the batch in one transaction on its own thread. Shutdown drains what is pending. So a record is
in the buffer at most about one flush interval after its response ended; a SIGKILL in that
window loses it (that is the documented "not yet committed" window).

Example:
    >>> recorder = Recorder(buffer, metrics, flush_interval=0.02, retention_days=14)
    >>> await recorder.start(); recorder.submit({"id": "r1", ...}); await recorder.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from ._buffer import Buffer
from ._log import log
from ._metrics import Metrics

BATCH = 5_000
PURGE_EVERY = 3_600.0


class Recorder:
    def __init__(self, buffer: Buffer, metrics: Metrics, flush_interval: float, retention_days: float,
                 max_pending: int = 100_000) -> None:  # fmt: skip
        self.buffer = buffer
        self.metrics = metrics
        self.flush_interval = flush_interval
        self.retention = retention_days * 86_400
        self.max_pending = max_pending
        self.pending: list[dict[str, Any]] = []
        self.wakeup = asyncio.Event()
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="gateway-writer")
        self.task: asyncio.Task[None] | None = None
        self.stopping = asyncio.Event()
        self.last_purge = 0.0

    def submit(self, record: dict[str, Any]) -> None:
        """Queue a record; never raises, never blocks."""
        if len(self.pending) >= self.max_pending:
            self.metrics.record_failures += 1
            if self.metrics.record_failures % 1000 == 1:
                log("record_dropped", reason="writer backlog full", pending=len(self.pending))
            return
        self.pending.append(record)
        self.wakeup.set()

    async def start(self) -> None:
        await self._purge()
        self.task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Flush everything pending, then stop the writer."""
        self.stopping.set()
        self.wakeup.set()
        if self.task is not None:
            await self.task
        self.executor.shutdown(wait=True)

    async def _run(self) -> None:
        while not self.stopping.is_set():
            await self.wakeup.wait()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self.flush_interval)
            self.wakeup.clear()
            await self._flush()
            if time.time() - self.last_purge >= PURGE_EVERY:
                await self._purge()
        await self._flush()

    async def _flush(self) -> None:
        batch, self.pending = self.pending, []
        for start in range(0, len(batch), BATCH):
            await self._in_writer(self._write, batch[start : start + BATCH])

    def _write(self, batch: list[dict[str, Any]]) -> None:
        try:
            self.buffer.write([orjson.dumps(record) for record in batch], time.time())
            self.metrics.records_written += len(batch)
        except Exception as exc:  # a record failure must never reach a request
            self.metrics.record_failures += len(batch)
            log("record_failure", records=len(batch), error=f"{type(exc).__name__}: {exc}")

    async def _purge(self) -> None:
        self.last_purge = time.time()
        await self._in_writer(self._purge_sync, self.last_purge - self.retention)

    def _purge_sync(self, before: float) -> None:
        try:
            deleted = self.buffer.purge(before)
            if deleted:
                log("retention_purge", deleted=deleted)
        except Exception as exc:
            log("retention_failure", error=f"{type(exc).__name__}: {exc}")

    async def _in_writer(self, func: Any, arg: Any) -> None:
        await asyncio.get_running_loop().run_in_executor(self.executor, func, arg)
