"""Hours of pre-encoded records, and pages cut out of them.

Why pre-encoded bytes: a page of 10,000 records is then a few slices of cached JSON joined
together, so serving costs little more than the socket write. Hours are generated on a
single background worker, one or two ahead of the reader during a backfill, and the least
recently used are dropped (they can always be regenerated, identically).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ._cursor import MAX_INDEX, Position
from ._encode import encode_hour
from ._generate import generate_hour
from ._incidents import HOUR_MS, Runaway

PREFETCH_HOURS = 2


@dataclass(frozen=True, kw_only=True)
class Chunk:
    """One hour's records as comma-joined JSON, with where each record starts."""

    blob: bytes  # every record is followed by a comma
    starts: np.ndarray  # byte offset of record i, and len(blob) at the end
    keys: np.ndarray  # Position.key of record i
    ts: np.ndarray  # epoch ms of record i

    def json(self, first: int, stop: int) -> memoryview:
        """Records [first, stop) as JSON objects, each followed by a comma (no copy made)."""
        return memoryview(self.blob)[self.starts[first] : self.starts[stop]]


def build_chunk(seed: int, hour: int, rate: float, bad_every: int, runaway: Runaway | None = None) -> Chunk:
    """Generate and encode one hour."""
    cols = generate_hour(seed, hour, rate, runaway)
    blob, starts = encode_hour(cols, bad_every)
    return Chunk(blob=blob, starts=starts, keys=cols["minute"] * MAX_INDEX + cols["n"], ts=cols["ts"])


@dataclass(kw_only=True)
class Page:
    """What one request returns: JSON parts, where to resume, whether more is visible."""

    parts: list[memoryview]  # comma-terminated runs of records
    count: int
    last: Position | None
    has_more: bool


class Store:
    """The simulated endpoint's records, generated on demand for (seed, rate, bad_every)."""

    def __init__(
        self,
        *,
        seed: int,
        rate: float,
        bad_every: int = 0,
        cache_hours: int = 24 * 31,
        runaway: Runaway | None = None,
    ) -> None:
        self._build: Callable[[int], Chunk] = lambda hour: build_chunk(seed, hour, rate, bad_every, runaway)
        self._cache_hours = cache_hours
        self._lock = threading.Lock()
        self._chunks: OrderedDict[int, Future[Chunk]] = OrderedDict()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sim-gen")

    def close(self) -> None:
        """Stop the generator thread; pending prefetches are dropped."""
        self._worker.shutdown(wait=False, cancel_futures=True)

    def chunk(self, hour: int) -> Chunk:
        """The records of absolute hour `hour`, from the cache or freshly generated."""
        return self._future(hour).result()

    def _future(self, hour: int) -> Future[Chunk]:
        with self._lock:
            future = self._chunks.get(hour)
            if future is None or future.cancelled():
                future = self._worker.submit(self._build, hour)
                self._chunks[hour] = future
            self._chunks.move_to_end(hour)
            while len(self._chunks) > self._cache_hours:
                self._chunks.popitem(last=False)
            return future

    def preload(self, hours: range) -> int:
        """Generate `hours` now (so that a benchmark measures serving); return the record count."""
        return sum(len(self.chunk(hour).ts) for hour in hours)

    def page(self, start: Position, limit: int, now_ms: int) -> Page:
        """Up to `limit` records from `start` on, among those stamped at or before `now_ms`."""
        page = Page(parts=[], count=0, last=None, has_more=False)
        key, hour, now_hour = start.key, start.minute // 60, now_ms // HOUR_MS
        while hour <= now_hour:
            chunk = self.chunk(hour)
            first = int(np.searchsorted(chunk.keys, key, side="left"))
            visible = int(np.searchsorted(chunk.ts, now_ms, side="right"))
            stop = min(visible, first + limit - page.count)
            if stop > first:
                page.parts.append(chunk.json(first, stop))
                page.count += stop - first
                last = int(chunk.keys[stop - 1])
                page.last = Position(last // MAX_INDEX, last % MAX_INDEX + 1)
            if page.count == limit:
                page.has_more = stop < visible or self._any_after(hour + 1, now_ms)
                break
            hour += 1
        for ahead in range(1, PREFETCH_HOURS + 1):
            if hour + ahead <= now_hour:
                self._future(hour + ahead)
        return page

    def _any_after(self, hour: int, now_ms: int) -> bool:
        """Whether any hour from `hour` on has a record visible at `now_ms`."""
        while hour <= now_ms // HOUR_MS:
            chunk = self.chunk(hour)
            if len(chunk.ts) and chunk.ts[0] <= now_ms:
                return True
            hour += 1
        return False
