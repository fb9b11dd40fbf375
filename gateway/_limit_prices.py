"""Price the gateway's records with the collector's own price book, in a pricing process of its own.

Why the same book and the same `cost_columns`: a spend limit must agree with the ledger to the
cent, so records are turned into the ledger's columns and priced by the very function the
collector uses (aliases, cached tokens, pages, audio, characters, tier, zone, billable), with the
book the collector's config asks for (`collector_config`: its `[[prices]]` overrides, derived EUR
rows and, with `pricing = "billed"`, the stored price sheets; `ledger.pricing.book.build_book`).
Without `collector_config`, list prices. The book is built again every `BOOK_SECONDS`, so an
edited config or a newly stored sheet counts within a minute (a config that no longer reads
keeps the previous book, logged). It runs in a process of its own (`load_pricer`,
`price_records`), so numpy and pyarrow never hold the gateway's GIL while requests wait. Only
`ledger.pricing` (and `ledger.billing` for billed sheets) is imported: the `ledger` package
loads its DuckDB query stack lazily, on first use, which the gateway never makes.
One difference from the ledger, documented in docs/gateway.md: an unpriced model counts 0
(the ledger shows it as unpriced).

Example:
    >>> price = book_pricer("USD")
    >>> price([{"timestamp": "2026-03-01T10:00:00.000Z", "model": "mistral-small-latest",
    ...         "prompt_tokens": 1000, "completion_tokens": 100, "cached_tokens": 0}])
    [0.00013]
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foundation.log import event_logger

if TYPE_CHECKING:
    from ledger.pricing.prices import PriceBook

log = event_logger("gateway")

_NUMBERS = (
    "prompt_tokens",
    "cached_tokens",
    "completion_tokens",
    "pages",
    "annotated_pages",
    "audio_seconds",
    "characters",
)
_TEXTS = ("model", "resolved_model", "endpoint", "service_tier", "api_zone")
BOOK_SECONDS = 60.0
"""How often the pricing process builds the book again (a config edit, a new price sheet)."""


_PRICER: list[Callable[[list[dict[str, Any]]], list[float]]] = []
_UNITS: list[Callable[[str], dict[str, tuple[float, float]]]] = []
UnitPrices = dict[str, tuple[float, float]]
"""Concrete model -> (input, output) price of one token, in the limits' currency."""


class Books:
    """The price book of `collector_config` (list prices without one), built again when `BOOK_SECONDS` passed."""

    def __init__(self, collector_config: Path | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.collector_config = collector_config
        self.clock = clock
        self.built_at = -BOOK_SECONDS
        self.current: PriceBook | None = None

    def book(self) -> PriceBook:
        now = self.clock()
        if self.current is None or now - self.built_at >= BOOK_SECONDS:
            self.built_at = now
            try:
                self.current = self._build()
            except Exception as exc:  # an edited config that no longer reads: the previous book stays
                if self.current is None:
                    raise
                log.error("price_book_not_rebuilt", error=f"{type(exc).__name__}: {exc}")
        return self.current

    def _build(self) -> PriceBook:
        from ledger.pricing import aliases, prices

        if self.collector_config is None:
            return prices.PriceBook(prices.read_prices(), aliases.read_aliases())
        from foundation.config import load_config
        from ledger.pricing.book import build_book

        return build_book(load_config(self.collector_config))


def load_pricer(currency: str, collector_config: str | None = None) -> None:
    """The pricing process's initializer: the price book, built now."""
    books = Books(None if collector_config is None else Path(collector_config))
    books.book()
    _PRICER[:] = [book_pricer(currency, books)]
    _UNITS[:] = [book_units(currency, books)]


def unit_prices(day: str) -> UnitPrices:
    """Run in the pricing process: every priced model's token prices on `day` (ISO date)."""
    return _UNITS[0](day)


def book_units(currency: str, books: Books | None = None) -> Callable[[str], UnitPrices]:
    """A function giving each model's price of an input and an output token on a day, in `currency`,
    as the ledger prices it (a billed sheet's month included).

    What a spend limit reserves before a request goes upstream (docs/gateway.md, "Spend").
    """
    books = books or Books()

    def units(day: str) -> UnitPrices:
        book = books.book()
        at = datetime.fromisoformat(day + "T12:00:00+00:00")
        found: UnitPrices = {}
        for model in book.models():
            price = book.token_prices(model, at, currency)
            if price is not None:
                found[model] = (price[0] / 1e6, price[1] / 1e6)
        return found

    return units


def price_records(records: list[dict[str, Any]]) -> list[float]:
    """Run in the pricing process (see Limiter._pool)."""
    return _PRICER[0](records) if records else []


def book_pricer(currency: str, books: Books | None = None) -> Callable[[list[dict[str, Any]]], list[float]]:
    """A function pricing records (contract v1) in `currency` as the ledger would; 0 for unpriced."""
    import pyarrow as pa

    books = books or Books()

    def price(records: list[dict[str, Any]]) -> list[float]:
        if not records:
            return []
        columns: dict[str, Any] = {
            "timestamp": pa.array(
                [datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00")) for r in records],
                pa.timestamp("us", tz="UTC"),
            ),
            **{k: pa.array([r.get(k) for r in records], pa.float64()) for k in _NUMBERS},
            **{k: pa.array([r.get(k) for r in records], pa.string()) for k in _TEXTS},
            "billable": pa.array([r.get("billable") for r in records], pa.bool_()),
        }
        _, cost = books.book().cost_columns(pa.table(columns), currency)
        return [float(c) if c is not None else 0.0 for c in cost.to_pylist()]

    return price
