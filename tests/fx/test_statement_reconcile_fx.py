"""The monthly statement and the reconciliation convert with the rate table, or say a rate is missing."""

from __future__ import annotations

from datetime import date

import pytest

from ledger.billing import BilledRow, comparable_totals, reconcile, unreadable_lines, write_billed
from ledger.queries.statement import statement, statement_frame
from tests.support.alerts import rows

from .conftest import MIXED, USD_PER_EUR, at, expected_usd, rate_on, write_rates


@pytest.mark.slow
def test_statement_converts_each_day_and_shows_the_months_rate(mixed):
    stmt = statement(mixed, "2026-10", "UTC", "USD")
    totals = stmt.totals.set_index("project")
    for name in ("search", "chat"):
        want, _ = expected_usd([r for r in MIXED if r["project"] == name])
        assert totals.loc[name, "spend"] == pytest.approx(want, rel=1e-12)
        assert totals.loc[name, "currency"] == "USD"
    assert len(stmt.totals) == 2  # one line per project: never a USD line beside a EUR line
    last = USD_PER_EUR[date(2026, 10, 20)]
    assert stmt.rate == pytest.approx(last)
    assert f"{last:.4f} on 2026-10-20" in stmt.rate_note and "EUR to USD" in stmt.rate_note
    assert set(statement_frame(stmt)["rate"]) == {stmt.rate}


@pytest.mark.slow
def test_statement_names_a_day_without_rate_and_leaves_it_out(mixed):
    rows(
        mixed,
        [
            {"timestamp": at(10, 12, month=11), "cost": 8.0, "currency": "EUR"},
            {"timestamp": at(11, 12, month=11), "cost": 2.0, "currency": "USD"},
        ],
    )
    stmt = statement(mixed, "2026-11", "UTC", "USD")
    (total,) = stmt.only("search").totals.to_dict("records")
    assert total["spend"] == pytest.approx(2.0) and total["unconverted_requests"] == 1
    assert "missing rate on 2026-11-10" in stmt.rate_note and "8.0000 EUR" in stmt.rate_note


def bill(model: str, amount: float, currency: str) -> BilledRow:
    return BilledRow(category="completion", model=model, metric="input_tokens", amount=amount, currency=currency)


def test_reconcile_converts_rows_and_bill_lines_in_another_currency(mixed):
    write_billed(mixed, "adm", "2026-10", None, [bill("mistral-small-latest", 20.0, "EUR"), bill("gpt-4o", 1.0, "USD")])
    got = {r.model: r for r in reconcile(mixed, ["2026-10"], "USD")}
    small = got["mistral-small-latest"]
    eur_rows = [r for r in MIXED if r["currency"] == "EUR" and "model" not in r]  # default model
    measured = sum(r["cost"] * rate_on(r["timestamp"].date()) for r in eur_rows if r["cost"] is not None)
    assert small.measured == pytest.approx(measured, rel=1e-12)
    assert small.billed == pytest.approx(20.0 * USD_PER_EUR[date(2026, 10, 30)])  # the month's last rate (Fri 30)
    totals = comparable_totals(list(got.values()))
    assert totals.billed == pytest.approx(small.billed + 1.0)


def test_reconcile_refuses_to_sum_a_bill_line_with_no_rate(usd_config):
    rows(usd_config, [{"timestamp": at(5), "cost": 3.0, "currency": "USD"}])
    write_rates(usd_config, {date(2026, 9, 1): 1.1})  # stale by October's end
    write_billed(usd_config, "adm", "2026-10", None, [bill("mistral-small-latest", 20.0, "EUR")])
    (row,) = reconcile(usd_config, ["2026-10"], "USD")
    assert (row.billed, row.status, row.comparable) == (None, "bill_unreadable", False)
    assert comparable_totals([row]).billed == 0.0  # not 20.0 and not 23.0
    (reason,) = unreadable_lines(usd_config, ["2026-10"], "USD")["problem"].to_pylist()
    assert "no EUR to USD rate" in reason and "2026-10-31" in reason
