"""What a row costs: dated list prices and `-latest` aliases (`prices`), and the dated
reference rates that convert one currency into another (`fx`).

Example:
    >>> from ledger.pricing import PriceBook
    >>> PriceBook.load().version != ""
    True
"""

from .prices import Alias, Price, PriceBook

__all__ = ["Alias", "Price", "PriceBook"]
