"""Crash-safe file replacement: temp file, fsync, atomic rename, fsync of the folder.

Why: a SIGKILL at any instant must leave either the old file or the new one, never a torn
one. Readers skip names starting with "." (pyarrow's default), so temp files stay invisible.

Example:
    >>> atomic_write_bytes(Path("data/state/cursors.json"), b"{}")
    PosixPath('data/state/cursors.json')
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path


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
