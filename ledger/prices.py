"""Dated prices and alias history: what a request cost at the moment it was made.

Mistral publishes current prices only, and `-latest` aliases move between models. Pricing a
past request with today's table makes last month's figures drift, so every price row has an
`effective_from` date, every alias row says since when it pointed where, and each priced row
records the `price_version` it was priced with (so `python -m collector reprice` knows what
is stale).

Example:
    >>> book = PriceBook.load()
    >>> book.resolve("mistral-small-latest", datetime(2026, 3, 1, tzinfo=UTC))
    'mistral-small-2506'
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HERE = Path(__file__).parent
PRICES_CSV = HERE / "prices.csv"
ALIASES_CSV = HERE / "aliases.csv"
BATCH_DISCOUNT = 0.5
CACHED_INPUT_SHARE = 0.1


@dataclass(frozen=True)
class Price:
    """One model's list price per 1M tokens in one currency, from a date on."""

    model: str
    effective_from: date
    currency: str
    input_per_1m: float
    output_per_1m: float
    cached_input_per_1m: float
    source: str = ""


@dataclass(frozen=True)
class Alias:
    """`alias` pointed to `model` from `effective_from` until the next row for the alias."""

    alias: str
    model: str
    effective_from: date
    source: str = ""


def _day_us(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1_000_000)


def read_prices(path: Path = PRICES_CSV) -> list[Price]:
    """Read a price CSV (see ledger/prices.csv for the columns)."""
    with path.open(newline="") as f:
        return [
            Price(
                model=row["model"],
                effective_from=date.fromisoformat(row["effective_from"]),
                currency=row["currency"].upper(),
                input_per_1m=float(row["input_per_1m"]),
                output_per_1m=float(row["output_per_1m"] or 0),
                cached_input_per_1m=float(row["cached_input_per_1m"] or 0),
                source=row.get("source", ""),
            )
            for row in csv.DictReader(f)
        ]


def read_aliases(path: Path = ALIASES_CSV) -> list[Alias]:
    """Read the alias-history CSV (alias, model, effective_from, source)."""
    with path.open(newline="") as f:
        return [
            Alias(row["alias"], row["model"], date.fromisoformat(row["effective_from"]), row["source"])
            for row in csv.DictReader(f)
        ]


class PriceBook:
    """All price and alias rows, indexed for point-in-time lookups.

    Rows given later win over earlier rows with the same (model, currency, effective_from),
    which is how config overrides replace the shipped table.
    """

    def __init__(self, prices: Iterable[Price], aliases: Iterable[Alias]) -> None:
        by_key: dict[tuple[str, str, date], Price] = {}
        for price in prices:
            by_key[(price.model, price.currency, price.effective_from)] = price
        self._prices: dict[tuple[str, str], list[Price]] = {}
        for key in sorted(by_key, key=lambda k: k[2]):
            price = by_key[key]
            self._prices.setdefault((price.model, price.currency), []).append(price)
        self._aliases: dict[str, list[Alias]] = {}
        for alias in sorted(aliases, key=lambda a: a.effective_from):
            self._aliases.setdefault(alias.alias, []).append(alias)
        self.version = self._fingerprint(by_key.values(), self._aliases)

    @classmethod
    def load(cls, overrides: Sequence[Price] = ()) -> PriceBook:
        """The shipped table plus config overrides."""
        return cls([*read_prices(), *overrides], read_aliases())

    @staticmethod
    def _fingerprint(prices: Iterable[Price], aliases: dict[str, list[Alias]]) -> str:
        digest = hashlib.sha256()
        for price in sorted(prices, key=lambda p: (p.model, p.currency, p.effective_from)):
            digest.update(repr(_price_key(price)).encode())
        for name in sorted(aliases):
            for alias in aliases[name]:
                digest.update(f"{alias.alias}>{alias.model}@{alias.effective_from}".encode())
        return "pv-" + digest.hexdigest()[:12]

    def models(self) -> set[str]:
        """Every concrete model with at least one price row."""
        return {model for model, _ in self._prices}

    def is_alias(self, name: str) -> bool:
        return name in self._aliases

    def resolve(self, model: str, at: datetime) -> str | None:
        """The concrete model `model` meant at `at`; None for an alias not yet in service."""
        history = self._aliases.get(model)
        if history is None:
            return model
        current = None
        for alias in history:
            if alias.effective_from <= at.date():
                current = alias.model
        return current

    def price_at(self, model: str, at: datetime, currency: str) -> Price | None:
        """The price row in effect at `at`, or None when the model has no price then."""
        found = None
        for price in self._prices.get((model, currency.upper()), []):
            if price.effective_from <= at.date():
                found = price
        return found

    def cost_columns(self, table: pa.Table, currency: str) -> tuple[pa.Array, pa.Array]:
        """Vectorised pricing of ledger rows: returns (priced_model, cost) arrays.

        The response's `resolved_model` wins when it is a priced model; otherwise the
        requested `model` is resolved through the alias history at the row's timestamp.
        Unpriced rows get a null cost, never 0.
        """
        ts = pc.cast(table["timestamp"], pa.int64()).to_numpy(zero_copy_only=False)
        priced = self._priced_models(table, ts)
        rates = np.full((len(ts), 3), np.nan)
        codes, names = _codes(pa.chunked_array([pa.array(priced, pa.string())]))
        for code, name in enumerate(names):
            rows = np.flatnonzero(codes == code)
            rates[rows] = self._rates(str(name), currency, ts[rows])
        return pa.array(priced, pa.string()), pa.array(_cost(table, rates), pa.float64(), from_pandas=True)

    def _priced_models(self, table: pa.Table, ts: np.ndarray) -> np.ndarray:
        out = np.empty(len(ts), dtype=object)
        assigned = np.zeros(len(ts), dtype=bool)
        known = self.models()
        resolved_codes, resolved_names = _codes(table["resolved_model"])
        for code, name in enumerate(resolved_names):
            if name in known:
                rows = resolved_codes == code
                out[rows], assigned[rows] = name, True
        requested_codes, requested_names = _codes(table["model"])
        for code, name in enumerate(requested_names):
            rows = np.flatnonzero((requested_codes == code) & ~assigned)
            if len(rows) and name is not None:
                out[rows] = self._resolve_many(name, ts[rows])
        return out

    def _resolve_many(self, name: str, ts: np.ndarray) -> np.ndarray:
        history = self._aliases.get(name)
        if history is None:
            return np.full(len(ts), name, dtype=object)
        starts = np.array([_day_us(a.effective_from) for a in history])
        targets = np.array([None, *[a.model for a in history]], dtype=object)
        return targets[np.searchsorted(starts, ts, side="right")]

    def _rates(self, model: str, currency: str, ts: np.ndarray) -> np.ndarray:
        rows = self._prices.get((model, currency.upper()), [])
        table = np.array(
            [[np.nan] * 3] + [[p.input_per_1m, p.cached_input_per_1m, p.output_per_1m] for p in rows]
        )
        starts = np.array([_day_us(p.effective_from) for p in rows], dtype=np.int64)
        return table[np.searchsorted(starts, ts, side="right")]


def _price_key(price: Price) -> tuple[object, ...]:
    return (
        price.model,
        price.currency,
        price.effective_from,
        price.input_per_1m,
        price.output_per_1m,
        price.cached_input_per_1m,
    )


def _codes(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str | None]]:
    """Dictionary codes (-1 for null) and the distinct values: loops run per value, not per row."""
    if len(column) == 0:
        return np.empty(0, dtype=np.int64), []
    encoded = pc.dictionary_encode(column).combine_chunks()
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    return codes, encoded.dictionary.to_pylist()


def _cost(table: pa.Table, rates: np.ndarray) -> np.ndarray:
    prompt = table["prompt_tokens"].to_numpy(zero_copy_only=False).astype(np.float64)
    cached = table["cached_tokens"].to_numpy(zero_copy_only=False).astype(np.float64)
    completion = table["completion_tokens"].to_numpy(zero_copy_only=False).astype(np.float64)
    cost = ((prompt - cached) * rates[:, 0] + cached * rates[:, 1] + completion * rates[:, 2]) / 1e6
    batch = pc.fill_null(table["batch"], False).to_numpy(zero_copy_only=False)
    return np.where(batch, cost * BATCH_DISCOUNT, cost)
