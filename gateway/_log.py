"""One JSON line per event on stderr, with the registered secrets scrubbed.

Why scrub as well as never logging secrets: an exception message from a library can carry a
header we did not choose to print. Every registered secret becomes `***` in the final line.

Example:
    >>> log("record_failure", records=12, error="disk I/O error")
    {"ts": "...", "event": "record_failure", "records": 12, "error": "disk I/O error"}
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import orjson

_secrets: set[str] = set()


def register_secret(value: str | bytes) -> None:
    """Never print `value`."""
    text = value.decode() if isinstance(value, bytes) else value
    if len(text) >= 4:
        _secrets.add(text)


def log(event: str, **fields: Any) -> None:
    """Write one JSON line: timestamp, event name, fields."""
    record = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds"), "event": event, **fields}
    line = orjson.dumps(record, default=str).decode()
    for secret in _secrets:
        line = line.replace(secret, "***")
    print(line, file=sys.stderr, flush=True)
