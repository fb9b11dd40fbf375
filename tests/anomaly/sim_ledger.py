"""A ledger of simulator traffic, built the collector's way (parse a page body, price, append), with rollups.

Why not through HTTP: the backtests need ~8 weeks of traffic; paging it over a socket adds
minutes and tests nothing the collector tests do not already. Each day is one page body,
parsed by the collector's fast path exactly as a real poll would be.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from collector._records import parse_body
from ledger import Appender, PriceBook, price_rows, update_rollups
from simulator import Runaway
from simulator._encode import encode_hour
from simulator._generate import generate_hour
from simulator._incidents import HOUR_MS

END = datetime(2026, 11, 30, tzinfo=UTC)
WEEKS_BEFORE = 4
DAYS = 30
START = END - timedelta(days=DAYS + 7 * WEEKS_BEFORE)
RUNAWAY_AT = datetime(2026, 11, 24, 9, tzinfo=UTC)
"""A Tuesday, 10:00 in Paris."""
RUNAWAY_KEY = "key_9e0f4c88"
"""The data-pipeline key: the batch jobs of the simulated organisation."""
FLOOR = 0.05
"""USD per hour: the simulator's organisation spends about 0.4 an hour in all (6 requests a minute),
so the default floor of 1 would hide everything; a real organisation keeps 1."""


def day_body(seed: int, start: datetime, end: datetime, rate: float, runaway: Runaway | None) -> bytes:
    """The records of [start, end) (whole hours) as one usage-endpoint page body."""
    parts = []
    for hour in range(int(start.timestamp() * 1000) // HOUR_MS, int(end.timestamp() * 1000) // HOUR_MS):
        blob, _ = encode_hour(generate_hour(seed, hour, rate, runaway), 0)
        parts.append(blob)
    return b'{"data":[' + b"".join(parts)[:-1] + b'],"next_cursor":null,"has_more":false}'


def build_sim_ledger(
    data_dir: Path,
    start: datetime,
    end: datetime,
    *,
    seed: int = 3,
    rate: float = 6.0,
    runaway: Runaway | None = None,
) -> int:
    """Write the simulator's records of [start, end) (whole hours, a day at a time); returns how many."""
    appender, book, count = Appender(data_dir), PriceBook.load(), 0
    days: set[date] = set()
    day = start
    while day < end:
        stop = min(day + timedelta(days=1), end)
        parsed = parse_body(day_body(seed, day, stop, rate, runaway))
        assert parsed is not None, "the fast path refused a simulator page"
        table = parsed[0]
        count += appender.append(price_rows(table, "simulator", book, "USD"))
        days |= {day.date(), (stop - timedelta(microseconds=1)).date()}
        day = stop
    update_rollups(data_dir, sorted(days))
    return count


def copy_ledger(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("alerts"))
    return target
