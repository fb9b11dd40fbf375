"""The simulator's alias dates are the price book's: otherwise its `resolved_model` disagrees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ledger import PriceBook
from simulator import _catalog as cat


def test_each_simulated_alias_switch_is_a_switch_in_the_alias_history() -> None:
    book = PriceBook.load()
    for model in cat.MODELS:
        for since, target in model.aliases:
            at = datetime.fromisoformat(since).replace(tzinfo=UTC)
            assert book.resolve(model.name, at) == target, (model.name, since)
            assert book.resolve(model.name, at - timedelta(seconds=1)) != target, (model.name, since)
