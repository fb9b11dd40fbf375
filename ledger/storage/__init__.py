"""Where the ledger lives on disk: the schema, the day-partitioned Delta Lake table (deltalake),
atomic writes of state files and exactly-once appends. pyarrow and delta-rs only (no DuckDB, no
pandas), so a writer stays light.

Example:
    >>> from pathlib import Path
    >>> from ledger.storage import requests_dir
    >>> requests_dir(Path("data")).as_posix()
    'data/requests'
"""

from .atomic import atomic_write, atomic_write_bytes
from .document import Document, read_json
from .ingest import Appender, price_rows
from .mark import LedgerMark, MarkCache, ledger_mark, recent_mark
from .schema import COLUMNS, SCHEMA
from .store import (
    compact_closed_days,
    compact_day,
    day_dir,
    day_files,
    list_days,
    list_files,
    read_ledger,
    requests_dir,
    rewrite_day,
    rewrite_days,
    vacuum,
    write_rows,
)

__all__ = [
    "COLUMNS",
    "SCHEMA",
    "Appender",
    "Document",
    "LedgerMark",
    "MarkCache",
    "atomic_write",
    "atomic_write_bytes",
    "compact_closed_days",
    "compact_day",
    "day_dir",
    "day_files",
    "ledger_mark",
    "list_days",
    "list_files",
    "price_rows",
    "read_json",
    "read_ledger",
    "recent_mark",
    "requests_dir",
    "rewrite_day",
    "rewrite_days",
    "vacuum",
    "write_rows",
]
