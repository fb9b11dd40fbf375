"""What every job shares: config, the price book, the ledger appender, state and a stop flag."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from foundation.config import Config
from ledger import Appender, PriceBook
from ledger.pricing.book import build_book

from ._reprice import reprice
from ._state import CursorStore, Quarantine, StatusBoard


@dataclass(kw_only=True)
class Context:
    """Built once per process; jobs read it, never replace its parts (but `book`, swapped whole by
    `refresh_book` below when a new price sheet changes what `pricing = "billed"` charges)."""

    config: Config
    book: PriceBook
    appender: Appender
    cursors: CursorStore
    status: StatusBoard
    quarantine: Quarantine
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def data_dir(self) -> Path:
        return self.config.data_dir

    @classmethod
    def build(cls, config: Config) -> Context:
        data_dir = config.data_dir
        return cls(
            config=config,
            book=build_book(config),
            appender=Appender(data_dir),
            cursors=CursorStore(data_dir),
            status=StatusBoard(data_dir),
            quarantine=Quarantine(data_dir),
        )


def refresh_book(context: Context) -> dict[str, int] | None:
    """After a price sheet was stored: with `pricing = "billed"`, the running collector's book
    is rebuilt and, when its version moved, the ledger re-priced (only days whose costs move).

    A page priced with the old book in the same instant may still be appended after its day
    was re-priced; it keeps the old `price_version`, so `python -m collector reprice` fixes it.
    """
    if context.config.pricing != "billed":
        return None
    book = build_book(context.config)
    if book.version == context.book.version:
        return None
    context.book = book
    return reprice(context.data_dir, book, context.config.currency)
