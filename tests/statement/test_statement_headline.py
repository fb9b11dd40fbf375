"""The statement's headline figures and its month list, against a handful of rows added up by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ledger.queries.statement import statement, statement_months
from tests.support.alerts import rows

TZ = "Europe/Paris"


def _ledger(tmp_path) -> None:
    rows(
        tmp_path,
        [
            {"timestamp": datetime(2026, 9, 1, 10, tzinfo=UTC), "cost": 0.0, "project": "other"},  # all September
            {"timestamp": datetime(2026, 9, 10, 10, tzinfo=UTC), "cost": 4.0},
            {"timestamp": datetime(2026, 10, 5, 10, tzinfo=UTC), "cost": 3.0},
            {"timestamp": datetime(2026, 10, 6, 10, tzinfo=UTC), "cost": 2.0, "project": "support"},
            {"timestamp": datetime(2026, 10, 7, 10, tzinfo=UTC), "cost": 0.5, "status_code": 500},
        ],
    )


@pytest.mark.slow
def test_the_headline_adds_up_every_scope_and_has_no_percentage_without_spend_before(tmp_path) -> None:
    _ledger(tmp_path)
    top = statement(tmp_path, "2026-10", TZ, "EUR").headline
    assert (top.spend, top.previous_spend, top.requests, top.errors) == (5.5, 4.0, 3, 1)
    assert top.change == "+37.5%"  # (5.5 - 4) / 4
    support = statement(tmp_path, "2026-10", TZ, "EUR").only("support").headline
    assert (support.spend, support.previous_spend, support.requests, support.change) == (2.0, 0.0, 1, None)
    empty = statement(tmp_path, "2025-01", TZ, "EUR").headline
    assert (empty.spend, empty.requests, empty.errors, empty.change) == (0.0, 0, 0, None)


def test_the_months_are_the_ledgers_newest_first_with_this_one(tmp_path) -> None:
    _ledger(tmp_path)
    assert statement_months(tmp_path, "2026-12") == ["2026-12", "2026-10", "2026-09"]
    assert statement_months(tmp_path, "2026-10") == ["2026-10", "2026-09"]
