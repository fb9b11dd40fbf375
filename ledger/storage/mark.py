"""A cheap mark of what a data_dir holds: equal while nothing a figure reads changed, new after any change.

Why: the dashboard caches each figure (pages/_data.py); keyed on this mark as well as on its arguments,
a figure is computed again right after a commit or a rollup build, and served from the
cache for as long as nothing moved, instead of being computed again every time to live.

What it covers (`WATCHED`, relative to data_dir; a new file a figure reads belongs here):
- Delta tables (`TABLES`: the requests ledger, the two rollups, the billed table) by their version,
  probed from the log: locally `delta_log.head` (one `stat` per commit since the last probe and one for
  the next: exact whatever the file system's clock tick, where a folder's mtime could hide a second
  commit in the same tick), on S3 `table.version` (the handle's probe, one HEAD).
- Plain files (`FILES`: the alerts' state, the budgets file with its key labels)
  and every file under `FOLDERS` (fetched FX rates; billing readings and price sheets) by inode, size
  and mtime in ns: each is replaced by a rename (a new inode) or rewritten whole. Hidden names (locks,
  temp files, the mirror's side file) are skipped.

On S3 (a data_dir's working folder, foundation.location): the tables are probed in the bucket, and
`FOLDERS` are the mirrored prefixes: the probe itself mirrors them (`remote.mirror_every`, at most once
per `remote.MIRROR_SECONDS` per process), since a cached figure no longer runs the readers that did,
so a copy's change shows in the mark within a minute of its object's. Not seen on S3: the alerts' state,
an object read directly (`Document`), not a file here; the figures reading it keep a short time to live.

`MarkCache` keeps one mark per data_dir for `PROBE_SECONDS` (a monotonic clock, injectable), so many
cached calls in many sessions' threads cost one probe a second. `recent_mark` is the process's one.

Example:
    >>> from datetime import UTC, datetime
    >>> from tests.builders import build_ledger
    >>> _ = build_ledger(Path("data"), n_records=500, days=2, seed=7, end=datetime(2026, 11, 2, 23, tzinfo=UTC))
    >>> before = ledger_mark(Path("data"))
    >>> before == ledger_mark(Path("data"))
    True
    >>> _ = build_ledger(Path("data"), n_records=10, days=1, seed=8, end=datetime(2026, 11, 2, 23, tzinfo=UTC))
    >>> before == ledger_mark(Path("data"))
    False
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from foundation import location
from foundation.log import event_logger

from . import delta_log, remote
from . import table as delta

TABLES = ("requests", "rollups/totals", "rollups/latency", "billed")
"""The Delta tables under data_dir the dashboard's figures read."""
FILES = ("alerts/state.json", "budgets.toml")
"""Single files the figures read (`budgets.toml`: the `[key_labels]` shown for API keys). Not the collector's
status (`state/collector.json`): it is written at every poll, rows or not, so watching it would have every
figure computed again after each poll of an idle source; its one reader, the freshness line, lives 10 s."""
FOLDERS = ("fx", "billing")
"""Folders every file of which a figure may read; on S3, prefixes mirrored into the working folder."""
WATCHED = (*TABLES, *FILES, *FOLDERS)
PROBE_SECONDS = 1.0
"""How long `MarkCache` answers a data_dir's mark without probing it again."""
_log = event_logger("ledger")

Stamp = tuple[int, int, int] | None
"""A file's (inode, size, mtime in ns); None when it is missing."""
LedgerMark = tuple[tuple[str, object], ...]
"""(watched name, its version or stamps), in `WATCHED` order: hashable, and equal exactly while nothing changed."""


def ledger_mark(data_dir: Path) -> LedgerMark:
    """The mark of what `data_dir` holds now (see the module docstring); probed, never cached."""
    root = Path(data_dir)
    on_s3 = location.url_of(root) is not None
    found: list[tuple[str, object]] = [(name, _version(root / name, on_s3)) for name in TABLES]
    found += [(name, stamp(root / name)) for name in FILES]
    for name in FOLDERS:
        folder = root / name
        url = remote.beside(root, name) if on_s3 else None
        if url is not None:
            remote.mirror_every(url, folder)
        found.append((name, tuple(sorted((str(p.relative_to(folder)), stamp(p)) for p in _files(folder)))))
    return tuple(found)


def _version(folder: Path, on_s3: bool) -> object:
    if on_s3:
        return delta.version(folder)
    return delta_log.head(folder)


def stamp(path: Path) -> Stamp:
    """(inode, size, mtime in ns) of the file at `path`; None when there is none."""
    try:
        found = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return found.st_ino, found.st_size, found.st_mtime_ns


def _files(folder: Path) -> Iterator[Path]:
    """Every file under `folder`, hidden names (and hidden folders) skipped."""
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from _files(Path(entry.path))
        else:
            yield Path(entry.path)


class MarkCache:
    """`ledger_mark` of each data_dir, probed at most once per `every` seconds of `clock` (thread-safe:
    one probe at a time, the others wait for its answer). A probe that fails (an S3 request) keeps the
    last mark, logged, and is tried again `every` seconds later: the figures cached stay served, as
    they were for their time to live before; a data_dir never probed raises."""

    def __init__(
        self,
        probe: Callable[[Path], LedgerMark] = ledger_mark,
        clock: Callable[[], float] = time.monotonic,
        every: float = PROBE_SECONDS,
    ) -> None:
        self.probe, self.clock, self.every = probe, clock, every
        self._seen: dict[str, tuple[float, LedgerMark]] = {}
        self._lock = threading.Lock()

    def __call__(self, data_dir: Path) -> LedgerMark:
        key = str(Path(data_dir).absolute())
        with self._lock:
            now = self.clock()
            seen = self._seen.get(key)
            if seen is not None and 0 <= now - seen[0] < self.every:
                return seen[1]
            try:
                mark = self.probe(Path(data_dir))
            except Exception as exc:
                if seen is None:
                    raise
                _log.warning("ledger_mark_failed", data_dir=key, error=f"{type(exc).__name__}: {exc}"[:300])
                mark = seen[1]
            self._seen[key] = (now, mark)
            return mark

    def forget(self) -> None:
        """Probe every data_dir again at its next call."""
        with self._lock:
            self._seen.clear()


recent_mark = MarkCache()
"""The process's `MarkCache` (the dashboard's figures are keyed on it)."""
