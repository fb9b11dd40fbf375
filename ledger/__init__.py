"""The ledger: one home for the schema, prices, storage and queries, in four parts.

- `ledger.storage`: the schema, the parquet layout, atomic writes, exactly-once appends
  (pyarrow only);
- `ledger.pricing`: dated list prices, aliases, your own price sheet's entries, FX rates;
- `ledger.queries`: the data functions the pages and the alerts engine call (DuckDB, pandas);
- `ledger.billing`: the billed table, reconciliation, spend-limit and rate-limit gauges.

The collector writes it; the dashboard pages, the alerts engine and the gateway read it.
Names are imported lazily, so a process that only writes (the gateway, the collector's
append path) never loads DuckDB or pandas: `import ledger.storage` stays cheap.

Example:
    >>> from ledger import SCHEMA
    >>> "cost" in SCHEMA.names
    True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .pricing import Alias, Price, PriceBook
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
    from .storage import (
        COLUMNS,
        SCHEMA,
        Appender,
        atomic_write,
        atomic_write_bytes,
        compact_closed_days,
        compact_day,
        day_dir,
        list_days,
        list_files,
        price_rows,
        read_ledger,
        requests_dir,
        rewrite_day,
        write_rows,
    )

_HOMES = {
    **dict.fromkeys(("Alias", "Price", "PriceBook"), "ledger.pricing"),
    **dict.fromkeys(
        (
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
        ),
        "ledger.queries",
    ),
    **dict.fromkeys(
        (
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
        ),
        "ledger.storage",
    ),
}
__all__ = [
    "COLUMNS",
    "SCHEMA",
    "Alias",
    "Appender",
    "Filters",
    "Price",
    "PriceBook",
    "Summary",
    "atomic_write",
    "atomic_write_bytes",
    "breakdown",
    "compact_closed_days",
    "compact_day",
    "day_dir",
    "hourly_spend",
    "latency_percentiles",
    "list_days",
    "list_files",
    "price_rows",
    "read_ledger",
    "reliability_over_time",
    "requests_dir",
    "rewrite_day",
    "spend_over_time",
    "spend_summary",
    "top_contributors",
    "update_rollups",
    "write_rows",
]


def __getattr__(name: str) -> Any:
    """`ledger.X` imports X's part on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'ledger' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
