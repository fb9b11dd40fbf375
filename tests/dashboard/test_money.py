"""One money formatter, two styles: the page's tiles and the alert emails keep their own look."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from foundation.money import email_money, money


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
