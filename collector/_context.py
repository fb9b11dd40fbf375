"""What every job shares: config, the price book, the ledger appender, state and a stop flag."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from ledger import Appender, PriceBook

from ._reprice import build_book
from ._state import CursorStore, Quarantine, StatusBoard
from .config import Config


@dataclass
class Context:
    """Built once per process; jobs read it, never replace its parts (but `book`, swapped whole by
    `refresh_book` when a new price sheet changes what `pricing = "billed"` charges)."""

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
