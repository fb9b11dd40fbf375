"""A reader that is not our query code (delta-rs itself, then pyarrow compute) gets the Statement's
monthly spend per model to the cent, after appends, a compaction and a re-pricing left replaced
files on disk that only the Delta log says to skip; on local disk and on S3."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest
from deltalake import DeltaTable

from collector._reprice import reprice
from foundation import location
from ledger import Appender, PriceBook, compact_closed_days, read_ledger
from ledger.queries.statement import statement
from ledger.storage.table import table_uri
from tests.builders import build_ledger

pytestmark = pytest.mark.slow

MODEL = "mistral-small-2603"
MONTHS = {"2026-10": (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))}


def dearer_book() -> PriceBook:
    """mistral-small at ten times its price: a re-pricing that moves its days' costs."""
    listed = PriceBook.load().price_at(MODEL, datetime(2026, 10, 1, tzinfo=UTC), "USD")
    assert listed is not None
    return PriceBook.load(
        [
            replace(
                listed,
                input_per_1m=listed.input_per_1m * 10,
                output_per_1m=listed.output_per_1m * 10,
                cached_input_per_1m=listed.cached_input_per_1m * 10,
            )
        ]
    )


def test_delta_rs_reads_the_statements_monthly_spend_per_model_to_the_cent(tmp_path, data_dir):
    """On local disk, then on the loopback S3 server (delta-rs reading the bucket itself)."""
    data = data_dir
    seed = tmp_path / "seed"
    build_ledger(seed, n_records=3_000, days=12, seed=5, end=datetime(2026, 11, 3, 23, tzinfo=UTC))
    rows = read_ledger(seed)
    appender = Appender(data)
    for start in range(0, rows.num_rows, 700):  # several commits per day, then merged
        appender.append(rows.slice(start, 700))
    compact_closed_days(data, date(2026, 11, 5))
    reprice(data, dearer_book(), "USD")

    uri = table_uri(data / "requests")
    assert uri.startswith("s3://") == (location.url_of(data) is not None)
    table = DeltaTable(uri).to_pyarrow_table(columns=["timestamp", "model", "cost", "currency"])
    assert table.num_rows == rows.num_rows  # replaced files are not read
    if not uri.startswith("s3://"):
        assert ds.dataset(data / "requests", format="parquet").count_rows() > 2 * rows.num_rows  # a glob would be
    for month, (start, end) in MONTHS.items():
        ts = pc.cast(table["timestamp"], pa.timestamp("us", tz="UTC"))
        mine = table.filter(pc.and_(pc.greater_equal(ts, pa.scalar(start)), pc.less(ts, pa.scalar(end))))
        mine = mine.filter(pc.and_(pc.equal(mine["currency"], "USD"), pc.is_valid(mine["cost"])))
        independent = {
            r["model"]: round(r["cost_sum"], 2) for r in mine.group_by("model").aggregate([("cost", "sum")]).to_pylist()
        }
        stmt = statement(data, month, "UTC", "USD")
        ours: dict[str, float] = defaultdict(float)
        for model, spend in zip(stmt.lines["model"], stmt.lines["spend"], strict=True):
            ours[model] += spend
        assert {m: round(s, 2) for m, s in ours.items() if s} == {m: s for m, s in independent.items() if s}
        assert sum(independent.values()) > 1.0
