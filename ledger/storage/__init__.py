"""Where the ledger lives on disk: the schema, the day-partitioned parquet files, atomic
writes and exactly-once appends. pyarrow only (no DuckDB, no pandas), so a writer stays light.

Example:
    >>> from pathlib import Path
    >>> from ledger.storage import requests_dir
    >>> requests_dir(Path("data")).as_posix()
    'data/requests'
"""

from .atomic import atomic_write, atomic_write_bytes
from .ingest import Appender, price_rows
from .schema import COLUMNS, SCHEMA
from .store import (
    compact_closed_days,
    compact_day,
    day_dir,
    list_days,
    list_files,
    read_ledger,
    requests_dir,
    rewrite_day,
    write_rows,
)

__all__ = [
    "COLUMNS",
    "SCHEMA",
    "Appender",
    "atomic_write",
    "atomic_write_bytes",
    "compact_closed_days",
    "compact_day",
    "day_dir",
    "list_days",
    "list_files",
    "price_rows",
    "read_ledger",
    "requests_dir",
    "rewrite_day",
    "write_rows",
]
