"""Crash-safe file replacement: temp file, fsync, atomic rename, fsync of the folder.

Why: a SIGKILL at any instant must leave either the old file or the new one, never a torn
one. Readers skip names starting with "." (pyarrow's default), so temp files stay invisible; a temp
file a SIGKILL left behind is found by `stale_temps` (remote.mirror removes them from its folders).

Example:
    >>> atomic_write_bytes(Path("data/state/cursors.json"), b"{}")
    PosixPath('data/state/cursors.json')
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

_TEMP = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp$")
"""The name `atomic_write` gives its temp file: `.<name>.<8 hex>.tmp`."""


def fsync_dir(folder: Path) -> None:
    """Make a rename inside `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Callable[[Path], object]) -> Path:
    """Call `write(tmp)` to fill a hidden temp file beside `path`, then swap it in."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return path


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Replace `path` with `data` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def stale_temps(folder: Path, older_than: float, now: float | None = None) -> Iterator[Path]:
    """The temp files `atomic_write` left under `folder` (a writer SIGKILLed before its rename or its
    clean-up) last written more than `older_than` seconds before `now` (the wall clock unless given): a
    writer still filling one touched it moments ago."""
    now = time.time() if now is None else now
    for path in folder.rglob(".*.tmp") if folder.is_dir() else ():
        try:
            stale = _TEMP.match(path.name) is not None and now - path.stat().st_mtime > older_than
        except FileNotFoundError:
            continue  # renamed or removed by its writer since the listing
        if stale:
            yield path
