"""Reading the Mistral Admin API's three payloads, recognising what can be recognised.

Why so defensive: the API is an Enterprise preview ("endpoints and fields can change") and
the per-model entries of `GET /v1/admin/usage` are untyped in its schema. Every parser here
returns what it understood plus a list of problems; it never raises on a payload and never
makes a number up: a field it cannot read stays None.

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
from typing import Any

from ledger.billing import BilledRow

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


def _entries(payload: Any, metric: str | None, depth: int = 0) -> Iterator[tuple[str | None, Any]]:
    """Flatten a free-form per-model payload into (metric, entry) pairs."""
    if isinstance(payload, dict) and (depth >= MAX_DEPTH or any(number(payload.get(k)) is not None for k in NUMERIC)):
        yield metric, payload
    elif isinstance(payload, dict):
        for key, value in payload.items():
            yield from _entries(value, key if metric is None else f"{metric}.{key}", depth + 1)
    elif isinstance(payload, list):
        for item in payload:
            yield from _entries(item, metric, depth + 1)
    else:
        yield metric, payload


def _row(category: str, model: str, metric: str | None, entry: Any, currency: str | None) -> BilledRow | None:
    if not isinstance(entry, dict):
        quantity = number(entry)
        return None if quantity is None else BilledRow(category, model, metric, quantity, None, None, currency)
    quantity, unit_price, amount = (number(_first(entry, keys)) for keys in (QUANTITY, UNIT_PRICE, AMOUNT))
    if quantity is None and unit_price is None and amount is None:
        return None
    label = _first(entry, METRIC)
    cur = entry.get("currency") if isinstance(entry.get("currency"), str) else currency
    return BilledRow(category, model, str(label) if label is not None else metric, quantity, unit_price, amount, cur)


def _category(name: str, body: dict[str, Any], currency: str | None, problems: list[str]) -> Iterator[BilledRow]:
    for group, models in body.items():
        if not isinstance(models, dict):
            continue
        prefix = None if group == "models" else group
        for model, payload in models.items():
            for metric, entry in _entries(payload, prefix):
                row = _row(name, str(model), metric, entry, currency)
                if row is None:
                    problems.append(f"{name}/{model}: no number in {str(entry)[:80]!r}")
                else:
                    yield row


def parse_usage(body: Any) -> tuple[list[BilledRow], list[str]]:
    """Billed rows of one month's usage payload, and the problems met."""
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
    if not any(isinstance(v, dict) and "models" in v for v in body.values()):
        problems.append(f"usage: no category with 'models' (keys: {', '.join(sorted(body))[:120]})")
    return rows, problems


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
