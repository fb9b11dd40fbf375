"""Re-pricing: after the price table or overrides change, recompute stored costs.

Why per day with a version check: only days holding rows priced with another
`price_version` are rewritten, each atomically, so a re-price can be interrupted and run
again. Rows from provider usage APIs (`aggregated`) keep the provider's own cost.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ledger import PriceBook, list_days
from ledger.store import rewrite_day


def reprice(data_dir: Path, book: PriceBook, currency: str) -> dict[str, int]:
    """Re-price every stale per-request row; returns counts of days and rows rewritten.

    Each day is read and replaced by `rewrite_day`, under the ledger lock, so rows the running
    collector appends meanwhile are kept.
    """
    counts = {"days": 0, "rows": 0}

    def change(table: pa.Table) -> pa.Table | None:
        version = pc.fill_null(table["price_version"], "")
        stale = pc.and_(pc.invert(table["aggregated"]), pc.not_equal(version, book.version))
        if not pc.any(stale).as_py():
            return None
        counts["rows"] += pc.sum(stale.cast(pa.int64())).as_py()
        return _repriced(table, stale, book, currency)

    counts["days"] = sum(rewrite_day(data_dir, day, change) for day in list_days(data_dir))
    return counts


def _repriced(table: pa.Table, stale: pa.ChunkedArray, book: PriceBook, currency: str) -> pa.Table:
    priced_model, cost = book.cost_columns(table, currency)
    updates = {
        "priced_model": pc.if_else(stale, priced_model, table["priced_model"]),
        "cost": pc.if_else(stale, cost, table["cost"]),
        "currency": pc.if_else(stale, pa.scalar(currency), table["currency"]),
        "price_version": pc.if_else(stale, pa.scalar(book.version), table["price_version"]),
    }
    for name, column in updates.items():
        table = table.set_column(table.schema.get_field_index(name), name, column)
    return table
