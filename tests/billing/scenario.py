"""One month (2026-05, EUR) of bills and measured traffic, with every reconciliation status.

Why hand-written figures: every expected total below is added up here, from the same
numbers the fake Admin API serves and the ledger holds, never taken from the code under test.

Measured (ledger, EUR): small 1.50, large 3.00, codestral 1.50, magistral 0.80, ministral 0.40.
Billed, first fetch (09:00, all readable): small 1.75, large 3.20, codestral 1.40, magistral 0.75,
OCR 0.12 (never seen). Second fetch (10:00, partly readable): small 1.80, large 3.20, OCR 0.12;
codestral's input is money in micros inside a nested object, magistral's entry has a new shape.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.support.alerts import rows

MONTH = "2026-05"
MEASURED = {
    "mistral-small-2603": [1.00, 0.50],
    "mistral-large-2512": [3.00],
    "codestral-2508": [1.50],
    "magistral-medium-2509": [0.80],
    "ministral-8b-2512": [0.40],
}
MICROS = {"charge": {"value_micros": 1_204_401, "currency": "EUR"}}
NEW_SHAPE = [{"meter": "input_tokens", "lines": [{"sku": "in-std", "eur": "0.70"}]}]


def line(metric: str, value: int, amount: str) -> list[dict[str, Any]]:
    return [{"billing_metric": metric, "value": value, "unit_price": "0.000001", "amount": amount}]


READABLE: dict[str, Any] = {
    "completion": {
        "models": {
            "mistral-small-2603": {
                "input": line("input_tokens", 900_000, "0.90"),
                "output": line("output_tokens", 850_000, "0.85"),
            },
            "mistral-large-2512": {"tokens": {"quantity": "1000000", "price": "0.0000032"}},
            "codestral-2508": {
                "input": line("input_tokens", 1_100_000, "1.10"),
                "output": line("output_tokens", 300_000, "0.30"),
            },
            "magistral-medium-2509": {"input": line("input_tokens", 750_000, "0.75")},
        }
    },
    "ocr": {"models": {"mistral-ocr-2505": {"pages": [{"value": 120, "amount": "0.12"}]}}},
    "fine_tuning": {"training": {}, "storage": {}},
    "date": "2026-05-01T00:00:00Z",
    "currency": "EUR",
    "currency_symbol": "€",
    "prices": [],
}


def partly_readable() -> dict[str, Any]:
    body = copy.deepcopy(READABLE)
    models = body["completion"]["models"]
    models["mistral-small-2603"]["input"] = line("input_tokens", 950_000, "0.95")
    models["codestral-2508"]["input"] = MICROS
    models["magistral-medium-2509"] = {"input": NEW_SHAPE}
    return body


PARTLY_READABLE = partly_readable()
BILLED_READABLE_PART = {"mistral-small-2603": 0.95 + 0.85, "mistral-large-2512": 3.20, "mistral-ocr-2505": 0.12}
COMPARABLE_MEASURED = sum(MEASURED["mistral-small-2603"]) + 3.00 + 0.40  # small, large, ministral (OCR: 0)
COMPARABLE_BILLED = sum(BILLED_READABLE_PART.values())  # ministral billed nothing
UNREADABLE = ["codestral-2508", "magistral-medium-2509"]


def write_measured(data_dir: Path) -> None:
    """The ledger side: per-request rows with their cost in EUR, all in May."""
    records = [
        {"timestamp": datetime(2026, 5, 3 + i, 9, tzinfo=UTC), "model": model, "cost": cost}
        for model, costs in MEASURED.items()
        for i, cost in enumerate(costs)
    ]
    rows(data_dir, records)
