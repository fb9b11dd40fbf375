"""Statuses that say what is known, over a fake Admin API on loopback (issue 12).

A model whose bill cannot be read is `bill_unreadable` (never `matched`), its raw entry is kept,
totals and gaps add up comparable models only, and a partly readable payload keeps the earlier
rows of the models it could not read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from collector._context import Context
from collector.providers import MistralAdminSource
from collector.providers._admin import AdminPollResult
from foundation.config import Config, SourceConfig
from ledger import billing
from ledger.billing import read_billed, reconcile
from tests.support.billing import ENV, SECRET, utc

from . import fake_admin
from . import scenario as s

FIRST, SECOND, THIRD = utc(2026, 5, 14, 9), utc(2026, 5, 14, 10), utc(2026, 5, 14, 11)


@pytest.fixture
def admin() -> Iterator[fake_admin.FakeAdmin]:
    with fake_admin.serve() as fake:
        yield fake


@pytest.fixture
def data(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, SECRET)
    s.write_measured(tmp_path)
    return tmp_path


def poll(data_dir, fake: fake_admin.FakeAdmin, when: datetime) -> AdminPollResult:
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


def two_fetches(data_dir, fake: fake_admin.FakeAdmin) -> AdminPollResult:
    fake.usage[s.MONTH] = s.READABLE
    poll(data_dir, fake, FIRST)
    fake.usage[s.MONTH] = s.PARTLY_READABLE
    return poll(data_dir, fake, SECOND)


@pytest.mark.slow
def test_each_status_says_what_is_known(data, admin):
    two_fetches(data, admin)
    rows = {r.model: r for r in reconcile(data, [s.MONTH], "EUR")}
    assert {m: r.status for m, r in rows.items()} == {
        "mistral-small-2603": "matched",
        "mistral-large-2512": "matched",
        "ministral-8b-2512": "seen_not_billed",
        "mistral-ocr-2505": "billed_not_seen",
        "codestral-2508": "bill_unreadable",
        "magistral-medium-2509": "bill_unreadable",
    }
    small = rows["mistral-small-2603"]
    assert (small.measured, small.billed, small.gap) == pytest.approx((1.50, 1.80, 0.30))
    codestral = rows["codestral-2508"]
    assert (codestral.measured, codestral.billed, codestral.gap, codestral.comparable) == (1.50, None, None, False)
    assert rows["ministral-8b-2512"].comparable and rows["mistral-ocr-2505"].comparable


@pytest.mark.slow
def test_totals_and_gap_over_comparable_models_only(data, admin):
    two_fetches(data, admin)
    totals = billing.comparable_totals(reconcile(data, [s.MONTH], "EUR"))
    assert totals.measured == pytest.approx(s.COMPARABLE_MEASURED)  # 4.90, not 7.20
    assert totals.billed == pytest.approx(s.COMPARABLE_BILLED)  # 5.12
    assert totals.gap == pytest.approx(s.COMPARABLE_BILLED - s.COMPARABLE_MEASURED)  # +0.22, not -2.08
    assert sorted(r.model for r in totals.left_out) == s.UNREADABLE
    assert sum(r.measured or 0 for r in totals.left_out) == pytest.approx(1.50 + 0.80)


@pytest.mark.slow
def test_unreadable_entry_is_kept_raw_never_stored_as_a_quantity(data, admin, capfd):
    result = two_fetches(data, admin)
    table = read_billed(data, [s.MONTH]).to_pylist()
    assert 1_204_401 not in [r["quantity"] for r in table]
    (micros,) = [r for r in table if r["model"] == "codestral-2508" and r["raw"] is not None]
    assert json.loads(micros["raw"]) == s.MICROS
    assert (micros["metric"], micros["quantity"], micros["amount"]) == ("input", None, None)
    assert "input.charge.value_micros" in micros["problem"]
    (shape,) = [r for r in table if r["model"] == "magistral-medium-2509" and r["raw"] is not None]
    assert json.loads(shape["raw"]) == s.NEW_SHAPE and "input[0].lines[0].eur" in shape["problem"]
    warnings = [json.loads(line) for line in capfd.readouterr().err.splitlines() if "source_warning" in line]
    (warning,) = [w for w in warnings if w["problem"].startswith("usage")]
    assert "codestral-2508" in warning["first"] and "input.charge.value_micros" in warning["first"]
    assert warning["count"] == 2 and result.problems == 2


@pytest.mark.slow
def test_partly_readable_payload_keeps_earlier_rows_of_models_it_could_not_read(data, admin):
    two_fetches(data, admin)
    table = read_billed(data, [s.MONTH]).to_pylist()
    kept = sorted(
        (r["metric"], r["amount"], r["fetched_at"])
        for r in table
        if r["model"] == "codestral-2508" and r["raw"] is None
    )
    assert kept == [("input_tokens", 1.10, FIRST), ("output_tokens", 0.30, FIRST)]
    magistral = [(r["amount"], r["fetched_at"]) for r in table if r["model"] == "magistral-medium-2509"]
    assert sorted(magistral, key=str) == [(0.75, FIRST), (None, SECOND)]
    small = sorted((r["amount"], r["fetched_at"]) for r in table if r["model"] == "mistral-small-2603")
    assert small == [(0.85, SECOND), (0.95, SECOND)]  # readable models take the new bill


@pytest.mark.slow
def test_unreadable_again_then_readable_again(data, admin):
    two_fetches(data, admin)
    poll(data, admin, THIRD)  # still partly readable: the earlier rows are still those of 09:00
    codestral = [r for r in read_billed(data, [s.MONTH]).to_pylist() if r["model"] == "codestral-2508"]
    assert sorted((r["amount"], r["fetched_at"]) for r in codestral if r["raw"] is None) == [
        (0.30, FIRST),
        (1.10, FIRST),
    ]
    assert [r["fetched_at"] for r in codestral if r["raw"] is not None] == [THIRD]
    admin.usage[s.MONTH] = s.READABLE
    poll(data, admin, utc(2026, 5, 14, 12))
    rows = {r.model: r for r in reconcile(data, [s.MONTH], "EUR")}
    assert rows["codestral-2508"].status == "matched" and rows["codestral-2508"].billed == pytest.approx(1.40)
    assert read_billed(data, [s.MONTH]).column("raw").null_count == len(read_billed(data, [s.MONTH]))


def test_billed_files_written_before_the_raw_column_still_read(tmp_path):
    old = billing.BILLED_SCHEMA.remove(billing.BILLED_SCHEMA.get_field_index("raw"))
    old = old.remove(old.get_field_index("problem"))
    table = old.empty_table().to_pylist() + [
        {
            "source": "a",
            "month": s.MONTH,
            "workspace": None,
            "category": "completion",
            "model": "m",
            "metric": "x",
            "quantity": None,
            "unit_price": None,
            "amount": 2.0,
            "currency": "EUR",
            "fetched_at": FIRST,
        }
    ]
    path = tmp_path / "billing" / "a" / f"{s.MONTH}.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(table, schema=old), path)
    (row,) = read_billed(tmp_path).to_pylist()
    assert (row["amount"], row["raw"], row["problem"]) == (2.0, None, None)
    assert reconcile(tmp_path, [s.MONTH], "EUR")[0].status == "billed_not_seen"
