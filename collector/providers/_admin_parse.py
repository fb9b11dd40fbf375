"""Reading the Mistral Admin API's three payloads, recognising what can be recognised.

Why so defensive: the API is an Enterprise preview ("endpoints and fields can change") and
the per-model entries of `GET /v1/admin/usage` are untyped in its schema. Every parser here
returns what it understood plus a list of problems; it never raises on a payload and never
makes a number up: a field it cannot read stays None. Each value under a model's key is one
entry, read when it is a number on its own or holds objects with a known field (quantity,
unit price, amount); any other entry becomes one line with no numbers, the entry's JSON in
`raw` and a `problem` naming where its numbers are (e.g. `input.charge.value_micros`).

Shapes (from Mistral's public docs, 2026):
    usage:       {"completion": {"models": {"<model>": {"<metric>": [{...}]}}}, "ocr": {...},
                  "libraries_api": {"pages": {...}}, "fine_tuning": {"training": {...}},
                  "currency": "EUR", "start_date": ..., "prices": [...], ...}
    spend-limit: {"limits": {"completion": {"no_monthly_limit": false, "monthly_limit_reached": false,
                  "usage": 412.5, "total_usage": 412.5, "usage_limit": 500}}, "currency": "EUR"}
    rate-limit:  {"requests_per_second": 6, "tokens_limits_by_model":
                  {"mistral-small-2603": {"tokens_per_minute": 2000000, "tokens_per_month": 10000000000}}}

Example:
    >>> rows, problems = parse_usage({"currency": "EUR", "ocr": {"models": {"mistral-ocr-2505":
    ...     {"pages": [{"value": 120, "amount": "0.12"}]}}}})
    >>> rows[0].quantity, rows[0].amount, problems
    (120.0, 0.12, [])
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from ledger.billing import BilledRow, PriceEntry

QUANTITY = ("quantity", "value", "usage", "count", "tokens", "units", "volume")
UNIT_PRICE = ("unit_price", "price", "price_per_unit", "rate")
AMOUNT = ("amount", "cost", "total", "total_amount", "billed_amount", "price_total")
METRIC = ("billing_metric", "metric", "event_type", "usage_type", "type")
NUMERIC = QUANTITY + UNIT_PRICE + AMOUNT
MAX_DEPTH = 4


def number(value: Any) -> float | None:
    """A JSON number or a decimal string as float; anything else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _first(entry: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((entry[k] for k in keys if k in entry and entry[k] is not None), None)


def _recognised(value: Any) -> bool:
    """An object carrying a quantity, unit price or amount under a known name."""
    return isinstance(value, dict) and any(number(value.get(k)) is not None for k in NUMERIC)


@dataclass
class _Walk:
    """What one entry holds: readable (metric, object or number) pairs, and numbers found elsewhere."""

    found: list[tuple[str | None, Any]] = field(default_factory=list)
    stray: list[str] = field(default_factory=list)


def _walk(node: Any, path: str, metric: str | None, top: bool, depth: int, out: _Walk) -> None:
    """Collect an entry's readable parts; a number is readable only on its own under a metric
    name (`{"input_tokens": 1000}`) or inside a recognised object, so `input.charge.value_micros`
    is never taken for a quantity."""
    if depth > MAX_DEPTH:
        out.stray.append(path)
    elif _recognised(node):
        out.found.append((metric, node))
    elif isinstance(node, dict):
        for key, value in node.items():
            _walk(
                value,
                f"{path}.{key}" if path else str(key),
                f"{metric}.{key}" if metric else str(key),
                False,
                depth + 1,
                out,
            )
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _walk(item, f"{path}[{i}]", metric, top, depth + 1, out)
    elif not isinstance(node, bool) and number(node) is not None and top:
        out.found.append((metric, node))
    elif not isinstance(node, bool) and number(node) is not None:
        out.stray.append(path)


def _line(category: str, model: str, metric: str | None, entry: Any, currency: str | None) -> BilledRow:
    if not isinstance(entry, dict):
        bare = BilledRow(category=category, model=model, metric=metric, quantity=number(entry), currency=currency)
        return _priceless(bare, entry)
    quantity, unit_price, amount = (number(_first(entry, keys)) for keys in (QUANTITY, UNIT_PRICE, AMOUNT))
    label = _first(entry, METRIC)
    cur = entry.get("currency") if isinstance(entry.get("currency"), str) else currency
    row = BilledRow(
        category=category,
        model=model,
        metric=str(label) if label is not None else metric,
        quantity=quantity,
        unit_price=unit_price,
        amount=amount,
        currency=cur,
    )
    return _priceless(row, entry)


def _priceless(row: BilledRow, entry: Any) -> BilledRow:
    """A quantity with neither amount nor unit price: kept, with its entry, as a line without money."""
    if row.amount is not None or (row.quantity is not None and row.unit_price is not None):
        return row
    return replace(row, raw=_json(entry), problem="a quantity without amount or unit price")


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _entry(
    category: str, model: str, metric: str | None, entry: Any, currency: str | None, problems: list[str]
) -> list[BilledRow]:
    """The lines of one entry, or one unreadable line holding it raw (and a problem naming why)."""
    walk = _Walk()
    _walk(entry, metric or "", metric, True, 0, walk)
    empty = entry is None or isinstance(entry, str | bool) or (isinstance(entry, dict | list) and not entry)
    if not walk.stray and (walk.found or empty):
        return [_line(category, model, m, e, currency) for m, e in walk.found]
    where = f"numbers at {', '.join(walk.stray[:3])}" if walk.stray else "no number in it"
    known = "/".join(("quantity", "value", "unit_price", "amount", "cost"))
    problem = f"{category}/{model} entry {metric or '(whole)'!r}: no {known} field ({where}); kept raw, not counted"
    problems.append(problem)
    row = BilledRow(category=category, model=model, metric=metric, currency=currency, raw=_json(entry), problem=problem)
    return [row]


def _model(
    category: str, model: str, payload: Any, prefix: str | None, currency: str | None, problems: list[str]
) -> list[BilledRow]:
    """One model's lines: each key of its object is an entry (or the payload is one)."""
    entries: list[tuple[str | None, Any]]
    if isinstance(payload, dict) and not _recognised(payload):
        entries = [(str(k) if prefix is None else f"{prefix}.{k}", v) for k, v in payload.items()]
    else:
        entries = [(prefix, payload)]
    return [row for metric, value in entries for row in _entry(category, model, metric, value, currency, problems)]


def _category(name: str, body: dict[str, Any], currency: str | None, problems: list[str]) -> Iterator[BilledRow]:
    for group, models in body.items():
        if not isinstance(models, dict):
            continue
        prefix = None if group == "models" else group
        for model, payload in models.items():
            yield from _model(name, str(model), payload, prefix, currency, problems)


def recognised(body: Any) -> bool:
    """Whether a usage payload has the documented frame (a category with 'models')."""
    return isinstance(body, dict) and any(isinstance(v, dict) and "models" in v for v in body.values())


def parse_usage(body: Any) -> tuple[list[BilledRow], list[str]]:
    """Billed lines of one month's usage payload (unreadable entries kept raw), and the problems met."""
    if not isinstance(body, dict):
        return [], [f"usage: expected a JSON object, got {type(body).__name__}"]
    currency = body.get("currency") if isinstance(body.get("currency"), str) else None
    problems: list[str] = []
    rows = [
        row
        for name, value in body.items()
        if isinstance(value, dict) and name != "prices"
        for row in _category(name, value, currency, problems)
    ]
    if not recognised(body):
        problems.append(f"usage: no category with 'models' (keys: {', '.join(sorted(body))[:120]})")
    return rows, problems


PRICE_FIELDS = ("event_type", "billing_metric", "billing_group", "api_zone", "service_tier")


def _text(value: Any) -> str | None:
    return None if value is None or isinstance(value, dict | list) else str(value)


def _price_entry(entry: Any, index: int) -> PriceEntry:
    """One entry of the `prices` list; a price that is not a number is kept raw with a problem."""
    if not isinstance(entry, dict):
        return PriceEntry(
            event_type=None,
            billing_metric=None,
            billing_group=None,
            api_zone=None,
            service_tier=None,
            model=None,
            price=None,
            price_text=None,
            raw=_json(entry),
            problem=f"prices[{index}]: not an object; kept raw, not compared",
        )
    labels = {name: _text(entry.get(name)) for name in PRICE_FIELDS}
    price, text = number(entry.get("price")), _text(entry.get("price"))
    base = PriceEntry(**labels, model=_text(entry.get("model")), price=price, price_text=text)
    if price is None:
        problem = f"prices[{index}]: price {entry.get('price')!r} is not a number; kept raw, not compared"
        return replace(base, raw=_json(entry), problem=problem)
    return base


def parse_prices(body: Any) -> tuple[list[PriceEntry] | None, list[str]]:
    """The usage payload's `prices` list (the organisation's own unit prices), and the problems met.

    None when there is no usable list (absent, empty or not a list): the stored sheet is then
    left as it was, so one odd payload never erases it.
    """
    prices = body.get("prices") if isinstance(body, dict) else None
    if prices is None or prices == []:
        return None, []
    if not isinstance(prices, list):
        return None, [f"prices: expected a list, got {type(prices).__name__}"]
    entries = [_price_entry(entry, i) for i, entry in enumerate(prices)]
    return entries, [e.problem for e in entries if e.problem]


def parse_spend_limit(body: Any) -> tuple[dict[str, Any] | None, list[str]]:
    """The spend-limit reading: used and limit (summed over categories), reached, currency."""
    limits = body.get("limits") if isinstance(body, dict) else None
    if not isinstance(limits, dict):
        return None, ["spend-limit: expected an object with a 'limits' object"]
    categories = {name: value for name, value in limits.items() if isinstance(value, dict)}
    if not categories:
        return None, ["spend-limit: 'limits' has no category object"]
    used = [number(_first(c, ("total_usage", "usage"))) for c in categories.values()]
    capped = [c for c in categories.values() if c.get("no_monthly_limit") is not True]
    caps = [number(c.get("usage_limit")) for c in capped]
    reading = {
        "used": None if None in used else sum(u for u in used if u is not None),
        "limit": None if not caps or None in caps else sum(c for c in caps if c is not None),
        "no_limit": not capped,
        "reached": any(c.get("monthly_limit_reached") is True for c in categories.values()),
        "currency": limits.get("currency", body.get("currency")),
        "last_payment_failure": limits.get("last_payment_failure"),
        "categories": categories,
    }
    return reading, []


def parse_rate_limit(body: Any) -> tuple[dict[str, Any] | None, list[str]]:
    """The rate-limit reading: requests per second and per-model token limits."""
    models = body.get("tokens_limits_by_model") if isinstance(body, dict) else None
    if not isinstance(models, dict):
        return None, ["rate-limit: expected an object with a 'tokens_limits_by_model' object"]
    clean = {
        str(model): {key: number(limits.get(key)) for key in ("tokens_per_minute", "tokens_per_month")}
        for model, limits in models.items()
        if isinstance(limits, dict)
    }
    return {"requests_per_second": number(body.get("requests_per_second")), "models": clean}, []
