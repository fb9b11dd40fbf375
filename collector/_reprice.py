"""Re-pricing: after the price table or overrides change, recompute stored costs.

Why per day, and only where a cost moves: rows priced with another `price_version` are priced
again, but a day is rewritten (atomically, under the ledger lock) only if one of its costs,
priced models or currencies changes. A change to one alias date rewrites the days it covers,
not the whole history; a re-price can be interrupted and run again. Rows from provider usage
APIs (`aggregated`) keep the provider's own cost.

Which book: `ledger.pricing.book.build_book`, the one place the config's pricing choices meet
(the gateway's spend limits build theirs there too).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ledger import PriceBook, list_days
from ledger.storage.store import rewrite_day


def reprice(
    data_dir: Path, book: PriceBook, currency: str, track: Callable[[list[date]], Iterable[date]] = iter
) -> dict[str, int]:
    """Re-price stale per-request rows; returns the days rewritten and the rows whose price moved.

    Each day is read and replaced by `rewrite_day`, under the ledger lock, so rows the running
    collector appends meanwhile are kept. A day whose prices all stay the same is left as it
    is (its rows keep their older `price_version`, which prices them the same). `track` sees the
    days as they are done (foundation.progress.tracker: a bar on a terminal, log lines otherwise).
    """
    counts = {"days": 0, "rows": 0}

    def change(table: pa.Table) -> pa.Table | None:
        version = pc.fill_null(table["price_version"], "")
        stale = pc.and_(pc.invert(table["aggregated"]), pc.not_equal(version, book.version))
        if not pc.any(stale).as_py():
            return None
        priced_model, cost = book.cost_columns(table, currency)
        moved = pc.and_(stale, _moved(table, priced_model, cost, currency))
        if not pc.any(moved).as_py():
            return None
        counts["rows"] += pc.sum(moved.cast(pa.int64())).as_py()
        return _repriced(table, stale, priced_model, cost, book.version, currency)

    counts["days"] = sum(rewrite_day(data_dir, day, change) for day in track(list_days(data_dir)))
    return counts


def _differs(old: pa.ChunkedArray, new: pa.Array) -> pa.Array:
    """Null-aware inequality: null vs a value differs, null vs null does not."""
    return pc.or_(pc.fill_null(pc.not_equal(old, new), False), pc.not_equal(pc.is_null(old), pc.is_null(new)))


def _moved(table: pa.Table, priced_model: pa.Array, cost: pa.Array, currency: str) -> pa.Array:
    currency_changed = pc.fill_null(pc.not_equal(table["currency"], currency), True)
    return pc.or_(
        pc.or_(_differs(table["cost"], cost), _differs(table["priced_model"], priced_model)), currency_changed
    )


def _repriced(
    table: pa.Table, stale: pa.ChunkedArray, priced_model: pa.Array, cost: pa.Array, version: str, currency: str
) -> pa.Table:
    updates = {
        "priced_model": pc.if_else(stale, priced_model, table["priced_model"]),
        "cost": pc.if_else(stale, cost, table["cost"]),
        "currency": pc.if_else(stale, pa.scalar(currency), table["currency"]),
        "price_version": pc.if_else(stale, pa.scalar(version), table["price_version"]),
    }
    for name, column in updates.items():
        table = table.set_column(table.schema.get_field_index(name), name, column)
    return table
