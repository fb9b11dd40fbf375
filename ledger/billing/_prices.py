"""Your own unit prices: the Admin API's `prices` list, stored per month, against the list-price table.

Why store it: the `prices` list of `GET /v1/admin/usage` is the organisation's actual price
sheet, negotiated discounts included, and it can change from one month to the next. Each
fetch of a month replaces `<data_dir>/billing/<source>/prices/<YYYY-MM>[.<workspace>].parquet`;
a payload without a usable list leaves the stored sheet as it was. With an s3 data_dir each sheet
is also put whole as its object beside the ledger, and readers copy every host's first (see
`_limits`: one writer per sheet, which replaces it whole, so a plain put). An entry whose price is
not a number is kept with its JSON in `raw` and a `problem`, never as 0.

Why the comparison is careful: the list's fields (event_type, billing_metric, billing_group,
api_zone, service_tier, price) are untyped in Mistral's spec. The model is the first of
`model`, `event_type`, `billing_group` that the price table knows (an alias is resolved at the
sheet's date); the token kind comes from `billing_metric` (else `event_type`): "cache" ->
cached input, "input"/"prompt" -> input, "output"/"completion_tokens" -> output. Prices are
per unit (per token, e.g. "0.00000015"), shown per 1M tokens like the list. Regional zones
(us, eu) list at 1.1x; a service tier other than standard has no list price.

Example:
    >>> entry = PriceEntry(event_type="mistral-small-2506", billing_metric="input", billing_group=None,
    ...                    api_zone=None, service_tier=None, model=None, price=0.00000008, price_text="0.00000008")
    >>> _ = write_price_sheet(Path("data"), "mistral_admin", "2026-05", None, [entry], "EUR")
    >>> round(compare_prices(Path("data"), "2026-05")[0].difference_pct, 6)
    -20.0
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from foundation.periods import local_midnight, next_period_start, parse_month
from ledger.pricing.prices import PriceBook, SheetPrice
from ledger.storage.schema import TS

from ._limits import billing_dir, billing_files, keep_beside, safe_name
from ._table import check_month, read_month_files, write_month_file

PRICES_DIR = "prices"
PER_MILLION = 1_000_000
REGIONAL_FACTOR = 1.1
REGIONAL_ZONES = ("us", "eu")
UNIT_WARNING = 100.0
"""A price this many times above or below the list price is more likely a unit mix-up than a deal."""
PRICE_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("month", pa.string(), nullable=False),
        pa.field("workspace", pa.string()),
        pa.field("event_type", pa.string()),
        pa.field("billing_metric", pa.string()),
        pa.field("billing_group", pa.string()),
        pa.field("api_zone", pa.string()),
        pa.field("service_tier", pa.string()),
        pa.field("model", pa.string()),
        pa.field("price", pa.float64()),
        pa.field("price_text", pa.string()),
        pa.field("currency", pa.string()),
        pa.field("fetched_at", TS, nullable=False),
        pa.field("raw", pa.string()),
        pa.field("problem", pa.string()),
    ]
)
KINDS = {"input": "input_per_1m", "cached_input": "cached_input_per_1m", "output": "output_per_1m"}


@dataclass(frozen=True, kw_only=True)
class PriceEntry:
    """One entry of the `prices` list as sent; `price` None (with `problem`) when it is not a number."""

    event_type: str | None
    billing_metric: str | None
    billing_group: str | None
    api_zone: str | None
    service_tier: str | None
    model: str | None
    price: float | None
    price_text: str | None
    raw: str | None = None
    problem: str | None = None


@dataclass(frozen=True, kw_only=True)
class PriceComparison:
    """Your price against the list price for one entry; per 1M tokens for token kinds, else per unit."""

    month: str
    source: str
    model: str | None
    kind: str | None
    api_zone: str | None
    service_tier: str | None
    currency: str | None
    list_price: float | None
    your_price: float | None
    difference: float | None
    difference_pct: float | None
    unit: str
    note: str | None
    event_type: str | None
    billing_metric: str | None


def _path(data_dir: Path, source: str, month: str, workspace: str | None) -> Path:
    suffix = f".{safe_name(workspace)}" if workspace else ""
    return billing_dir(data_dir, source) / PRICES_DIR / f"{check_month(month)}{suffix}.parquet"


def write_price_sheet(
    data_dir: Path,
    source: str,
    month: str,
    workspace: str | None,
    entries: Sequence[PriceEntry],
    currency: str | None,
    fetched_at: datetime | None = None,
) -> Path:
    """Replace the stored price sheet of (source, month, workspace) with `entries`, atomically
    (with an s3 data_dir, then its object beside the ledger)."""
    same = {
        "source": source,
        "month": month,
        "workspace": workspace,
        "currency": currency,
        "fetched_at": fetched_at or datetime.now(UTC),
    }
    return keep_beside(
        data_dir, write_month_file(_path(data_dir, source, month, workspace), PRICE_SCHEMA, entries, same)
    )


def read_price_sheet(data_dir: Path, months: Iterable[str] | None = None) -> pa.Table:
    """Every stored price entry (of `months` if given), all sources and workspaces (on S3 every host's)."""
    return read_month_files(billing_files(data_dir, f"*/{PRICES_DIR}/*.parquet"), PRICE_SCHEMA, months)


def price_months(data_dir: Path) -> list[str]:
    """Months with a stored price sheet, newest first (on S3 every host's)."""
    return sorted({p.name[:7] for p in billing_files(data_dir, f"*/{PRICES_DIR}/*.parquet")}, reverse=True)


def token_kind(*labels: str | None) -> str | None:
    """'input', 'cached_input' or 'output' from the first label that says so; None if none does."""
    for label in labels:
        text = (label or "").lower()
        if "cache" in text:
            return "cached_input"
        if "input" in text or "prompt" in text:
            return "input"
        if "output" in text or "completion_token" in text:
            return "output"
    return None


def _model(row: dict[str, Any], book: PriceBook, at: datetime) -> tuple[str | None, bool]:
    """(model, known): the first candidate the price table knows (alias resolved), else the first given."""
    candidates = [str(row[k]) for k in ("model", "event_type", "billing_group") if row.get(k)]
    for name in candidates:
        if name in book.models() or book.is_alias(name):
            return book.resolve(name, at), True
    return (candidates[0] if candidates else None), False


def _sheet_date(month: str, fetched_at: datetime) -> datetime:
    """The sheet's date for list prices: when it was fetched, within its month."""
    first = local_midnight(parse_month(month), UTC)
    last = next_period_start("month", first, UTC) - timedelta(microseconds=1)
    return min(max(fetched_at.astimezone(UTC), first), last)


def _list_price(
    book: PriceBook, model: str | None, kind: str | None, row: dict[str, Any], at: datetime
) -> tuple[float | None, str | None]:
    """The list price per 1M tokens for this entry, or None and why not."""
    tier, zone = (row.get("service_tier") or "standard").lower(), (row.get("api_zone") or "global").lower()
    if model is None or kind is None:
        return None, "not a token price: no list price to compare"
    if tier != "standard":
        return None, f"list prices are for the standard tier, not {tier!r}"
    listed = book.price_at(model, at, row.get("currency") or "")
    if listed is None:
        return None, f"no list price in {row.get('currency')} for this model on {at.date()}"
    factor = REGIONAL_FACTOR if zone in REGIONAL_ZONES else 1.0
    return float(getattr(listed, KINDS[kind])) * factor, None


def _compare(row: dict[str, Any], book: PriceBook) -> PriceComparison:
    at = _sheet_date(row["month"], row["fetched_at"])
    model, known = _model(row, book, at)
    kind = token_kind(row.get("billing_metric"), row.get("event_type"))
    mine = row.get("price")
    listed: float | None = None
    if row.get("problem"):
        note = row["problem"]
    elif not known:
        note = "the price table does not know this model"
    else:
        listed, note = _list_price(book, model, kind, row, at)
    per_million = kind is not None and known
    yours = None if mine is None else mine * PER_MILLION if per_million else mine
    diff = None if yours is None or listed is None else yours - listed
    pct = None if diff is None or not listed else 100.0 * diff / listed
    if pct is not None and listed and yours and not 1 / UNIT_WARNING <= yours / listed <= UNIT_WARNING:
        note = f"more than {UNIT_WARNING:.0f}x from the list price: check the unit (prices are read per token)"
    return PriceComparison(
        month=row["month"],
        source=row["source"],
        model=model,
        kind=kind,
        api_zone=row.get("api_zone"),
        service_tier=row.get("service_tier"),
        currency=row.get("currency"),
        list_price=listed,
        your_price=yours,
        difference=diff,
        difference_pct=pct,
        unit="per 1M tokens" if per_million else "per unit",
        note=note,
        event_type=row.get("event_type"),
        billing_metric=row.get("billing_metric"),
    )


def compare_prices(data_dir: Path, month: str, book: PriceBook | None = None) -> list[PriceComparison]:
    """Each stored entry of `month`'s price sheet against the list price, by model then kind."""
    book = book or PriceBook.load()
    rows = [_compare(row, book) for row in read_price_sheet(data_dir, [month]).to_pylist()]
    return sorted(rows, key=lambda r: (r.model or "", r.kind or "", r.api_zone or "", r.service_tier or ""))


@dataclass(frozen=True, kw_only=True)
class PriceCounts:
    """How many prices of a sheet are below or above the list price, and how many have none to compare with."""

    below: int
    above: int
    unknown: int


def price_counts(rows: Iterable[PriceComparison]) -> PriceCounts:
    """`rows` (a `compare_prices` answer) counted by the sign of their difference; no difference is unknown."""
    differences = [row.difference for row in rows]
    known = [d for d in differences if d is not None and not math.isnan(d)]
    below, above = sum(d < 0 for d in known), sum(d > 0 for d in known)
    return PriceCounts(below=below, above=above, unknown=len(differences) - len(known))


def _usable(row: PriceComparison) -> bool:
    """A token price of a known model, standard tier, no regional zone, in a plausible unit."""
    tier, zone = (row.service_tier or "standard").lower(), (row.api_zone or "global").lower()
    plausible = not (row.note or "").startswith(f"more than {UNIT_WARNING:.0f}x")
    return (
        row.unit == "per 1M tokens"
        and row.your_price is not None
        and row.model is not None
        and tier == "standard"
        and zone not in REGIONAL_ZONES
        and plausible
    )


def sheet_prices(data_dir: Path, currency: str, book: PriceBook | None = None) -> list[SheetPrice]:
    """The stored sheets as prices the ledger can use (`pricing = "billed"`), in `currency` only.

    Why so few entries qualify: the ledger applies the tier and zone multipliers itself, so
    only standard-tier, non-regional token prices of models the table knows are taken, and a
    price flagged "check the unit" is left out rather than multiplying costs by a million.
    When sheets disagree on a (month, model, kind), the organisation-wide sheet (no workspace)
    wins, then the first source by name. Example: `SheetPrice("mistral-large-2512", "EUR",
    "2026-05", "input", 0.4)`.
    """
    book = book or PriceBook.load()
    rows = read_price_sheet(data_dir).to_pylist()
    rows.sort(key=lambda r: (r["workspace"] is not None, r["source"], r["workspace"] or ""))
    chosen: dict[tuple[str, str, str], SheetPrice] = {}
    for row in rows:
        if (row["currency"] or "").upper() != currency.upper():
            continue
        compared = _compare(row, book)
        if _usable(compared) and compared.kind is not None and compared.model is not None:
            key = (row["month"], compared.model, compared.kind)
            chosen.setdefault(
                key,
                SheetPrice(
                    model=compared.model,
                    currency=currency.upper(),
                    month=row["month"],
                    kind=compared.kind,
                    per_1m=float(compared.your_price or 0.0),
                ),
            )
    return list(chosen.values())
