"""Re-pricing: after the price table or overrides change, recompute stored costs.

Why per day with a version check: only days holding rows priced with another
`price_version` are rewritten, each atomically, so a re-price can be interrupted and run
again. Rows from provider usage APIs (`aggregated`) keep the provider's own cost.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ledger import PriceBook, list_days, read_ledger
from ledger.store import replace_day


def reprice(data_dir: Path, book: PriceBook, currency: str) -> dict[str, int]:
    """Re-price every stale per-request row; returns counts of days and rows rewritten."""
    days = rows = 0
    for day in list_days(data_dir):
        table = read_ledger(data_dir, day, day)
        version = pc.fill_null(table["price_version"], "")
        stale = pc.and_(pc.invert(table["aggregated"]), pc.not_equal(version, book.version))
        if not pc.any(stale).as_py():
            continue
        replace_day(data_dir, day, _repriced(table, stale, book, currency))
        days += 1
        rows += pc.sum(stale.cast(pa.int64())).as_py()
    return {"days": days, "rows": rows}


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
