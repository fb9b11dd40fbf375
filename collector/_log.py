"""One structured JSON line per event on stderr, with secrets scrubbed.

Why scrub here as well as never logging tokens: an exception message from a library, or an
error body a source echoed, can carry a header or URL we did not choose to print. The final
line goes through `_scrub.scrub` (the same function as every state file), whatever put it there.

Example:
    >>> log("poll", source="simulator", records=10000, duration_s=0.41)
    {"ts": "...", "event": "poll", "source": "simulator", "records": 10000, "duration_s": 0.41}
"""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from ._scrub import register_secret, scrub

__all__ = ["log", "register_secret", "scrub"]
_lock = threading.Lock()


def log(event: str, stream: TextIO | None = None, **fields: Any) -> None:
    """Write one JSON line: timestamp, event name, fields."""
    record = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds"), "event": event, **fields}
    line = scrub(orjson.dumps(record, default=str).decode())
    with _lock:
        print(line, file=stream or sys.stderr, flush=True)
