"""An edited budgets file is picked up once it holds still: a file written in place is empty for an
instant, and a reload that read that instant would drop every limit, then refuse the broken rest."""

from __future__ import annotations

import math
from pathlib import Path

from foundation.limit_rules import load_book
from gateway._limiter import Limiter, LimitSettings
from gateway._metrics import Metrics

ONE = '[[limits]]\nname = "one"\nproject = "p"\nrequests_per_minute = 1\n'
TWO = ONE + '\n[[limits]]\nname = "two"\nproject = "q"\nrequests_per_minute = 5\n'
BROKEN = '[[limits]]\nname = "broken\\u0007"\nrequests_per_minute = 1\n'


def limiter(tmp_path: Path) -> tuple[Limiter, Path]:
    budgets = tmp_path / "budgets.toml"
    budgets.write_text(ONE)
    book = load_book(budgets)
    settings = LimitSettings(state_path=tmp_path / "state.sqlite3")
    return Limiter(limits=book.limits, settings=settings, metrics=Metrics(), source=budgets), budgets


def look(limiter: Limiter) -> list[str]:
    """One of the reloader's looks at the file (they come every 2 s); the limits then in force."""
    limiter.last_reload = -math.inf
    limiter._maybe_reload()
    return [limit.name for limit in limiter.limits]


def test_an_instant_of_an_empty_file_then_a_broken_one_keeps_the_limits(tmp_path: Path) -> None:
    gate, budgets = limiter(tmp_path)
    budgets.write_text("")  # the instant between the truncation and the write
    assert look(gate) == ["one"]
    budgets.write_text(BROKEN)
    assert look(gate) == ["one"]
    assert look(gate) == ["one"]  # read now, refused: the limits stay


def test_an_edit_that_holds_still_is_enforced_at_the_next_look(tmp_path: Path) -> None:
    gate, budgets = limiter(tmp_path)
    budgets.write_text(TWO)
    assert look(gate) == ["one"]
    assert look(gate) == ["one", "two"]
    budgets.write_text("")  # every limit removed, on purpose, holds still: honoured
    assert look(gate) == ["one", "two"]
    assert look(gate) == []
