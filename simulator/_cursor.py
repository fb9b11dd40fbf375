"""Cursors: a position in absolute time, wrapped so that clients treat it as opaque.

Why absolute: the position is (epoch minute, index within that minute), which means the same
record in every run, so a cursor issued before a restart still resumes at the right place.

Example:
    >>> decode(encode(Position(29_500_000, 7)))
    Position(minute=29500000, n=7)
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import NamedTuple

from foundation.errors import MonitorError

_PREFIX = "v1:"
_PARTS = re.compile(r"v1:(-?[0-9]{1,15}):([0-9]{1,7})", re.ASCII)
MAX_INDEX = 2**20


class CursorError(MonitorError, ValueError):
    """The `after` parameter is not a cursor this endpoint issued."""


class Position(NamedTuple):
    """The next record to serve: the `n`th (from 0) of epoch minute `minute`."""

    minute: int
    n: int

    @property
    def key(self) -> int:
        """One sortable integer, comparable with the keys of generated records."""
        return self.minute * MAX_INDEX + self.n


def encode(pos: Position) -> str:
    """The opaque cursor string for `pos`."""
    raw = f"{_PREFIX}{pos.minute}:{pos.n}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> Position:
    """The position in `cursor`, or CursorError naming the fix."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        parts = _PARTS.fullmatch(raw)
        if parts is None:
            raise ValueError(raw)
        pos = Position(int(parts[1]), int(parts[2]))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise CursorError(
            f"after: {cursor[:40]!r} is not a cursor from this endpoint; "
            "pass a next_cursor value unchanged, or omit 'after' to start from the beginning"
        ) from None
    if pos.minute < 0 or not 0 <= pos.n < MAX_INDEX:
        raise CursorError(f"after: cursor {cursor[:40]!r} points outside the record range")
    return pos
