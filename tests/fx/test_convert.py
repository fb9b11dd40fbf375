"""Dashboard figures over a ledger with USD and EUR rows: converted per day, never summed unconverted."""

from __future__ import annotations

from datetime import date

import pytest

from ledger.queries import (
    Filters,
    breakdown,
    conversion,
    spend_over_time,
    spend_summary,
    top_contributors,
    unit_costs,
    update_rollups,
)
from tests.support.alerts import rows

from .conftest import MIXED, USD_PER_EUR, at, expected_usd, rate_on, write_rates

OCTOBER = Filters(start=date(2026, 10, 1), end=date(2026, 10, 31), timezone="UTC")


@pytest.mark.slow
def test_totals_equal_the_independent_conversion(mixed):
    want, missing = expected_usd(MIXED)
    assert missing == 0
    summary = spend_summary(mixed, OCTOBER)
    assert summary.spend == pytest.approx(want, rel=1e-12)
    assert (summary.unpriced_requests, summary.unconverted_requests) == (1, 0)
    daily = spend_over_time(mixed, OCTOBER, dim=None, grain="day")
    by_day = {b.date(): s for b, s in zip(daily["bucket"], daily["spend"], strict=True)}
    for day in (1, 2, 3, 5):
        wanted, _ = expected_usd([r for r in MIXED if r["timestamp"].day == day])
        assert by_day[date(2026, 10, day)] == pytest.approx(wanted, rel=1e-12)
    projects = top_contributors(mixed, OCTOBER, "project", 10).set_index("project")["spend"]
    for name in ("search", "chat"):
        assert projects[name] == pytest.approx(expected_usd([r for r in MIXED if r["project"] == name])[0])
    models = breakdown(mixed, OCTOBER, ["model"], "spend").set_index("model")["spend"]
    assert models["gpt-4o"] == pytest.approx(2.0 + 4.0 + 5.0)
    assert unit_costs(mixed, OCTOBER).set_index("model")["spend"]["gpt-4o"] == pytest.approx(11.0)


def test_a_saturday_uses_fridays_rate_and_the_caption_names_rate_and_date(mixed):
    saturday = Filters(start=date(2026, 10, 3), end=date(2026, 10, 3), timezone="UTC")
    assert spend_summary(mixed, saturday).spend == pytest.approx(1.25 * USD_PER_EUR[date(2026, 10, 2)])
    (used,) = conversion(mixed, OCTOBER)
    assert (used.currency, used.target) == ("EUR", "USD")
    assert used.rate == pytest.approx(USD_PER_EUR[date(2026, 10, 20)]) and used.rate_date == date(2026, 10, 20)
    assert used.low == pytest.approx(rate_on(date(2026, 10, 1))) and used.missing_days == ()


def test_a_missing_rate_is_shown_as_missing_not_as_one(mixed):
    late = [
        {"timestamp": at(12, 12, month=11), "cost": 8.0, "currency": "EUR", "project": "search"},
        {"timestamp": at(12, 13, month=11), "cost": 1.0, "currency": "USD", "project": "search"},
    ]
    rows(mixed, late)
    november = Filters(start=date(2026, 11, 1), end=date(2026, 11, 30), timezone="UTC")
    summary = spend_summary(mixed, november)
    assert summary.spend == pytest.approx(1.0)  # not 9.0: the EUR row has no rate, and is not taken at 1.0
    assert (summary.unconverted_requests, summary.unpriced_requests) == (1, 0)
    (used,) = conversion(mixed, november)
    assert used.missing_days == (date(2026, 11, 12),) and used.missing_requests == 1
    assert used.missing_cost == pytest.approx(8.0) and used.rate is None


def test_no_rate_file_at_all_converts_nothing(usd_config):
    rows(usd_config, MIXED)
    summary = spend_summary(usd_config, OCTOBER)
    assert summary.spend == pytest.approx(2.0 + 4.0 + 5.0)
    assert summary.unconverted_requests == sum(1 for r in MIXED if r["currency"] == "EUR" and r["cost"] is not None)


@pytest.mark.slow
def test_rollups_and_raw_give_identical_converted_figures(mixed, monkeypatch):
    week = Filters(start=date(2026, 10, 1), end=date(2026, 10, 7), timezone="Europe/Paris")
    calls = {
        "summary": lambda: spend_summary(mixed, OCTOBER).spend,
        "daily": lambda: spend_over_time(mixed, week, "project", "day")["spend"].round(9).tolist(),
        "hourly": lambda: spend_over_time(mixed, OCTOBER, None, "hour")["spend"].round(9).tolist(),
        "top": lambda: top_contributors(mixed, OCTOBER, "project")["spend"].round(9).tolist(),
        "rates": lambda: conversion(mixed, OCTOBER),
    }
    monkeypatch.setenv("LEDGER_ROLLUPS", "0")
    raw = {name: call() for name, call in calls.items()}
    monkeypatch.setenv("LEDGER_ROLLUPS", "1")
    assert update_rollups(mixed)
    rolled = {name: call() for name, call in calls.items()}
    assert rolled["summary"] == pytest.approx(raw["summary"], rel=1e-12)
    assert {k: v for k, v in rolled.items() if k != "summary"} == {k: v for k, v in raw.items() if k != "summary"}


def test_euro_display_converts_the_dollar_rows(usd_config, monkeypatch):
    config = usd_config.parent / "eur.toml"
    config.write_text(f'data_dir = "{usd_config}"\ncurrency = "EUR"\n')
    monkeypatch.setenv("MONITOR_CONFIG", str(config))
    rows(usd_config, MIXED)
    write_rates(usd_config, USD_PER_EUR)
    want = sum(
        r["cost"] if r["currency"] == "EUR" else r["cost"] / rate_on(r["timestamp"].date())
        for r in MIXED
        if r["cost"] is not None
    )
    assert spend_summary(usd_config, OCTOBER).spend == pytest.approx(want, rel=1e-12)
