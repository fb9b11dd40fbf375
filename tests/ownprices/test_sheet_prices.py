"""Which stored sheet entries `pricing = "billed"` charges: one price per (month, model, kind),
the organisation-wide sheet before a workspace's, then sources by name; a price 100x off the
list (a unit mix-up) is never charged."""

from __future__ import annotations

from ledger.billing._prices import PriceEntry, sheet_prices, write_price_sheet
from tests.support.billing import utc

from .sheet import DISCOUNTED, list_price, per_token

MAY = "2026-05"


def entry(metric: str, price: str, model: str = DISCOUNTED) -> PriceEntry:
    return PriceEntry(
        event_type=model,
        billing_metric=metric,
        billing_group="completion",
        api_zone="global",
        service_tier="standard",
        model=None,
        price=float(price),
        price_text=price,
    )


def test_org_wide_sheet_wins_then_the_first_source_by_name(tmp_path):
    listed = list_price(DISCOUNTED, "input_per_1m")
    when = utc(2026, 5, 10)
    write_price_sheet(tmp_path, "b_admin", MAY, None, [entry("input_tokens", per_token(listed * 0.7))], "EUR", when)
    write_price_sheet(tmp_path, "a_admin", MAY, "ws1", [entry("input_tokens", per_token(listed * 0.5))], "EUR", when)
    write_price_sheet(
        tmp_path,
        "c_admin",
        MAY,
        None,
        [entry("input_tokens", per_token(listed * 0.9)), entry("output_tokens", per_token(1.0))],
        "EUR",
        when,
    )
    taken = {(p.month, p.model, p.kind): p.per_1m for p in sheet_prices(tmp_path, "EUR")}
    assert taken == {
        (MAY, DISCOUNTED, "input"): float(per_token(listed * 0.7)) * 1e6,
        (MAY, DISCOUNTED, "output"): float(per_token(1.0)) * 1e6,
    }
    assert sheet_prices(tmp_path, "USD") == []


def test_a_price_a_hundred_times_off_the_list_is_not_charged(tmp_path):
    listed = list_price(DISCOUNTED, "input_per_1m")
    per_million_by_mistake = f"{listed:.6f}"  # per 1M sent where a per-token price belongs: 1e6x too high
    write_price_sheet(
        tmp_path,
        "admin",
        MAY,
        None,
        [entry("input_tokens", per_million_by_mistake), entry("output_tokens", "0")],
        "EUR",
        utc(2026, 5, 10),
    )
    assert [(p.kind, p.per_1m) for p in sheet_prices(tmp_path, "EUR")] == [("output", 0.0)]  # free is a price
