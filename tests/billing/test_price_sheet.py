"""Your own unit prices: the Admin API's `prices` list with a negotiated discount, served by a fake
Admin API on loopback, stored per month and compared with the list prices (computed here from
ledger/pricing/prices.csv with the csv module, never through the code under test)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from collector._context import Context
from collector.providers import MistralAdminSource
from collector.providers._admin import AdminPollResult
from foundation.config import Config, SourceConfig
from ledger.billing import PriceComparison, PriceCounts, compare_prices, price_counts, read_price_sheet
from tests.paths import REPO
from tests.support.billing import ENV, SECRET, utc

from . import fake_admin

pytestmark = pytest.mark.slow

PRICES_CSV = REPO / "ledger" / "pricing" / "prices.csv"
DISCOUNT = 0.8  # mistral-large-2512 input at 20% off
MAY, APRIL = "2026-05", "2026-04"


def list_price(model: str, column: str, currency: str = "EUR") -> float:
    with PRICES_CSV.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["model"] == model and r["currency"] == currency]
    return float(max(rows, key=lambda r: r["effective_from"])[column])


def per_token(per_million: float) -> str:
    return f"{per_million / 1e6:.12f}"


def entry(
    event_type: str, metric: str, price: str, zone: str = "global", tier: str = "standard", group: str = "completion"
) -> dict[str, str]:
    return {
        "event_type": event_type,
        "billing_metric": metric,
        "billing_group": group,
        "api_zone": zone,
        "service_tier": tier,
        "price": price,
    }


def sheet(discount: float) -> list[object]:
    large_in = list_price("mistral-large-2512", "input_per_1m") * discount
    return [
        entry("mistral-large-2512", "input_tokens", per_token(large_in)),
        entry("mistral-large-2512", "output_tokens", per_token(list_price("mistral-large-2512", "output_per_1m"))),
        entry("mistral-small-2603", "input_tokens", per_token(list_price("mistral-small-2603", "input_per_1m"))),
        entry(
            "mistral-small-2603",
            "cached_input_tokens",
            per_token(list_price("mistral-small-2603", "cached_input_per_1m")),
        ),
        entry(
            "completion",
            "input_tokens",
            per_token(list_price("mistral-small-2603", "input_per_1m") * 1.1),
            zone="eu",
            group="mistral-small-2603",
        ),
        entry("mistral-small-2603", "output_tokens", "0.0000007", tier="priority"),
        entry("mistral-ocr-2505", "pages", "0.001", group="ocr"),
        entry("mistral-small-2603", "output_tokens", "n/a"),
    ]


def usage(month: str, prices: object) -> dict[str, object]:
    models = {"mistral-large-2512": {"input": [{"billing_metric": "input_tokens", "value": 1000, "amount": "0.1"}]}}
    return {"completion": {"models": models}, "currency": "EUR", "prices": prices, "date": f"{month}-01T00:00:00Z"}


@pytest.fixture
def admin() -> Iterator[fake_admin.FakeAdmin]:
    with fake_admin.serve() as fake:
        yield fake


def poll(data_dir: Path, fake: fake_admin.FakeAdmin, when: datetime) -> AdminPollResult:
    source = SourceConfig(
        name="mistral_admin",
        kind="mistral_admin",
        url=fake.url,
        token_env=ENV,
        max_requests_per_second=1e6,
        max_retries=0,
    )
    context = Context.build(Config(data_dir=data_dir, currency="EUR", sources=(source,)))
    with MistralAdminSource(source=source, context=context, clock=lambda: when) as admin:
        return admin.poll()


def test_sheet_is_stored_per_month_and_shows_the_discount(tmp_path, admin, monkeypatch):
    monkeypatch.setenv(ENV, SECRET)
    admin.usage[MAY] = usage(MAY, sheet(DISCOUNT))
    admin.usage[APRIL] = usage(APRIL, sheet(1.0))
    result = poll(tmp_path, admin, utc(2026, 5, 3, 9))  # day 3: April is re-read too
    assert result.months == [MAY, APRIL] and result.problems == 2  # the "n/a" price, once per month

    stored = pq.read_table(tmp_path / "billing" / "mistral_admin" / "prices" / f"{MAY}.parquet").to_pylist()
    served = sheet(DISCOUNT)
    assert [r["price_text"] for r in stored] == [e["price"] for e in served]
    assert [r["price"] for r in stored[:-1]] == [float(e["price"]) for e in served[:-1]]
    bad = stored[-1]
    assert bad["price"] is None and "'n/a' is not a number" in bad["problem"] and '"n/a"' in bad["raw"]
    assert {r["currency"] for r in stored} == {"EUR"} and {r["month"] for r in stored} == {MAY}
    assert (tmp_path / "billing" / "mistral_admin" / "prices" / f"{APRIL}.parquet").exists()

    rows = compare_prices(tmp_path, MAY)
    large_in = next(r for r in rows if r.model == "mistral-large-2512" and r.kind == "input")
    listed = list_price("mistral-large-2512", "input_per_1m")
    yours = float(per_token(listed * DISCOUNT)) * 1e6
    assert large_in.list_price == pytest.approx(listed)
    assert large_in.your_price == pytest.approx(yours)
    assert large_in.difference == pytest.approx(yours - listed)
    assert large_in.difference_pct == pytest.approx(100 * (yours - listed) / listed)
    assert round(large_in.difference_pct, 6) == -20.0 and large_in.unit == "per 1M tokens"
    others = [r for r in rows if r.difference is not None and r is not large_in]
    assert len(others) == 4 and all(abs(r.difference_pct) < 1e-6 for r in others)  # the zone entry lists at 1.1x
    eu = next(r for r in rows if r.api_zone == "eu")
    assert (eu.model, eu.kind) == ("mistral-small-2603", "input")
    assert eu.list_price == pytest.approx(list_price("mistral-small-2603", "input_per_1m") * 1.1)
    notes = {(r.model, r.kind, r.service_tier): r.note for r in rows if r.difference is None}
    assert "standard tier" in notes[("mistral-small-2603", "output", "priority")]
    assert "not a token price" in notes[("mistral-ocr-2505", None, "standard")]  # OCR is priced per page, not per token
    assert "is not a number" in notes[("mistral-small-2603", "output", "standard")]

    april = compare_prices(tmp_path, APRIL)
    assert all(r.difference is None or abs(r.difference) < 1e-9 for r in april)  # no discount in April


def test_a_payload_without_prices_keeps_the_stored_sheet(tmp_path, admin, monkeypatch):
    monkeypatch.setenv(ENV, SECRET)
    admin.usage[MAY] = usage(MAY, sheet(DISCOUNT))
    poll(tmp_path, admin, utc(2026, 5, 14, 9))
    before = read_price_sheet(tmp_path, [MAY])
    for odd in ([], None, "not a list"):
        admin.usage[MAY] = usage(MAY, odd)
        poll(tmp_path, admin, utc(2026, 5, 14, 12 + len(str(odd))))
        assert read_price_sheet(tmp_path, [MAY]).equals(before), odd
    admin.usage[MAY] = usage(MAY, sheet(1.0))
    poll(tmp_path, admin, utc(2026, 5, 15, 9))
    large = next(r for r in compare_prices(tmp_path, MAY) if r.model == "mistral-large-2512" and r.kind == "input")
    assert abs(large.difference) < 1e-9  # a new sheet replaces the month's sheet


def reconciliation_page() -> None:
    import runpy

    from pages._frame import draw_frame

    if draw_frame() is not None:
        runpy.run_path("pages/reconciliation.py")


def test_prices_section_shows_list_your_price_and_difference(tmp_path, admin, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.support.alerts import rows

    monkeypatch.setenv(ENV, SECRET)
    rows(tmp_path, [{"timestamp": utc(2026, 5, 2, 10), "cost": 1.0, "model": "mistral-large-2512"}])
    admin.usage[MAY] = usage(MAY, sheet(DISCOUNT))
    poll(tmp_path, admin, utc(2026, 5, 14, 9))
    (tmp_path / "config.toml").write_text(f'data_dir = "{tmp_path}"\ncurrency = "EUR"\n')
    monkeypatch.setenv("MONITOR_CONFIG", str(tmp_path / "config.toml"))
    app = AppTest.from_function(reconciliation_page, default_timeout=60).run()
    next(s for s in app.selectbox if s.label == "Month").select(MAY).run()
    assert not app.exception, app.exception
    assert "Prices" in [s.value for s in app.subheader]
    frame = app.dataframe[-1].value
    large = frame[(frame["model"] == "mistral-large-2512") & (frame["kind"] == "input")].iloc[0]
    listed = list_price("mistral-large-2512", "input_per_1m")
    yours = float(per_token(listed * DISCOUNT)) * 1e6
    assert (large["list_price"], large["your_price"]) == pytest.approx((listed, yours))
    assert large["difference"] == pytest.approx(yours - listed) and large["difference_pct"] == pytest.approx(-20.0)
    assert len(frame) == len(sheet(DISCOUNT))


def test_simulator_serves_its_list_prices_as_the_sheet(tmp_path, monkeypatch):
    from simulator import start_server

    now = utc(2026, 5, 14, 10, 30)
    monkeypatch.setenv(ENV, SECRET)
    with start_server(seed=4, days=1, rate=2.0, token=SECRET, clock=now.timestamp) as sim:
        poll(tmp_path, fake_admin.FakeAdmin(url=sim.url), now)
    rows = compare_prices(tmp_path, MAY)
    small = {r.kind: r for r in rows if r.model == "mistral-small-2603"}
    assert set(small) == {"input", "cached_input", "output"}
    assert small["output"].your_price == pytest.approx(list_price("mistral-small-2603", "output_per_1m", "USD"))
    assert all(r.difference == pytest.approx(0.0, abs=1e-9) for r in rows)  # no negotiated deal in the demo


def test_prices_are_counted_below_above_and_without_a_list_price() -> None:
    def row(difference: float | None) -> PriceComparison:
        return PriceComparison(
            month=MAY,
            source="mistral_admin",
            model="m",
            kind="input",
            api_zone=None,
            service_tier=None,
            currency="EUR",
            list_price=None,
            your_price=1.0,
            difference=difference,
            difference_pct=None,
            unit="per 1M tokens",
            note=None,
            event_type=None,
            billing_metric=None,
        )

    rows = [row(-0.5), row(-1.0), row(0.0), row(2.0), row(None), row(float("nan"))]
    assert price_counts(rows) == PriceCounts(below=2, above=1, unknown=2)
    assert price_counts([]) == PriceCounts(below=0, above=0, unknown=0)
