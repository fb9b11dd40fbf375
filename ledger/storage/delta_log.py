"""The files of a local Delta table's current snapshot, read from its log without deltalake.

Why: a process that only reads the ledger (the dashboard) needs nothing from the Delta log but
its file list, and importing deltalake and opening the table cost a cold page ~0.13 s and tens
of MB (bench/bench_dashboard.py: frame cold 0.36 s against 0.20 s on the old parquet layout).
The log is plain files (Delta protocol): JSON commits `<version>.json` and parquet checkpoints.
This reads the last checkpoint and the commits after it once, then only the new commits: one
`stat` per call looks for the next version, so a reader never misses a commit, whatever the file
system's clock tick.

Anything outside what it knows answers None, and the caller asks deltalake instead: a reader
feature (deletion vectors, column mapping), a checkpoint named otherwise (v2, with sidecars), a
file outside the table's folder, a log whose first versions were cleaned up with no checkpoint.

Example:
    >>> from datetime import UTC, datetime
    >>> from tests.builders import build_ledger
    >>> _ = build_ledger(Path("data"), n_records=500, days=2, seed=7, end=datetime(2026, 11, 2, 23, tzinfo=UTC))
    >>> version, files = snapshot(Path("data/requests"))
    >>> sorted(set(files.values()))
    [datetime.date(2026, 11, 1), datetime.date(2026, 11, 2)]
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson

from foundation.errors import MonitorError

PARTITION = "date"
READER_FEATURES = frozenset({"timestampNtz", "vacuumProtocolCheck"})
"""Table features a reader of file lists may ignore; any other one means: ask deltalake."""


class Unsupported(MonitorError):
    """The log holds something this reader does not follow (never leaves the module: the caller asks deltalake)."""


@dataclass
class _State:
    root: Path
    """The table's folder with symlinks resolved, as deltalake names its files."""
    inode: int
    version: int = -1
    active: dict[str, Any] = field(default_factory=dict)
    """Each live file's absolute path -> its `date` partition value (None in a table of `paths`)."""
    dated: bool = True
    seen: tuple[int, int] | None = None
    """`commit_mark` of the commit at `version` when this state reached it."""


_LOGGED = re.compile(r"\d{20}\.(json|checkpoint\..*parquet)")
"""A commit's or a checkpoint's name in the log folder (a staged file's ends otherwise)."""
_states: dict[str, _State] = {}
_lock = threading.Lock()


def commit_file(log: Path, version: int) -> Path:
    return log / f"{version:020d}.json"


def has_commit(log: Path) -> bool:
    """Whether the log folder `log` holds a commit or a checkpoint: whether a table is there. delta-rs
    makes the folder before it links the first commit to its name, so a process killed between the
    two leaves a folder with only that commit's staged file (`00000000000000000000.json#1`): no table
    yet, which the next writer creates (deltalake itself refuses to open it)."""
    if commit_file(log, 0).exists() or (log / "_last_checkpoint").exists():
        return True
    try:
        with os.scandir(log) as entries:
            return any(_LOGGED.fullmatch(entry.name) for entry in entries)
    except (FileNotFoundError, NotADirectoryError):
        return False


def commit_mark(log: Path, version: int) -> tuple[int, int] | None:
    """(inode, mtime in ns) of the commit file of `version` in the log folder `log`; None when it is
    not there. A table deleted and made again in its folder has, at the same version, another
    file: a cache of the old table's snapshot compares this, since an inode alone may be reused."""
    try:
        found = os.stat(commit_file(log, version))
    except FileNotFoundError:
        return None
    return found.st_ino, found.st_mtime_ns


_heads: dict[str, int] = {}
"""Per log folder: the latest version `head` found there."""


def head(folder: Path) -> tuple[int, tuple[int, int] | None] | None:
    """(latest version, `commit_mark` of its commit file) of the local table at `folder`, without
    reading a commit; None when there is no table. From the version found last time (else the last
    checkpoint's, else the log's names), one `stat` per commit after it and one for the next, so it
    is exact whatever the clock tick: a table made again in its folder has other commit files.

    Example:
        >>> head(Path("nowhere")) is None
        True
    """
    log = Path(folder).absolute() / "_delta_log"
    key = str(log)
    with _lock:
        version = _heads.get(key)
    if version is None or commit_mark(log, version) is None:
        version = _first_version(log)
        if version is None:
            return None
    while commit_file(log, version + 1).exists():
        version += 1
    with _lock:
        _heads[key] = version
    return version, commit_mark(log, version)


def _first_version(log: Path) -> int | None:
    """Where `head` starts: the last checkpoint's version, else the newest commit's name in the log."""
    try:
        return int(orjson.loads((log / "_last_checkpoint").read_bytes())["version"])
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        pass
    try:
        with os.scandir(log) as entries:
            found = [int(e.name[:20]) for e in entries if _LOGGED.fullmatch(e.name) and e.name.endswith(".json")]
    except (FileNotFoundError, NotADirectoryError):
        return None
    return max(found, default=None)


def snapshot(folder: Path) -> tuple[int, dict[str, date]] | None:
    """(version, {absolute file path: day}) of the table at `folder` now; None when there is no
    table or its log needs deltalake. The dict is this module's: callers must not change it."""
    return _read(folder, dated=True)


def paths(folder: Path) -> tuple[int, dict[str, None]] | None:
    """`snapshot` of a table partitioned otherwise than on `date` first (the billed table): its
    live files' absolute paths, whose folder names carry their partition values."""
    return _read(folder, dated=False)


def _read(folder: Path, dated: bool) -> tuple[int, dict[str, Any]] | None:
    key = str(Path(folder).absolute())
    log = Path(key) / "_delta_log"
    try:
        inode = os.stat(log).st_ino
    except FileNotFoundError:
        return None
    with _lock:
        state = _states.get(key)
        try:
            if (
                state is None
                or state.inode != inode
                or state.dated != dated
                or commit_mark(log, state.version) != state.seen
            ):
                state = _states[key] = _load(Path(os.path.realpath(key)), inode, dated)
            _follow(state)
            state.seen = commit_mark(log, state.version)
        except (Unsupported, OSError, ValueError, KeyError, TypeError):
            _states.pop(key, None)
            return None
        return state.version, state.active


def _load(folder: Path, inode: int, dated: bool = True) -> _State:
    """The state at the last checkpoint (or before version 0 without one)."""
    log = folder / "_delta_log"
    state = _State(folder, inode, dated=dated)
    pointer = log / "_last_checkpoint"
    if not pointer.exists():
        if not commit_file(log, 0).exists():
            raise Unsupported("no checkpoint and no first commit")
        return state
    info = orjson.loads(pointer.read_bytes())
    version, parts = int(info["version"]), info.get("parts")
    if parts:
        names = [f"{version:020d}.checkpoint.{i:010d}.{int(parts):010d}.parquet" for i in range(1, int(parts) + 1)]
    else:
        names = [f"{version:020d}.checkpoint.parquet"]
    for name in names:
        _read_checkpoint(log / name, state)
    state.version = version
    return state


def _read_checkpoint(path: Path, state: _State) -> None:
    import pyarrow.parquet as pq

    if not path.exists():
        raise Unsupported(f"checkpoint {path.name} is not where a classic checkpoint is")
    held = pq.ParquetFile(path).schema_arrow
    table = pq.read_table(path, columns=[c for c in ("add", "protocol") if c in held.names])
    if "protocol" in table.column_names:
        for row in table.column("protocol").drop_null().to_pylist():
            _check_protocol(row)
    if "add" not in table.column_names:
        return
    adds = table.column("add").drop_null()
    for row in adds.to_pylist():
        if row.get("deletionVector"):
            raise Unsupported("deletion vectors")
        state.active[_absolute(state.root, row["path"])] = _day(row["partitionValues"]) if state.dated else None


def _follow(state: _State) -> None:
    """Apply every commit after `state.version`, in order, until the next one is not there yet."""
    log = state.root / "_delta_log"
    while True:
        try:
            text = commit_file(log, state.version + 1).read_bytes()
        except FileNotFoundError:
            return
        for line in text.splitlines():
            if line.strip():
                _apply(orjson.loads(line), state)
        state.version += 1


def _apply(action: dict[str, Any], state: _State) -> None:
    if "add" in action:
        add = action["add"]
        if add.get("deletionVector"):
            raise Unsupported("deletion vectors")
        state.active[_absolute(state.root, add["path"])] = _day(add["partitionValues"]) if state.dated else None
    elif "remove" in action:
        state.active.pop(_absolute(state.root, action["remove"]["path"]), None)
    elif "protocol" in action:
        _check_protocol(action["protocol"])


def _check_protocol(protocol: dict[str, Any]) -> None:
    reader = int(protocol.get("minReaderVersion") or 1)
    features = set(protocol.get("readerFeatures") or ())
    if reader == 2 or reader > 3 or not features <= READER_FEATURES:
        raise Unsupported(f"reader version {reader}, features {sorted(features)}")


def _absolute(folder: Path, uri: str) -> str:
    """A log path (relative and URL-encoded, or a file:// URI) as an absolute local path."""
    if "://" in uri:
        parts = urlsplit(uri)
        if parts.scheme != "file":
            raise Unsupported(f"file outside the table: {uri[:200]}")
        return unquote(parts.path)
    return str(folder / unquote(uri))


def _day(values: Any) -> date:
    found = dict(values) if not isinstance(values, dict) else values
    return date.fromisoformat(found[PARTITION])
