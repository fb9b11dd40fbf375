"""Tile formatting: compact counts and money say the same number as the exact figure."""

from __future__ import annotations

import pytest

from foundation.money import money
from pages._ui import count, tile_count, tile_money


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1234, "1,234"),
        (12_548, "12.5k"),
        (999_949, "999.9k"),
        (999_950, "1.0M"),
        (43_380_000, "43.4M"),
        (674_512_345, "674.5M"),
        (2_500_000_000, "2.5B"),
    ],
)
def test_count_is_compact_and_right(value: float, shown: str) -> None:
    assert count(value) == shown and len(shown) <= 6


@pytest.mark.parametrize(
    ("value", "shown", "exact"),
    [
        (9_999.99, "$9,999.99", "$9,999.99"),
        (12_345.678, "$12.3k", "$12,345.68"),
        (-1_234_567.0, "-$1.2M", "-$1,234,567.00"),
        (None, "n/a", None),
    ],
)
def test_a_money_tile_is_compact_with_the_exact_figure_as_tooltip(value, shown, exact) -> None:
    assert tile_money(value, "USD") == (shown, exact)


def test_a_count_tile_keeps_the_exact_figure_as_tooltip() -> None:
    assert tile_count(674_512_345) == ("674.5M", "674,512,345")


@pytest.mark.parametrize(
    ("value", "shown"), [(12.1, "$12.10"), (-12.1, "-$12.10"), (-0.005, "-$0.0050"), (0.0, "$0.00")]
)
def test_money_puts_the_sign_before_the_symbol(value: float, shown: str) -> None:
    assert money(value, "USD") == shown


def test_a_name_as_code_is_shown_verbatim_whatever_backticks_it_holds() -> None:
    from pages._text import code

    hostile = "![x](http://beacon.invalid/p.png) ``a` <b>"
    assert code(hostile) == f"``` {hostile} ```"  # a fence longer than any run inside: one span, no markup
    assert code("x" * 100).startswith("` " + "x" * 40 + "…#") and "\n" not in code("a\nb")
