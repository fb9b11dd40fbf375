"""Filters.days and the one default-grain rule every chart starts from."""

from __future__ import annotations

from datetime import date

import pytest

from ledger.queries import Filters


@pytest.mark.parametrize(
    ("first", "last", "days", "grain"),
    [
        (date(2026, 3, 29), date(2026, 3, 29), 1, "hour"),  # a DST day in Paris (23 h) is still one day
        (date(2026, 11, 1), date(2026, 11, 2), 2, "hour"),
        (date(2026, 11, 1), date(2026, 11, 3), 3, "day"),
        (date(2026, 11, 1), date(2026, 11, 30), 30, "day"),
    ],
)
def test_days_and_default_grain(first: date, last: date, days: int, grain: str) -> None:
    window = Filters(start=first, end=last, timezone="Europe/Paris")
    assert (window.days, window.default_grain) == (days, grain)
