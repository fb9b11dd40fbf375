"""The one money formatter: the dashboard's tiles and the alert emails write amounts through it.

Why two styles and one function: a tile shows the symbol and keeps sub-cent test traffic
visible (`$0.0050`), an email shows the ISO code and drops `.00` on whole amounts
(`EUR 500`); both used to be written twice with opposite argument orders.

Example:
    >>> money(1234.5, "USD")
    '$1,234.50'
    >>> money(-0.005, "USD")
    '-$0.0050'
    >>> money(500, "EUR", style="email")
    'EUR 500'
    >>> money(1234.5, "EUR", style="email")
    'EUR 1,234.50'
    >>> money(500, "EUR", style="email", cents=True), money(0.004, "USD", cents=True)
    ('EUR 500.00', '$0.00')
    >>> money(1234.56789, "EUR", style="unit")
    '1,234.5679 EUR'
"""

from __future__ import annotations

import math
from typing import Literal

SYMBOLS = {"USD": "$", "EUR": "€"}
UNKNOWN = "n/a"
COLUMN_FORMAT = "%.2f"
"""A table's money column (Streamlit's printf format; its header names the currency): 2 decimals."""
UNIT_COLUMN_FORMAT = "%.4f"
"""A table's unit-price column (per 1M tokens; its header names the currency): 4 decimals."""

Style = Literal["page", "email", "unit"]


def symbol(currency: str) -> str:
    """`$` for USD, `€` for EUR, else the code and a space (`GBP `)."""
    return SYMBOLS.get(currency, currency + " ")


def money(value: float | None, currency: str, *, style: Style = "page", cents: bool = False) -> str:
    """`value` in `currency`: `page` → `$1,234.56`/`-$12.10`/`n/a`; `email` → `EUR 1,234.50`/`EUR 500`;
    `unit` → `0.1234 EUR` (4 decimals, the code after: unit costs and small sums kept exact).

    `cents=True` is the statement's finance form: always exactly 2 decimals (`$0.00`, `EUR 500.00`),
    never a sub-cent `$0.0050`, and never `-$0.00`.
    """
    if value is None or _not_a_number(value):
        return UNKNOWN
    if cents:
        rounded = round(float(value), 2) + 0.0  # + 0.0: no negative zero
        sign, text = ("-" if rounded < 0 else ""), f"{abs(rounded):,.2f}"
        return f"{currency} {sign}{text}" if style == "email" else f"{sign}{symbol(currency)}{text}"
    if style == "email":
        return _email(float(value), currency)
    if style == "unit":
        return f"{amount(value, digits=4)} {currency}"
    sign, size = ("-" if value < 0 else ""), abs(value)
    digits = 4 if 0 < size < 0.01 else 2
    return f"{sign}{symbol(currency)}{size:,.{digits}f}"


def _not_a_number(value: float) -> bool:
    """NaN, or a missing-value marker that is no number at all (pandas' NA)."""
    try:
        return math.isnan(value)
    except TypeError:
        return True


def _email(value: float, currency: str) -> str:
    return f"{currency} {value:,.0f}" if value.is_integer() else f"{currency} {value:,.2f}"


__all__ = [
    "COLUMN_FORMAT",
    "SYMBOLS",
    "UNIT_COLUMN_FORMAT",
    "Style",
    "amount",
    "email_money",
    "money",
    "percent_change",
    "signed_percent",
    "symbol",
]


def email_money(value: float | None, currency: str) -> str:
    """`money(value, currency, style="email")`, for the alert rules' many f-strings.

    Example:
        >>> email_money(640, "EUR")
        'EUR 640'
    """
    return money(value, currency, style="email")


def amount(value: float, *, digits: int = 2, signed: bool = False) -> str:
    """A bare amount, for a table whose header or caption names the currency: `1,234.50`, `+0.1234`.

    Example:
        >>> amount(1234.5), amount(-3, signed=True), amount(0.12345, digits=4, signed=True), amount(500, digits=0)
        ('1,234.50', '-3.00', '+0.1235', '500')
    """
    return f"{float(value):{'+' if signed else ''},.{digits}f}"


def signed_percent(pct: float, digits: int = 1) -> str:
    """A change already in percent, signed: `+12.5%`, `-3%`."""
    return f"{pct:+.{digits}f}%"


def percent_change(now: float | None, before: float | None, digits: int = 1) -> str | None:
    """The change from `before` to `now` as `+12.5%`; None when there is no positive base to compare with.

    The one "% change vs before" text: the Overview's tiles, the statement (page and email) and the
    digest email write it through here.

    Example:
        >>> percent_change(150, 120), percent_change(5, 0), percent_change(90, 120, digits=0)
        ('+25.0%', None, '-25%')
    """
    if now is None or before is None or not before > 0:
        return None
    return signed_percent(100.0 * (now - before) / before, digits)
