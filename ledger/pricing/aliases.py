"""The `-latest` alias history (aliases.csv): which concrete model an alias meant on a date.

Why a module of its own, stdlib only: the gateway matches a model limit on what an alias
means on the request's date, on its request path, without loading numpy or pyarrow (which
`prices` needs to price a table). `PriceBook` resolves through the same `AliasHistory`.

Example:
    >>> history = AliasHistory(read_aliases())
    >>> day = date(2026, 3, 1)
    >>> history.resolve("mistral-large-latest", day), history.resolve("mistral-large-2411", day)
    ('mistral-large-2512', 'mistral-large-2411')
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ALIASES_CSV = Path(__file__).parent / "aliases.csv"


@dataclass(frozen=True, kw_only=True)
class Alias:
    """`alias` pointed to `model` from `effective_from` until the next row for the alias."""

    alias: str
    model: str
    effective_from: date
    source: str = ""


def read_aliases(path: Path = ALIASES_CSV) -> list[Alias]:
    """Read the alias-history CSV (alias, model, effective_from, source)."""
    with path.open(newline="") as f:
        return [
            Alias(
                alias=row["alias"],
                model=row["model"],
                effective_from=date.fromisoformat(row["effective_from"]),
                source=row["source"],
            )
            for row in csv.DictReader(f)
        ]


class AliasHistory:
    """Each alias's rows, oldest first, for point-in-time lookups."""

    def __init__(self, aliases: Iterable[Alias]) -> None:
        self.by_alias: dict[str, list[Alias]] = {}
        for alias in sorted(aliases, key=lambda a: a.effective_from):
            self.by_alias.setdefault(alias.alias, []).append(alias)

    def __contains__(self, name: object) -> bool:
        return name in self.by_alias

    def resolve(self, model: str, day: date) -> str | None:
        """The concrete model `model` meant on `day` (itself when no alias); None for an alias not yet in service."""
        history = self.by_alias.get(model)
        if history is None:
            return model
        current = None
        for alias in history:
            if alias.effective_from <= day:
                current = alias.model
        return current
