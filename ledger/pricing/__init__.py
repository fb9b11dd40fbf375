"""What a row costs: dated list prices and `-latest` aliases (`prices`), the alias history alone
(`aliases`, stdlib only, for the gateway's request path), and the dated reference rates that
convert one currency into another (`fx`).

Names are imported lazily, so `import ledger.pricing.aliases` loads neither numpy nor pyarrow.

Example:
    >>> from ledger.pricing import PriceBook
    >>> PriceBook.load().version != ""
    True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .aliases import Alias, AliasHistory
    from .prices import Price, PriceBook

_HOMES = {"Alias": ".aliases", "AliasHistory": ".aliases", "Price": ".prices", "PriceBook": ".prices"}
__all__ = ["Alias", "AliasHistory", "Price", "PriceBook"]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name], __name__), name)
