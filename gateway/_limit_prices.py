"""Price the gateway's records with the ledger's own PriceBook, in a pricing process of its own.

Why the same `cost_columns`: a spend limit must agree with the ledger to the cent, so records
are turned into the ledger's columns and priced by the very function the collector uses
(aliases, cached tokens, pages, audio, characters, tier, zone, billable). It runs in a
process of its own (`load_pricer`, `price_records`), so numpy and pyarrow never hold the
gateway's GIL while requests wait. Only `ledger.pricing` is imported (numpy and pyarrow): the
`ledger` package loads its DuckDB query stack lazily, on first use, which the gateway never makes.
Differences from the ledger, documented in docs/gateway.md: list prices only (the collector's
`price_overrides` and `pricing = "billed"` sheets are not applied), and an unpriced model
counts 0 (the ledger shows it as unpriced).

Example:
    >>> price = book_pricer("USD")
    >>> price([{"timestamp": "2026-03-01T10:00:00.000Z", "model": "mistral-small-latest",
    ...         "prompt_tokens": 1000, "completion_tokens": 100, "cached_tokens": 0}])
    [0.00013]
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

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


_PRICER: list[Callable[[list[dict[str, Any]]], list[float]]] = []
_UNITS: list[Callable[[str], dict[str, tuple[float, float]]]] = []
UnitPrices = dict[str, tuple[float, float]]
"""Concrete model -> (input, output) price of one token, in the limits' currency."""


def load_pricer(currency: str) -> None:
    """The pricing process's initializer: load the price book once."""
    _PRICER[:] = [book_pricer(currency)]
    _UNITS[:] = [book_units(currency)]


def unit_prices(day: str) -> UnitPrices:
    """Run in the pricing process: every priced model's token prices on `day` (ISO date)."""
    return _UNITS[0](day)


def book_units(currency: str) -> Callable[[str], UnitPrices]:
    """A function giving each model's list price of an input and an output token on a day, in `currency`.

    What a spend limit reserves before a request goes upstream (docs/gateway.md, "Spend").
    """
    from ledger.pricing import aliases, prices

    book = prices.PriceBook(prices.read_prices(), aliases.read_aliases())

    def units(day: str) -> UnitPrices:
        at = datetime.fromisoformat(day + "T12:00:00+00:00")
        found: UnitPrices = {}
        for model in book.models():
            price = book.price_at(model, at, currency)
            if price is not None:
                found[model] = (price.input_per_1m / 1e6, price.output_per_1m / 1e6)
        return found

    return units


def price_records(records: list[dict[str, Any]]) -> list[float]:
    """Run in the pricing process (see Limiter._pool)."""
    return _PRICER[0](records) if records else []


def book_pricer(currency: str) -> Callable[[list[dict[str, Any]]], list[float]]:
    """A function pricing records (contract v1) in `currency` as the ledger would; 0 for unpriced."""
    import pyarrow as pa

    from ledger.pricing import aliases, prices

    book = prices.PriceBook(prices.read_prices(), aliases.read_aliases())

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
        _, cost = book.cost_columns(pa.table(columns), currency)
        return [float(c) if c is not None else 0.0 for c in cost.to_pylist()]

    return price
