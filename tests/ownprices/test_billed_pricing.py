"""`pricing = "billed"`: the Admin API's price sheet (served by a fake Admin API on loopback) prices
the ledger from the month it applies; `"list"` keeps list prices; a month without a sheet falls
back to list prices. Expected costs are tokens x the per-token prices the test served."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest

from collector._context import Context
from collector._records import parse_records
from collector.providers import MistralAdminSource
from collector.providers._admin import AdminPollResult
from foundation.config import Config, SourceConfig
from ledger import price_rows
from ledger.pricing.book import build_book
from tests.billing import fake_admin
from tests.support.billing import ENV, SECRET, utc

from .sheet import DISCOUNTED, OTHER, costs, files_of, list_cost, records, sheet, sheet_cost, usage, write_at_list

pytestmark = pytest.mark.slow

MAY, APRIL = "2026-05", "2026-04"
DAYS = [date(2026, 4, 30), date(2026, 5, 1), date(2026, 5, 2), date(2026, 5, 31), date(2026, 6, 1)]
IN_MAY = {d for d in DAYS if d.month == 5}


@pytest.fixture
def admin(monkeypatch: pytest.MonkeyPatch) -> Iterator[fake_admin.FakeAdmin]:
    monkeypatch.setenv(ENV, SECRET)
    with fake_admin.serve() as fake:
        yield fake


def context(data: Path, fake: fake_admin.FakeAdmin, pricing: str) -> Context:
    source = SourceConfig(
        name="mistral_admin",
        kind="mistral_admin",
        url=fake.url,
        token_env=ENV,
        max_requests_per_second=1e6,
        max_retries=0,
    )
    return Context.build(Config(data_dir=data, currency="EUR", sources=(source,), pricing=pricing))


def poll(ctx: Context, when: datetime) -> AdminPollResult:
    with MistralAdminSource(source=ctx.config.sources[0], context=ctx, clock=lambda: when) as admin:
        return admin.poll()


def test_billed_prices_the_sheet_month_at_your_prices_and_other_months_at_list(tmp_path, admin):
    data = tmp_path / "data"
    write_at_list(data, DAYS)
    admin.usage[MAY] = usage(MAY, sheet(0.8))  # April's body has no prices list: no April sheet
    ctx = context(data, admin, "billed")
    before = files_of(data, DAYS)

    result = poll(ctx, utc(2026, 5, 3, 9))  # day 3: April is fetched too

    assert result.sheets == 1 and result.repriced == {"days": len(IN_MAY), "rows": len(IN_MAY)}
    after = files_of(data, DAYS)
    assert {d for d in DAYS if after[d] != before[d]} == IN_MAY
    mine = sheet_cost(sheet(0.8))
    assert mine < list_cost(DISCOUNTED)  # the discount is on input and cached input only
    for key, cost in costs(data).items():
        model, day = key.split("|")
        expected = mine if model == DISCOUNTED and date.fromisoformat(day) in IN_MAY else list_cost(model)
        assert cost == pytest.approx(expected), key

    table, _ = parse_records(records([date(2026, 5, 20)]))  # rows collected after the sheet arrived
    fresh = price_rows(table, "gw", ctx.book, "EUR").to_pylist()
    assert [r["cost"] for r in fresh] == pytest.approx([mine, list_cost(OTHER)])


def test_list_keeps_list_prices_and_stores_the_sheet(tmp_path, admin):
    data = tmp_path / "data"
    write_at_list(data, DAYS)
    admin.usage[MAY] = usage(MAY, sheet(0.8))
    before, costs_before = files_of(data, DAYS), costs(data)

    result = poll(context(data, admin, "list"), utc(2026, 5, 3, 9))

    assert result.sheets == 1 and result.repriced is None
    assert files_of(data, DAYS) == before and costs(data) == costs_before
    assert (data / "billing" / "mistral_admin" / "prices" / f"{MAY}.parquet").exists()


def test_price_version_follows_the_sheet(tmp_path, admin):
    data = tmp_path / "data"
    ctx = context(data, admin, "billed")
    listed = build_book(Config(data_dir=data, currency="EUR")).version
    assert ctx.book.version == listed  # billed without any sheet = list prices, same version

    versions = []
    for discount in (0.8, 0.8, 0.7):
        admin.usage[MAY] = usage(MAY, sheet(discount))
        poll(ctx, utc(2026, 5, 14, 9 + len(versions)))
        versions.append(ctx.book.version)
    assert versions[0] != listed and versions[1] == versions[0] and versions[2] != versions[0]
    assert build_book(Config(data_dir=data, currency="EUR", pricing="list")).version == listed

    admin.usage[MAY] = usage(MAY, sheet(0.5, "USD"), "USD")  # a sheet in another currency prices nothing
    poll(ctx, utc(2026, 5, 15, 9))
    assert build_book(ctx.config).version == listed


def test_only_standard_global_token_prices_of_the_sheet_are_taken(tmp_path, admin):
    data = tmp_path / "data"
    admin.usage[MAY] = usage(MAY, sheet(0.8))
    ctx = context(data, admin, "billed")
    poll(ctx, utc(2026, 5, 14, 9))
    taken = {(p.model, p.kind): p.per_1m for p in ctx.book.sheet}
    assert set(taken) == {(DISCOUNTED, "input"), (DISCOUNTED, "cached_input"), (DISCOUNTED, "output"), (OTHER, "input")}
    served = {
        (e["event_type"], e["billing_metric"]): float(e["price"]) * 1e6
        for e in sheet(0.8)
        if e["api_zone"] == "global" and e["service_tier"] == "standard"
    }
    assert taken[(DISCOUNTED, "input")] == pytest.approx(served[(DISCOUNTED, "input_tokens")])
    assert taken[(DISCOUNTED, "output")] == pytest.approx(served[(DISCOUNTED, "output_tokens")])
