"""One money formatter, two styles: the page's tiles and the alert emails keep their own look."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from foundation.money import amount, email_money, money


@pytest.mark.parametrize(
    ("value", "currency", "shown"),
    [
        (1234.56, "USD", "$1,234.56"),
        (-12.1, "USD", "-$12.10"),
        (0.0042, "EUR", "€0.0042"),
        (12.5, "GBP", "GBP 12.50"),
        (None, "USD", "n/a"),
        (math.nan, "USD", "n/a"),
        (pd.NA, "USD", "n/a"),
    ],
)
def test_page_style(value: float | None, currency: str, shown: str) -> None:
    assert money(value, currency) == shown


@pytest.mark.parametrize(
    ("value", "shown"), [(500, "EUR 500"), (1234.5, "EUR 1,234.50"), (1e6, "EUR 1,000,000"), (-3.25, "EUR -3.25")]
)
def test_email_style_and_the_alerts_shorthand_agree(value: float, shown: str) -> None:
    assert money(value, "EUR", style="email") == shown
    assert email_money(value, "EUR") == shown


@pytest.mark.parametrize(
    ("value", "shown"), [(0.1234, "0.1234 EUR"), (1234.56789, "1,234.5679 EUR"), (-0.5, "-0.5000 EUR"), (None, "n/a")]
)
def test_unit_style_keeps_four_decimals_and_puts_the_code_after(value: float | None, shown: str) -> None:
    assert money(value, "EUR", style="unit") == shown


def test_a_bare_amount_for_a_table_whose_header_names_the_currency() -> None:
    assert [amount(1234.5), amount(0.004), amount(2, signed=True), amount(-2, signed=True)] == [
        "1,234.50",
        "0.00",
        "+2.00",
        "-2.00",
    ]
    assert [amount(0.12345, digits=4), amount(1500.4, digits=0)] == ["0.1235", "1,500"]


def test_the_email_style_in_cents_is_the_code_and_two_decimals() -> None:
    """`style="email", cents=True` reads `EUR 1,234.50` (and `EUR 500.00`); the Budgets page's tiles use
    the dashboard's tile style instead (tests/alerts/test_budgets_page.py)."""
    assert money(1234.5, "EUR", style="email", cents=True) == "EUR 1,234.50"
    assert money(500, "EUR", style="email", cents=True) == "EUR 500.00"
