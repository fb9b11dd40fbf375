"""Re-pricing: after the price table or overrides change, recompute stored costs.

Why per day, and only where a cost moves: rows priced with another `price_version` are priced
again, but a day is rewritten (atomically, under the ledger lock) only if one of its costs,
priced models or currencies changes. A change to one alias date rewrites the days it covers,
not the whole history; a re-price can be interrupted and run again. Rows from provider usage
APIs (`aggregated`) keep the provider's own cost.

Which book: `build_book` is the one place the config's pricing choices meet: list prices and
`[[prices]]` overrides, EUR rows derived from USD when `derive_eur_from_usd` opts in, and with
`pricing = "billed"` the stored Admin API price sheets, month by month.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from foundation.config import Config, PriceOverride
from ledger import PriceBook, list_days
from ledger.billing import sheet_prices
from ledger.pricing.aliases import read_aliases
from ledger.pricing.fx import load_rates
from ledger.pricing.prices import CACHED_INPUT_SHARE, Price, RateFn, derive_prices, read_prices
from ledger.storage.store import rewrite_day


def build_book(config: Config, rate: RateFn | None = None) -> PriceBook:
    """The price book the config asks for; `rate` (a test double) stands in for the rate table."""
    prices = [*read_prices(), *map(override_price, config.price_overrides)]
    if config.derive_eur_from_usd:
        prices += derive_prices(prices, rate or dated_rate(config), datetime.now(UTC).date())
    aliases = read_aliases()
    book = PriceBook(prices, aliases)
    if config.pricing != "billed":
        return book
    return PriceBook(prices, aliases, sheet_prices(config.data_dir, config.currency, book))


def override_price(override: PriceOverride) -> Price:
    """A `[[prices]]` override as a price row; no cached price given = the ledger's cached share."""
    cached = override.cached_input_per_1m
    return Price(
        model=override.model,
        effective_from=override.effective_from,
        currency=override.currency,
        input_per_1m=override.input_per_1m,
        output_per_1m=override.output_per_1m,
        cached_input_per_1m=override.input_per_1m * CACHED_INPUT_SHARE if cached is None else cached,
        source=override.source,
    )


def dated_rate(config: Config) -> RateFn:
    """The dated reference-rate table as `rate(day, from, to)` (`ledger.pricing.fx`: seed,
    fetched rates, `[[fx.rates]]`).

    A day the table has no rate for gives None, so that month's derived price stays unpriced.
    """
    table = load_rates(config.data_dir, config.fx.overrides)

    def rate(day: date, source: str, target: str) -> float | None:
        found = table.factor(source, target, day)
        return None if found is None else found[0]

    return rate


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
