"""The alerts engine counts a budget in its config's currency: rows in another currency are converted."""

from __future__ import annotations

from datetime import date

from tests.support.alerts import SEARCH_MONTHLY, bodies, budgets_toml, make_engine, paris, rows, smtp_port, smtp_server

from .conftest import write_rates

__all__ = ["make_engine", "smtp_port", "smtp_server"]

BUDGET = SEARCH_MONTHLY


def test_a_budget_in_eur_counts_dollar_rows_at_their_days_rate(tmp_path, smtp_server, make_engine):
    data = tmp_path / "data"
    budgets_toml(data / "budgets.toml", BUDGET)
    rows(
        data,
        [
            {"timestamp": paris("2026-11-02T10:00"), "cost": 300.0, "currency": "EUR"},
            {"timestamp": paris("2026-11-10T10:00"), "cost": 132.0, "currency": "USD", "model": "gpt-4o"},
        ],
    )
    write_rates(data, {date(2026, 11, 10): 1.2})  # 132 USD = 110 EUR: 410 of 500 (82%), not 432 (86%)
    make_engine(smtp_server.port).run(paris("2026-11-20T12:00"))
    [message] = smtp_server.messages
    text, _ = bodies(message)
    assert "Spent so far: EUR 410 (82%)" in text, text
