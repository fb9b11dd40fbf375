"""The records of any time range, computed directly: what tests compare the server against.

Why a separate entry point: paging over HTTP and this function share only the per-hour
generator, so a paging bug (a skipped or repeated record) shows up as a difference.

Example:
    >>> from datetime import UTC
    >>> recs = generate_records(7, datetime(2026, 11, 2, 9, tzinfo=UTC),
    ...                         datetime(2026, 11, 2, 10, tzinfo=UTC), rate=6.0)
    >>> recs[0]["id"].startswith("sim-")
    True
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from ._encode import encode_hour
from ._generate import generate_hour
from ._incidents import HOUR_MS, Runaway


def _epoch_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()}: needs a timezone, e.g. datetime(..., tzinfo=UTC)")
    return int(moment.timestamp() * 1000)


def generate_records(
    seed: int, start: datetime, end: datetime, rate: float = 6.0, bad_every: int = 0, runaway: Runaway | None = None
) -> list[dict[str, Any]]:
    """Every record stamped in [start, end), in cursor order, exactly as the server serves them."""
    first, stop = _epoch_ms(start), _epoch_ms(end)
    records: list[dict[str, Any]] = []
    for hour in range(first // HOUR_MS, (stop - 1) // HOUR_MS + 1):
        cols = generate_hour(seed, hour, rate, runaway)
        keep = (cols["ts"] >= first) & (cols["ts"] < stop)
        blob, _ = encode_hour({name: values[keep] for name, values in cols.items()}, bad_every)
        records += orjson.loads(b"[" + blob[:-1] + b"]")
    return records
