"""The ledger: one home for the schema, prices, storage and queries.

The collector writes it; the dashboard pages and the alerts engine read it. Everything they
share is importable from here.
"""

from .atomic import atomic_write, atomic_write_bytes
from .ingest import Appender, price_rows
from .prices import Alias, Price, PriceBook
from .queries import (
    Filters,
    Summary,
    breakdown,
    hourly_spend,
    latency_percentiles,
    reliability_over_time,
    spend_over_time,
    spend_summary,
    top_contributors,
    update_rollups,
)
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
    "Alias",
    "Appender",
    "Price",
    "PriceBook",
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
    "Filters",
    "Summary",
    "breakdown",
    "hourly_spend",
    "latency_percentiles",
    "reliability_over_time",
    "spend_over_time",
    "spend_summary",
    "top_contributors",
    "update_rollups",
]
