"""The price book a collector config asks for: one home, used by the collector and the gateway.

Why here (not in the collector): the gateway's spend limits must price a request as the ledger
does, so both build the book from the same config with the same function: list prices and
`[[prices]]` overrides, EUR rows derived from USD when `derive_eur_from_usd` opts in, and with
`pricing = "billed"` the stored Admin API price sheets, month by month.

Example:
    >>> from pathlib import Path
    >>> from foundation.config import Config
    >>> build_book(Config(data_dir=Path("data"))).version == PriceBook.load().version
    True
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from foundation.config import Config, PriceOverride

from .aliases import read_aliases
from .fx import load_rates
from .prices import CACHED_INPUT_SHARE, Price, PriceBook, RateFn, derive_prices, read_prices


def build_book(config: Config, rate: RateFn | None = None) -> PriceBook:
    """The price book the config asks for; `rate` (a test double) stands in for the rate table."""
    from ledger.billing import sheet_prices  # the billed table's reader, only for `pricing = "billed"`

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
