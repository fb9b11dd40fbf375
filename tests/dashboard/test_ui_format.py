"""Tile formatting: compact counts and money say the same number as the exact figure."""

from __future__ import annotations

import pytest

from foundation.money import money
from pages._ui import count


@pytest.mark.parametrize(
    ("value", "shown"),
    [(1234, "1,234"), (12_548, "12.5k"), (999_949, "999.9k"), (43_380_000, "43.38M"), (2_500_000_000, "2.50B")],
)
def test_count_is_compact_and_right(value: float, shown: str) -> None:
    assert count(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"), [(12.1, "$12.10"), (-12.1, "-$12.10"), (-0.005, "-$0.0050"), (0.0, "$0.00")]
)
def test_money_puts_the_sign_before_the_symbol(value: float, shown: str) -> None:
    assert money(value, "USD") == shown
