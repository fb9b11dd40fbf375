"""Upsert of aggregated rows, the billed table, reconciliation, the spend gauge and rate headroom."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from ledger import Appender, PriceBook, compact_day, price_rows, read_ledger
from ledger.billing import (
    BilledRow,
    Reconciled,
    comparable_totals,
    gap_breaches,
    has_bill,
    rate_headroom,
    read_billed,
    reconcile,
    spend_gauges,
    unmatched,
    write_billed,
    write_reading,
)
from ledger.storage.upsert import upsert_rows

BOOK = PriceBook.load()


def records(rows: list[dict], source: str = "sim", aggregated: bool = False) -> pa.Table:
    base = {
        "model": "mistral-small-2603",
        "status_code": 200,
        "prompt_tokens": 1_000_000,
        "completion_tokens": 0,
        "cached_tokens": 0,
        "simulated": False,
    }
    full = [base | {"resolved_model": r.get("model", base["model"]), "batch": False} | r for r in rows]
    table = pa.Table.from_pylist([{k: v for k, v in r.items() if k != "ts"} for r in full])
    table = table.append_column("timestamp", pa.array([r["ts"] for r in full], pa.timestamp("us", tz="UTC")))
    priced = price_rows(table, source, BOOK, "USD")
    if aggregated:
        priced = priced.set_column(
            priced.schema.get_field_index("aggregated"), "aggregated", pa.array([True] * priced.num_rows)
        )
    return priced


def at(day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, 5, day, hour, minute, tzinfo=UTC)


def test_upsert_replaces_by_id_and_keeps_other_rows(tmp_path):
    Appender(tmp_path).append(records([{"id": f"r{i}", "ts": at(14, 10, i)} for i in range(3)]))
    upsert_rows(tmp_path, records([{"id": "b1", "ts": at(14, 9), "prompt_tokens": 5}], "oai", aggregated=True))
    again = [{"id": "b1", "ts": at(14, 9), "prompt_tokens": 9}, {"id": "b2", "ts": at(13, 9), "prompt_tokens": 1}]
    upsert_rows(tmp_path, records(again, "oai", aggregated=True))
    table = read_ledger(tmp_path)
    got = sorted(zip(*(table[c].to_pylist() for c in ("source", "id", "prompt_tokens")), strict=True))
    assert got == [
        ("oai", "b1", 9),
        ("oai", "b2", 1),
        ("sim", "r0", 1_000_000),
        ("sim", "r1", 1_000_000),
        ("sim", "r2", 1_000_000),
    ]
    Appender(tmp_path).append(records([{"id": "r3", "ts": at(14, 11)}]))
    compact_day(tmp_path, at(14).date())
    assert read_ledger(tmp_path).num_rows == 6


def bill(model: str, amount: float | None, currency: str = "USD", **kw) -> BilledRow:
    return BilledRow(
        category=kw.get("category", "completion"),
        model=model,
        metric="input_tokens",
        quantity=kw.get("quantity"),
        unit_price=kw.get("unit_price"),
        amount=amount,
        currency=currency,
    )


def test_billed_table_is_replaced_per_month_and_read_back(tmp_path):
    write_billed(tmp_path, "adm", "2026-05", None, [bill("a", 1.0), bill("b", 2.0)])
    write_billed(tmp_path, "adm", "2026-05", None, [bill("a", 3.0)])
    write_billed(tmp_path, "adm", "2026-04", "ws 1", [bill("a", 5.0)])
    assert read_billed(tmp_path, ["2026-05"])["amount"].to_pylist() == [3.0]
    assert sorted(read_billed(tmp_path)["workspace"].to_pylist(), key=str) == [None, "ws 1"]
    with pytest.raises(ValueError, match="YYYY-MM"):
        write_billed(tmp_path, "adm", "2026-5", None, [])


def test_reconcile_statuses_and_gaps(tmp_path):
    small_usd = 0.15  # mistral-small-2603 input per 1M tokens, USD (ledger/pricing/prices.csv)
    assert BOOK.price_at("mistral-small-2603", at(14), "USD").input_per_1m == small_usd
    Appender(tmp_path).append(
        records(
            [
                {"id": "a1", "ts": at(3)},
                {"id": "a2", "ts": at(20)},
                {"id": "f1", "ts": at(4), "model": "ft:mistral-small-2603:acme:7f3a"},
                {"id": "m1", "ts": at(5), "model": "ministral-8b-2512"},
                {"id": "x1", "ts": datetime(2026, 6, 1, tzinfo=UTC)},
            ]
        )
    )
    upsert_rows(tmp_path, records([{"id": "g", "ts": at(6), "model": "gpt-4o"}], "oai", aggregated=True))
    write_billed(
        tmp_path,
        "adm",
        "2026-05",
        None,
        [
            bill("mistral-small-2603", 0.2),
            bill("mistral-small-2603", 0.11),
            bill("ft:mistral-small-2603:acme:7f3a", 0.3),
            bill("mistral-ocr-2505", None, quantity=100, unit_price=0.001),
        ],
    )  # a line in another currency is converted or unknown: tests/fx/test_reconcile_fx.py
    rows = {r.model: r for r in reconcile(tmp_path, ["2026-05"], "USD")}
    small = rows["mistral-small-2603"]
    assert small.measured == pytest.approx(2 * small_usd) and small.billed == pytest.approx(0.31)
    assert small.gap == pytest.approx(0.01) and small.gap_pct == pytest.approx(100 * 0.01 / 0.31)
    assert (small.status, small.requests) == ("matched", 2)
    ocr = rows["mistral-ocr-2505"]
    assert (ocr.status, ocr.measured, ocr.billed, ocr.gap_pct) == ("billed_not_seen", None, pytest.approx(0.1), 100.0)
    ft = rows["ft:mistral-small-2603:acme:7f3a"]
    assert (ft.status, ft.measured, ft.gap) == ("matched", None, None)  # seen but unpriced: no invented gap
    mini = rows["ministral-8b-2512"]
    assert (mini.status, mini.billed, mini.gap_pct) == ("seen_not_billed", None, None)
    assert mini.gap == pytest.approx(-BOOK.price_at("ministral-8b-2512", at(5), "USD").input_per_1m)
    assert "gpt-4o" not in rows  # other providers' aggregated rows are not on Mistral's bill
    assert {r.model for r in gap_breaches(list(rows.values()), threshold_pct=10)} == {
        "mistral-ocr-2505",
        "ministral-8b-2512",
    }
    assert "mistral-small-2603" in {r.model for r in gap_breaches(list(rows.values()), threshold_pct=1)}
    eur = reconcile(tmp_path, ["2026-05"], "EUR")  # no USD rate here: nothing taken at 1.0, nothing summed
    assert comparable_totals(eur).compared == 0 and all(r.measured is None for r in eur)


def test_spend_gauge_burn_days_to_cap_and_429_warning(tmp_path):
    now = datetime(2026, 5, 11, 0, tzinfo=UTC)  # 10 days into May
    write_reading(
        tmp_path,
        "adm",
        "spend-limit",
        {"used": 400.0, "limit": 500, "no_limit": False, "reached": False, "currency": "EUR"},
    )
    (gauge,) = spend_gauges(tmp_path, now)
    assert (gauge.burn_per_day, gauge.days_to_cap, gauge.warning) == (40.0, 2.5, None)
    Appender(tmp_path).append(
        records(
            [
                {
                    "id": "e1",
                    "ts": now - timedelta(hours=2),
                    "status_code": 429,
                    "prompt_tokens": 0,
                    "spend_limit_reached": True,
                },
                {"id": "e2", "ts": now - timedelta(days=3), "status_code": 429},
            ]
        )
    )
    write_reading(tmp_path, "adm", "spend-limit", {"used": 500.0, "limit": 500, "reached": True, "currency": "EUR"})
    (gauge,) = spend_gauges(tmp_path, now)
    assert gauge.days_to_cap == 0.0 and gauge.recent_429s == 1
    assert "monthly_limit_reached" in gauge.warning


def test_rate_headroom_peak_minute_against_limit(tmp_path):
    Appender(tmp_path).append(
        records(
            [
                {"id": "a", "ts": at(14, 10, 1), "prompt_tokens": 300_000},
                {"id": "b", "ts": at(14, 10, 1), "prompt_tokens": 200_000, "completion_tokens": 100_000},
                {"id": "c", "ts": at(14, 10, 2)},
            ]
        )
    )
    limits = {"mistral-small-2603": {"tokens_per_minute": 2_000_000}, "codestral-2508": {"tokens_per_minute": 10}}
    rows = {h.model: h for h in rate_headroom(tmp_path, at(14, 0), at(15, 0), limits)}
    small = rows["mistral-small-2603"]
    assert (small.peak_tokens_minute, small.peak_at, small.limit_tokens_minute) == (1_000_000, at(14, 10, 2), 2_000_000)
    assert small.headroom_pct == pytest.approx(50.0)
    assert (rows["codestral-2508"].peak_tokens_minute, rows["codestral-2508"].headroom_pct) == (0, 100.0)


def reconciled(model: str, status: str) -> Reconciled:
    blank = Reconciled(
        month="2026-05",
        model="",
        measured=None,
        billed=None,
        gap=None,
        gap_pct=None,
        status="",
        requests=0,
        currency="USD",
    )
    return replace(blank, model=model, status=status)


def test_the_unmatched_models_by_status_most_first_and_whether_there_is_a_bill() -> None:
    rows = [
        reconciled("m-b", "seen_not_billed"),
        reconciled("ocr", "billed_not_seen"),
        reconciled("small", "matched"),
        reconciled("m-a", "seen_not_billed"),
        reconciled("large", "bill_unreadable"),
    ]
    assert unmatched(rows) == {
        "seen_not_billed": ["m-a", "m-b"],
        "billed_not_seen": ["ocr"],
        "bill_unreadable": ["large"],
    }
    assert list(unmatched(rows)) == ["seen_not_billed", "billed_not_seen", "bill_unreadable"]  # a tie: first met first
    assert has_bill(rows) and not has_bill([rows[0], rows[3]]) and not has_bill([])
