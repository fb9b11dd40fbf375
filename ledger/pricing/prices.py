"""Dated prices and alias history: what a request cost at the moment it was made.

Mistral publishes current prices only, and `-latest` aliases move between models. Pricing a
past request with today's table makes last month's figures drift, so every price row has an
`effective_from` date, every alias row says since when it pointed where, and each priced row
records the `price_version` it was priced with (so `python -m collector reprice` knows what
is stale). Mistral bills more than tokens, so each row has a unit (tokens, OCR pages, audio
minutes, TTS characters) and a record is the sum of its units, then the tier and zone
multipliers (docs/prices.md, "How a record is priced").

Example:
    >>> book = PriceBook.load()
    >>> book.resolve("mistral-small-latest", datetime(2026, 3, 1, tzinfo=UTC))
    'mistral-small-2506'
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from foundation.periods import next_first_day

from .aliases import Alias, AliasHistory, read_aliases

HERE = Path(__file__).parent
PRICES_CSV = HERE / "prices.csv"
CACHED_INPUT_SHARE = 0.1
BATCH_DISCOUNT = 0.5
PRIORITY_FACTOR = 1.75
ZONE_FACTOR = {"eu": 1.1, "us": 1.1}
"""Multipliers (docs/prices.md, "Multipliers", cites each): the cache discount is in the base
price, then the tier (batch 0.5 or priority 1.75), then the regional endpoint (x1.1)."""

TOKENS = "1M_tokens"
PAGES = "1K_pages"
ANNOTATED_PAGES = "1K_annotated_pages"
AUDIO_MINUTES = "audio_minute"
TRANSCRIBED_MINUTES = "transcription_minute"
CHARACTERS = "1M_characters"
UNITS = (TOKENS, PAGES, ANNOTATED_PAGES, AUDIO_MINUTES, TRANSCRIBED_MINUTES, CHARACTERS)
"""What a row of prices.csv prices (its `unit` column; empty = 1M_tokens)."""
TRANSCRIPTIONS = "/audio/transcriptions"


@dataclass(frozen=True, kw_only=True)
class Price:
    """One model's list price in one currency, from a date on.

    A `1M_tokens` row prices input, cached input and output per 1M tokens; any other unit
    has one `unit_price` (per 1,000 pages, per audio minute, per 1M characters).
    """

    model: str
    effective_from: date
    currency: str
    input_per_1m: float
    output_per_1m: float
    cached_input_per_1m: float
    source: str = ""
    unit: str = TOKENS
    unit_price: float = 0.0


@dataclass(frozen=True, kw_only=True)
class SheetPrice:
    """Your own price of one model's token kind for one calendar month (UTC), per 1M tokens.

    From the Admin API's price sheet (`ledger.billing._prices.sheet_prices`); it replaces the
    list price of that kind for that month only, so a month without a sheet keeps list prices.
    """

    model: str
    currency: str
    month: str
    kind: str
    per_1m: float


RateFn = Callable[[date, str, str], float | None]
"""A dated exchange rate: `rate(day, "USD", "EUR")` is how many EUR one USD bought that day, or None."""


def _day_us(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1_000_000)


def _number(text: str | None) -> float:
    return float(text) if text else 0.0


def read_prices(path: Path = PRICES_CSV) -> list[Price]:
    """Read a price CSV (see ledger/pricing/prices.csv for the columns; `unit` empty = 1M_tokens)."""
    with path.open(newline="") as f:
        prices = [
            Price(
                model=row["model"],
                effective_from=date.fromisoformat(row["effective_from"]),
                currency=row["currency"].upper(),
                input_per_1m=_number(row["input_per_1m"]),
                output_per_1m=_number(row["output_per_1m"]),
                cached_input_per_1m=_number(row["cached_input_per_1m"]),
                source=row.get("source", ""),
                unit=row.get("unit") or TOKENS,
                unit_price=_number(row.get("unit_price")),
            )
            for row in csv.DictReader(f)
        ]
    for price in prices:
        if price.unit not in UNITS:
            raise ValueError(f"{path.name}: {price.model} has unit {price.unit!r}; use one of {', '.join(UNITS)}")
    return prices


class PriceBook:
    """All price and alias rows, indexed for point-in-time lookups.

    Rows given later win over earlier rows with the same (model, currency, unit,
    effective_from), which is how config overrides replace the shipped table.
    """

    def __init__(self, prices: Iterable[Price], aliases: Iterable[Alias], sheet: Iterable[SheetPrice] = ()) -> None:
        by_key: dict[tuple[str, str, str, date], Price] = {}
        for price in prices:
            by_key[(price.model, price.currency, price.unit, price.effective_from)] = price
        self._prices: dict[tuple[str, str, str], list[Price]] = {}
        for key in sorted(by_key, key=lambda k: k[3]):
            price = by_key[key]
            self._prices.setdefault((price.model, price.currency, price.unit), []).append(price)
        self.aliases = AliasHistory(aliases)
        self._aliases = self.aliases.by_alias
        self.sheet = tuple(sorted(set(sheet), key=lambda p: (p.model, p.currency, p.month, p.kind, p.per_1m)))
        self._sheet: dict[tuple[str, str], list[tuple[int, int, int, float]]] = {}
        for entry in self.sheet:
            start, end = _month_us(entry.month)
            self._sheet.setdefault((entry.model, entry.currency.upper()), []).append(
                (start, end, _RATE_COLUMNS.index(_SHEET_KINDS[entry.kind]), entry.per_1m)
            )
        self.version = self._fingerprint(by_key.values(), self._aliases, self.sheet)
        self._models = frozenset({model for model, _, _ in self._prices} | {model for model, _ in self._sheet})

    @classmethod
    def load(cls, overrides: Sequence[Price] = ()) -> PriceBook:
        """The shipped table plus config overrides."""
        return cls([*read_prices(), *overrides], read_aliases())

    @staticmethod
    def _fingerprint(prices: Iterable[Price], aliases: dict[str, list[Alias]], sheet: Sequence[SheetPrice]) -> str:
        digest = hashlib.sha256(repr((BATCH_DISCOUNT, PRIORITY_FACTOR, sorted(ZONE_FACTOR.items()))).encode())
        for price in sorted(prices, key=lambda p: (p.model, p.currency, p.unit, p.effective_from)):
            digest.update(repr(_price_key(price)).encode())
        for name in sorted(aliases):
            for alias in aliases[name]:
                digest.update(f"{alias.alias}>{alias.model}@{alias.effective_from}".encode())
        for entry in sheet:  # none in list pricing, so its version stays what it was
            digest.update(repr(("sheet", entry.model, entry.currency, entry.month, entry.kind, entry.per_1m)).encode())
        return "pv-" + digest.hexdigest()[:12]

    def models(self) -> frozenset[str]:
        """Every concrete model with at least one price row, in any unit."""
        return self._models

    def is_alias(self, name: str) -> bool:
        return name in self._aliases

    def resolve(self, model: str, at: datetime) -> str | None:
        """The concrete model `model` meant at `at`; None for an alias not yet in service."""
        return self.aliases.resolve(model, at.date())

    def price_at(self, model: str, at: datetime, currency: str, unit: str = TOKENS) -> Price | None:
        """The price row in effect at `at`, or None when the model has no price then."""
        found = None
        for price in self._prices.get((model, currency.upper(), unit), []):
            if price.effective_from <= at.date():
                found = price
        return found

    def token_prices(self, model: str, at: datetime, currency: str) -> tuple[float, float] | None:
        """(input, output) per 1M tokens of a concrete model at `at`, as `cost_columns` prices them
        (a stored price sheet's month included); None when either is unknown."""
        ts = np.array([int(at.timestamp() * 1_000_000)], dtype=np.int64)
        rates = self._rates(model, currency, ts)[0]
        found = rates[_RATE_COLUMNS.index("input")], rates[_RATE_COLUMNS.index("output")]
        return None if np.isnan(found[0]) or np.isnan(found[1]) else (float(found[0]), float(found[1]))

    def cost_columns(self, table: pa.Table, currency: str) -> tuple[pa.Array, pa.Array]:
        """Vectorised pricing of ledger rows: returns (priced_model, cost) arrays.

        The response's `resolved_model` wins when it is a priced model; otherwise the
        requested `model` is resolved through the alias history at the row's timestamp.
        Unpriced rows get a null cost, never 0; rows with `billable` false cost 0.0.
        """
        ts = pc.cast(table["timestamp"], pa.int64()).to_numpy(zero_copy_only=False)
        priced = self._priced_models(table, ts)
        rates = np.full((len(ts), len(_RATE_COLUMNS)), np.nan)
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
        """Per row, the rates of `_RATE_COLUMNS` in effect (NaN where the model has none)."""
        out = np.full((len(ts), len(_RATE_COLUMNS)), np.nan)
        for unit in UNITS:
            rows = self._prices.get((model, currency.upper(), unit), [])
            if not rows:
                continue
            values = [
                [p.input_per_1m, p.cached_input_per_1m, p.output_per_1m] if unit == TOKENS else [p.unit_price]
                for p in rows
            ]
            table = np.array([[np.nan] * len(values[0]), *values])
            starts = np.array([_day_us(p.effective_from) for p in rows], dtype=np.int64)
            first = _RATE_COLUMNS.index("input" if unit == TOKENS else unit)
            out[:, first : first + table.shape[1]] = table[np.searchsorted(starts, ts, side="right")]
        for start, end, column, value in self._sheet.get((model, currency.upper()), []):
            out[(ts >= start) & (ts < end), column] = value
        return out


_RATE_COLUMNS = ("input", "cached", "output", *UNITS[1:])
_SHEET_KINDS = {"input": "input", "cached_input": "cached", "output": "output"}


def _month_us(month: str) -> tuple[int, int]:
    """[first instant, first instant of the next month) of a YYYY-MM month, in epoch microseconds."""
    first = date(int(month[:4]), int(month[5:7]), 1)
    return _day_us(first), _day_us(next_first_day("month", first))


def derive_prices(
    prices: Sequence[Price], rate: RateFn, until: date, base: str = "USD", target: str = "EUR"
) -> list[Price]:
    """`target` rows derived from `base` rows for each (model, unit) with no `target` row at all.

    Why monthly: a converted price moves with the rate, so a derived row starts on each base
    row's date and on every 1st of a month after it (up to `until`), each at that day's rate,
    and its `source` says so ("derived from USD at 0.92 on 2026-05-01"). A day without a rate
    gets a row of NaN (unpriced), never the previous month's price. Used only when the config
    opts in (`derive_eur_from_usd`).
    """
    listed = {(p.model, p.unit) for p in prices if p.currency == target}
    rows: dict[tuple[str, str], list[Price]] = {}
    for price in sorted(prices, key=lambda p: p.effective_from):
        if price.currency == base and (price.model, price.unit) not in listed:
            rows.setdefault((price.model, price.unit), []).append(price)
    out = []
    for history in rows.values():
        ends = [p.effective_from for p in history[1:]] + [next_first_day("month", until)]
        for price, end in zip(history, ends, strict=True):
            days = _month_starts(price.effective_from, end)
            out += [_converted(price, day, rate(day, base, target), base, target) for day in days]
    return out


def _month_starts(start: date, end: date) -> list[date]:
    """`start`, then each 1st of a month before `end`."""
    days, day = [start], next_first_day("month", start)
    while day < end:
        days.append(day)
        day = next_first_day("month", day)
    return days if start < end else []


def _converted(price: Price, day: date, factor: float | None, base: str, target: str) -> Price:
    if factor is None or not factor > 0:
        nan = float("nan")
        return Price(
            model=price.model,
            effective_from=day,
            currency=target,
            input_per_1m=nan,
            output_per_1m=nan,
            cached_input_per_1m=nan,
            source=f"no {base}->{target} rate on {day}: unpriced",
            unit=price.unit,
            unit_price=nan,
        )
    return Price(
        model=price.model,
        effective_from=day,
        currency=target,
        input_per_1m=price.input_per_1m * factor,
        output_per_1m=price.output_per_1m * factor,
        cached_input_per_1m=price.cached_input_per_1m * factor,
        source=f"derived from {base} at {factor:g} on {day}",
        unit=price.unit,
        unit_price=price.unit_price * factor,
    )


def _price_key(price: Price) -> tuple[object, ...]:
    key: tuple[object, ...] = (
        price.model,
        price.currency,
        price.effective_from,
        price.input_per_1m,
        price.output_per_1m,
        price.cached_input_per_1m,
    )
    return key if price.unit == TOKENS else (*key, price.unit, price.unit_price)


def _codes(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str | None]]:
    """Dictionary codes (-1 for null) and the distinct values: loops run per value, not per row."""
    if len(column) == 0:
        return np.empty(0, dtype=np.int64), []
    encoded = pc.dictionary_encode(column).combine_chunks()
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    return codes, encoded.dictionary.to_pylist()


def _numbers(table: pa.Table, name: str) -> np.ndarray:
    """A quantity column as float64, null (or absent, in an old table) as 0."""
    if name not in table.column_names:
        return np.zeros(table.num_rows)
    column = table[name]
    if column.null_count == len(column):
        return np.zeros(table.num_rows)
    values: np.ndarray = pc.fill_null(column, 0).to_numpy(zero_copy_only=False).astype(np.float64)
    return values


def _flags(table: pa.Table, name: str, default: bool) -> np.ndarray:
    if name not in table.column_names:
        return np.full(table.num_rows, default)
    flags: np.ndarray = pc.fill_null(table[name], default).to_numpy(zero_copy_only=False)
    return flags


def _transcriptions(table: pa.Table) -> np.ndarray:
    """Rows sent to /v1/audio/transcriptions: their audio is priced per transcription minute."""
    if "endpoint" not in table.column_names:
        return np.zeros(table.num_rows, dtype=bool)
    endpoint = table["endpoint"].cast(pa.string())
    found: np.ndarray = pc.fill_null(pc.match_substring(endpoint, TRANSCRIPTIONS), False).to_numpy(zero_copy_only=False)
    return found


def _part(quantity: np.ndarray, rate: np.ndarray, per: float) -> np.ndarray:
    """quantity x rate / per; 0 where there is nothing to bill, NaN where it has no price."""
    return np.where(quantity > 0, quantity * rate / per, 0.0)


def _base(table: pa.Table, rates: np.ndarray) -> np.ndarray:
    """List cost before tier and zone: tokens (cached at their own rate), pages, audio, characters.

    A row is unpriced (NaN) when its model has no price in any unit that day, or when it
    carries a billed quantity (pages, audio, characters) its model has no price for. Tokens
    of a model priced only per page or minute (OCR), and of any transcription, are not billed.
    """
    col = {name: rates[:, i] for i, name in enumerate(_RATE_COLUMNS)}
    prompt, cached, completion = (_numbers(table, n) for n in ("prompt_tokens", "cached_tokens", "completion_tokens"))
    tokens = ((prompt - cached) * col["input"] + cached * col["cached"] + completion * col["output"]) / 1e6
    transcribed = _transcriptions(table)
    cost = np.where(np.isnan(col["input"]) | transcribed, 0.0, tokens)
    pages, annotated = _numbers(table, "pages"), _numbers(table, "annotated_pages")
    cost += _part(pages - annotated, col[PAGES], 1000) + _part(annotated, col[ANNOTATED_PAGES], 1000)
    seconds = _numbers(table, "audio_seconds")
    if seconds.any():
        minute = np.where(transcribed, col[TRANSCRIBED_MINUTES], col[AUDIO_MINUTES])
        cost += _part(seconds, minute, 60)
    cost += _part(_numbers(table, "characters"), col[CHARACTERS], 1e6)
    return np.where(np.isnan(rates).all(axis=1), np.nan, cost)


def _cost(table: pa.Table, rates: np.ndarray) -> np.ndarray:
    """Base cost, then the tier (batch 50%, else priority x1.75), then the zone (x1.1)."""
    cost = _base(table, rates)
    batch = _flags(table, "batch", False)
    if "service_tier" in table.column_names:
        priority = pc.fill_null(pc.equal(table["service_tier"], "priority"), False).to_numpy(zero_copy_only=False)
        cost = np.where(~batch & priority, cost * PRIORITY_FACTOR, cost)
    cost = np.where(batch, cost * BATCH_DISCOUNT, cost)
    if "api_zone" in table.column_names and table["api_zone"].null_count < table.num_rows:
        zone = table["api_zone"].to_numpy(zero_copy_only=False)
        for name, factor in ZONE_FACTOR.items():
            cost = np.where(zone == name, cost * factor, cost)
    return np.where(_flags(table, "billable", True), cost, 0.0)
