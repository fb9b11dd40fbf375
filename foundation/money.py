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
"""

from __future__ import annotations

import math
from typing import Literal

SYMBOLS = {"USD": "$", "EUR": "€"}
UNKNOWN = "n/a"

Style = Literal["page", "email"]


def symbol(currency: str) -> str:
    """`$` for USD, `€` for EUR, else the code and a space (`GBP `)."""
    return SYMBOLS.get(currency, currency + " ")


def money(value: float | None, currency: str, *, style: Style = "page") -> str:
    """`value` in `currency`: `page` → `$1,234.56`/`-$12.10`/`n/a`; `email` → `EUR 1,234.50`/`EUR 500`."""
    if value is None or _not_a_number(value):
        return UNKNOWN
    if style == "email":
        return _email(float(value), currency)
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


__all__ = ["SYMBOLS", "Style", "money", "symbol"]


def email_money(value: float | None, currency: str) -> str:
    """`money(value, currency, style="email")`, for the alert rules' many f-strings.

    Example:
        >>> email_money(640, "EUR")
        'EUR 640'
    """
    return money(value, currency, style="email")
