"""One structured JSON line per event on stderr, with secrets scrubbed.

Why scrub here as well as never logging tokens: an exception message from a library can
carry a header or URL we did not choose to print. Every registered secret is replaced by
`***` in the final line, whatever put it there.

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

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Never print `value` (tokens shorter than 4 characters are not worth matching)."""
    if value and len(value) >= 4:
        _secrets.add(value)


def scrub(text: str) -> str:
    for secret in _secrets:
        text = text.replace(secret, "***")
    return text


def log(event: str, stream: TextIO | None = None, **fields: Any) -> None:
    """Write one JSON line: timestamp, event name, fields."""
    record = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds"), "event": event, **fields}
    line = scrub(orjson.dumps(record, default=str).decode())
    with _lock:
        print(line, file=stream or sys.stderr, flush=True)
