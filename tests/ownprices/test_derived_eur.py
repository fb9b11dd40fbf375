"""EUR prices the docs do not publish, derived from USD at the dated rate, only on opt-in, marked.

The rate table (ledger/pricing/fx.py) is another helper's; here a test double stands in for it through
the `rate(day, from, to)` interface."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from collector._records import parse_records
from foundation.config import Config, FxConfig
from ledger import PriceBook, price_rows
from ledger.pricing.aliases import read_aliases
from ledger.pricing.book import build_book
from ledger.pricing.prices import derive_prices, read_prices

from .sheet import list_price

NO_EUR = "mistral-medium-2508"  # USD 0.4 / 2.0 in the docs, no priceEur
RATES = {date(2026, 4, 1): 0.9, date(2026, 5, 1): 0.85}  # no rate for March


def rate(day: date, base: str, target: str) -> float | None:
    assert (base, target) == ("USD", "EUR")
    return RATES.get(day)


def cost(book, model: str, when: str) -> float | None:
    table, _ = parse_records(
        [
            {
                "id": "a",
                "timestamp": when,
                "model": model,
                "status_code": 200,
                "prompt_tokens": 1_000_000,
                "completion_tokens": 1_000_000,
            }
        ]
    )
    return price_rows(table, "gw", book, "EUR")["cost"][0].as_py()


def usd(model: str) -> float:
    return list_price(model, "input_per_1m", "USD") + list_price(model, "output_per_1m", "USD")


def test_without_the_opt_in_a_model_without_eur_price_stays_unpriced(tmp_path):
    book = build_book(Config(data_dir=tmp_path, currency="EUR"), rate=rate)
    assert cost(book, NO_EUR, "2026-05-20T10:00:00Z") is None
    assert book.price_at(NO_EUR, datetime(2026, 5, 20, tzinfo=UTC), "EUR") is None


def test_opt_in_derives_at_the_rate_of_the_month_and_marks_the_row(tmp_path):
    book = build_book(Config(data_dir=tmp_path, currency="EUR", derive_eur_from_usd=True), rate=rate)
    assert cost(book, NO_EUR, "2026-05-20T10:00:00Z") == pytest.approx(usd(NO_EUR) * 0.85)
    assert cost(book, NO_EUR, "2026-04-30T23:59:59Z") == pytest.approx(usd(NO_EUR) * 0.9)
    assert cost(book, NO_EUR, "2026-03-15T10:00:00Z") is None  # no rate that month: unpriced, not April's
    row = book.price_at(NO_EUR, datetime(2026, 5, 20, tzinfo=UTC), "EUR")
    assert row is not None and row.source == "derived from USD at 0.85 on 2026-05-01"
    eur = list_price("mistral-large-2512", "input_per_1m") + list_price("mistral-large-2512", "output_per_1m")
    assert cost(book, "mistral-large-2512", "2026-05-20T10:00:00Z") == pytest.approx(eur)  # published EUR kept
    assert book.version != build_book(Config(data_dir=tmp_path, currency="EUR"), rate=rate).version


def test_opt_in_reads_the_dated_rate_table_and_a_month_without_a_rate_stays_unpriced(tmp_path):
    overrides = ((date(2026, 5, 1), "USD", 1.25),)  # 1 EUR = 1.25 USD, so 1 USD = 0.8 EUR, on May 1 only
    config = Config(data_dir=tmp_path, currency="EUR", derive_eur_from_usd=True, fx=FxConfig(overrides=overrides))
    book = build_book(config)
    assert cost(book, NO_EUR, "2026-05-20T10:00:00Z") == pytest.approx(usd(NO_EUR) * 0.8)
    assert cost(book, NO_EUR, "2026-06-20T10:00:00Z") is None  # June 1 has no rate within 7 days: unpriced


def test_a_launch_price_and_the_list_price_after_it_are_derived_apart():
    """mistral-large-4-0 publishes USD only: launch 0.68 / 2.09 from 2026-10-06, list 1.36 / 4.18 from 2026-10-20."""
    rates = {date(2026, 10, 6): 0.9, date(2026, 10, 20): 0.8, date(2026, 11, 1): 0.85}
    prices = read_prices()
    book = PriceBook(
        [*prices, *derive_prices(prices, lambda day, *_: rates.get(day), date(2026, 11, 30))], read_aliases()
    )
    assert cost(book, "mistral-large-4", "2026-10-10T12:00:00Z") == pytest.approx((0.68 + 2.09) * 0.9)
    assert cost(book, "mistral-large-4", "2026-10-25T12:00:00Z") == pytest.approx((1.36 + 4.18) * 0.8)
    assert cost(book, "mistral-large-4", "2026-11-05T12:00:00Z") == pytest.approx((1.36 + 4.18) * 0.85)
    assert cost(book, "zai-glm-5-3", "2026-11-05T12:00:00Z") == pytest.approx(1.19 + 3.74)  # published EUR kept


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('pricing = "bill"', "pricing: 'bill' is not known; use 'list' (published prices) or 'billed' (your sheet)"),
        ("pricing = 1", 'pricing: expected a string, got 1; write e.g. pricing = "list"'),
        (
            'derive_eur_from_usd = "yes"',
            'derive_eur_from_usd: expected bool (true or false), got "yes"; write e.g. derive_eur_from_usd = false',
        ),
    ],
)
def test_bad_pricing_keys_exit_2_with_one_line(tmp_path: Path, capsys, line: str, message: str):
    from collector.__main__ import main

    cfg = tmp_path / "c.toml"
    cfg.write_text(f'data_dir = "{tmp_path}"\n{line}\n')
    assert main(["--config", str(cfg), "reprice"]) == 2
    assert capsys.readouterr().err == f"config error: {message}\n"
