"""A change against the previous period is shown only when the data covers that period."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from ledger.queries import EMPTY_SUMMARY

START = datetime(2026, 10, 1, tzinfo=UTC)
END = START + timedelta(days=30)


def test_covered_when_data_starts_near_the_period_start():
    assert replace(EMPTY_SUMMARY, first_at=START + timedelta(days=2)).covers(START, END)


def test_not_covered_when_the_ledger_began_mid_period_or_is_empty():
    assert not replace(EMPTY_SUMMARY, first_at=START + timedelta(days=4)).covers(START, END)
    assert not EMPTY_SUMMARY.covers(START, END)
