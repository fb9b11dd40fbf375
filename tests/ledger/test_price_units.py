"""The price table's unit column: old files still load, a bad unit is one clear error."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ledger.pricing.prices import PRICES_CSV, TOKENS, UNITS, PriceBook, read_prices

OLD_HEADER = "model,effective_from,currency,input_per_1m,output_per_1m,cached_input_per_1m,status,source\n"


def test_a_price_file_without_the_unit_columns_reads_as_token_prices(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(OLD_HEADER + "m-1,2026-01-01,USD,2,6,0.2,GA,x @ y\n")
    (price,) = read_prices(path)
    assert (price.unit, price.input_per_1m, price.output_per_1m, price.cached_input_per_1m) == (TOKENS, 2, 6, 0.2)
    book = PriceBook([price], [])
    assert book.price_at("m-1", datetime(2026, 2, 1, tzinfo=UTC), "USD") == price


def test_an_unknown_unit_names_the_model_and_the_units(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(OLD_HEADER.strip() + ",unit,unit_price\nm-1,2026-01-01,USD,,,,GA,x @ y,per_page,1\n")
    with pytest.raises(ValueError, match="m-1 has unit 'per_page'; use one of 1M_tokens, 1K_pages"):
        read_prices(path)


def test_every_shipped_row_has_a_unit_and_the_prices_its_unit_needs() -> None:
    with PRICES_CSV.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        assert row["unit"] in UNITS, row
        if row["unit"] == TOKENS:
            assert row["input_per_1m"] and not row["unit_price"], row
        else:
            assert row["unit_price"] and not row["input_per_1m"] and not row["output_per_1m"], row
    units = {row["unit"] for row in rows}
    assert units == set(UNITS)  # every unit has at least one price
