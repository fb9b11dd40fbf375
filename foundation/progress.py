"""Progress of long CLI work: a bar on a terminal, plain log lines without one.

Why both: someone re-pricing or compacting a year of days at a terminal wants to see it move
(done/total, rate, time left), while the same command under cron, systemd or CI must not fill
its log with carriage returns: there it writes one `progress` event every `every` seconds and
one at the end, through the product's logging (foundation.log).

Example:
    >>> import io
    >>> out, clock = io.StringIO(), iter([0.0, 0.0, 2.0, 4.0]).__next__
    >>> with Progress("reprice", 4, "days", stream=out, clock=clock) as bar:
    ...     bar.advance(2)
    ...     bar.advance(2)
    >>> bar.line(4.0)
    'reprice: 4/4 days (100%), 1.0 days/s, done in 4 s'
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import TracebackType
from typing import TextIO, TypeVar

from .log import event_logger

WIDTH = 24
"""Characters of the bar itself."""
_log = event_logger("progress")


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class Progress:
    """`total` units of work (`unit`: "days", "records"); `advance(n)` as they are done.

    On a terminal (`stream.isatty()`) the bar is redrawn in place at most every 0.1 s; otherwise
    a `progress` log event is written every `every` seconds and at the end.
    """

    def __init__(
        self,
        what: str,
        total: int,
        unit: str,
        *,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        every: float = 10.0,
    ) -> None:
        self.what, self.total, self.unit, self.done = what, max(0, int(total)), unit, 0
        self.stream = stream if stream is not None else sys.stderr
        self.clock, self.every = clock, every
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = self.clock()
        self._shown = float("-inf")
        self.note = ""
        """Appended to the line (`1,234 records`): what the unit does not say."""

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.finish()

    def rate(self, now: float) -> float:
        elapsed = now - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def line(self, now: float | None = None) -> str:
        """`reprice: 12/40 days (30%), 3.2 days/s, about 9 s left` (or `done in ...` at the end)."""
        now = self.clock() if now is None else now
        share = f" ({100 * self.done // self.total}%)" if self.total else ""
        rate = self.rate(now)
        if self.done >= self.total:
            tail = f"done in {_duration(now - self.started)}"
        elif rate > 0:
            tail = f"about {_duration((self.total - self.done) / rate)} left"
        else:
            tail = "time left unknown"
        note = f", {self.note}" if self.note else ""
        return f"{self.what}: {self.done:,}/{self.total:,} {self.unit}{share}, {rate:,.1f} {self.unit}/s, {tail}{note}"

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = self.clock()
        if now - self._shown >= (0.1 if self.tty else self.every):
            self._show(now)

    def advance_to(self, done: int, note: str = "") -> None:
        """Work measured as a position (the days a backfill has covered): `done` of `total` so far."""
        self.note = note or self.note
        self.advance(max(0, min(int(done), self.total) - self.done))

    def finish(self) -> None:
        self._show(self.clock(), end=True)

    def _show(self, now: float, end: bool = False) -> None:
        self._shown = now
        if not self.tty:
            _log.info("progress", task=self.what, done=self.done, total=self.total, unit=self.unit, line=self.line(now))
            return
        filled = WIDTH * self.done // self.total if self.total else WIDTH
        bar = "#" * filled + "." * (WIDTH - filled)
        self.stream.write(f"\r[{bar}] {self.line(now)}\033[K" + ("\n" if end else ""))
        self.stream.flush()


T = TypeVar("T")


def tracker(what: str, unit: str, stream: TextIO | None = None) -> Callable[[Sequence[T]], Iterable[T]]:
    """A function that yields the items of a list while a `Progress` counts them: pass it as `track=`
    to long work (`reprice`, `compact_closed_days`), which stays free of any output of its own."""

    def track(items: Sequence[T]) -> Iterator[T]:
        with Progress(what, len(items), unit, stream=stream) as bar:
            for item in items:
                yield item
                bar.advance()

    return track
