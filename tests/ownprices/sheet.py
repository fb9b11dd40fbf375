"""Shared pieces: list prices read from ledger/pricing/prices.csv with the csv module (never through the
code under test), a sheet with a negotiated discount on one model, ledger rows priced at list."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

from collector._records import parse_records
from ledger import Appender, PriceBook, price_rows, read_ledger
from ledger.storage.store import day_files
from tests.paths import REPO

PRICES_CSV = REPO / "ledger" / "pricing" / "prices.csv"
DISCOUNTED = "mistral-large-2512"
OTHER = "mistral-small-2603"
PROMPT, CACHED, COMPLETION = 1_000_000, 200_000, 500_000


def list_price(model: str, column: str, currency: str = "EUR") -> float:
    """The newest list-price row of a model's tokens, straight from the CSV."""
    with PRICES_CSV.open(newline="") as f:
        rows = [
            r
            for r in csv.DictReader(f)
            if r["model"] == model and r["currency"] == currency and (r.get("unit") or "1M_tokens") == "1M_tokens"
        ]
    return float(max(rows, key=lambda r: r["effective_from"])[column])


def per_token(per_million: float) -> str:
    return f"{per_million / 1e6:.12f}"


def entry(model: str, metric: str, price: str, zone: str = "global", tier: str = "standard") -> dict[str, str]:
    return {
        "event_type": model,
        "billing_metric": metric,
        "billing_group": "completion",
        "api_zone": zone,
        "service_tier": tier,
        "price": price,
    }


def sheet(discount: float, currency: str = "EUR") -> list[dict[str, str]]:
    """The discounted model's three token prices (input at `discount` x list), a regional and a
    priority entry the ledger must not take as the base price, and the other model at list."""
    large = {k: list_price(DISCOUNTED, k, currency) for k in ("input_per_1m", "cached_input_per_1m", "output_per_1m")}
    return [
        entry(DISCOUNTED, "input_tokens", per_token(large["input_per_1m"] * discount)),
        entry(DISCOUNTED, "cached_input_tokens", per_token(large["cached_input_per_1m"] * discount)),
        entry(DISCOUNTED, "output_tokens", per_token(large["output_per_1m"])),
        entry(DISCOUNTED, "input_tokens", per_token(large["input_per_1m"] * 5), zone="eu"),
        entry(DISCOUNTED, "output_tokens", per_token(large["output_per_1m"] * 3), tier="priority"),
        entry(OTHER, "input_tokens", per_token(list_price(OTHER, "input_per_1m", currency))),
    ]


def usage(month: str, prices: object, currency: str = "EUR") -> dict[str, Any]:
    models = {DISCOUNTED: {"input": [{"billing_metric": "input_tokens", "value": 1000, "amount": "0.1"}]}}
    return {"completion": {"models": models}, "currency": currency, "prices": prices, "date": f"{month}-01T00:00:00Z"}


def sheet_cost(prices: list[dict[str, str]]) -> float:
    """A record's cost at the sheet's standard prices: tokens x your per-token price."""
    base = [e for e in prices if e["api_zone"] == "global" and e["service_tier"] == "standard"]
    mine = {e["billing_metric"]: float(e["price"]) for e in base if e["event_type"] == DISCOUNTED}
    return (
        (PROMPT - CACHED) * mine["input_tokens"]
        + CACHED * mine["cached_input_tokens"]
        + (COMPLETION * mine["output_tokens"])
    )


def list_cost(model: str, currency: str = "EUR") -> float:
    p = {k: list_price(model, k, currency) for k in ("input_per_1m", "cached_input_per_1m", "output_per_1m")}
    return (
        (PROMPT - CACHED) * p["input_per_1m"] + CACHED * p["cached_input_per_1m"] + COMPLETION * p["output_per_1m"]
    ) / 1e6


def records(days: list[date], models: tuple[str, ...] = (DISCOUNTED, OTHER)) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{model}|{day}",
            "timestamp": f"{day}T12:00:00Z",
            "model": model,
            "status_code": 200,
            "prompt_tokens": PROMPT,
            "cached_tokens": CACHED,
            "completion_tokens": COMPLETION,
        }
        for day in days
        for model in models
    ]


def write_at_list(data: Path, days: list[date], currency: str = "EUR") -> None:
    """One file per day, priced with the shipped list prices."""
    for day in days:
        table, rejected = parse_records(records([day]))
        assert not rejected
        Appender(data).append(price_rows(table, "gw", PriceBook.load(), currency))


def costs(data: Path) -> dict[str, float | None]:
    return {r["id"]: r["cost"] for r in read_ledger(data).to_pylist()}


def files_of(data: Path, days: list[date]) -> dict[date, list[tuple[str, int]]]:
    return {d: [(f.name, f.stat().st_mtime_ns) for f in day_files(data, d)] for d in days}
