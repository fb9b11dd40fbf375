"""A seeded synthetic ledger and independent figures computed from its files with plain pyarrow.

Every expected value in these tests comes from `Truth` (pyarrow over the parquet files the
fixture wrote), never from ledger.queries.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from ledger.fixtures import build_ledger

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Truth:
    """Plain pyarrow over every parquet file of a ledger written without compaction."""

    table: pa.Table

    @classmethod
    def read(cls, data_dir: Path) -> Truth:
        files = sorted((data_dir / "requests").glob("date=*/*.parquet"))
        return cls(pa.concat_tables([pq.read_table(f) for f in files]))

    def window(self, start: datetime, end: datetime, **equal: str) -> pa.Table:
        ts = self.table["timestamp"]
        mask = pc.and_(pc.greater_equal(ts, pa.scalar(start, ts.type)), pc.less(ts, pa.scalar(end, ts.type)))
        for column, value in equal.items():
            mask = pc.and_(mask, pc.equal(self.table[column], value))
        return self.table.filter(mask)

    @staticmethod
    def spend(rows: pa.Table) -> float:
        return float(pc.sum(rows["cost"]).as_py() or 0.0)

    @staticmethod
    def requests(rows: pa.Table) -> int:
        return int(pc.sum(rows["request_count"]).as_py() or 0)

    @staticmethod
    def per_request(rows: pa.Table) -> pa.Table:
        return rows.filter(pc.invert(rows["aggregated"]))

    @classmethod
    def error_rate(cls, rows: pa.Table) -> float:
        measured = cls.per_request(rows)
        return float(pc.sum(pc.greater_equal(measured["status_code"], 400)).as_py()) / measured.num_rows

    @classmethod
    def interactive(cls, rows: pa.Table) -> pa.Table:
        """Rows whose latency counts: per-request and not Batch API jobs."""
        measured = cls.per_request(rows)
        return measured.filter(pc.invert(pc.fill_null(measured["batch"], False)))

    @classmethod
    def p95(cls, rows: pa.Table) -> float:
        latency = cls.interactive(rows)["latency_ms"].drop_null().to_numpy()
        return float(np.percentile(latency, 95))


def utc_midnight(days_ago: int, now: datetime) -> datetime:
    day = (now - timedelta(days=days_ago)).date()
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def write_status(data_dir: Path, last_success: datetime, poll_seconds: int = 60) -> None:
    stamp = last_success.isoformat(timespec="seconds")
    status = {
        "updated_at": stamp,
        "sources": {
            "simulator": {
                "kind": "usage_endpoint", "last_attempt": stamp, "last_success": stamp, "last_error": None,
                "records_total": 1, "quarantined_total": 0, "poll_seconds": poll_seconds,
            }
        },
    }  # fmt: skip
    (data_dir / "state").mkdir(parents=True, exist_ok=True)
    (data_dir / "state" / "collector.json").write_bytes(orjson.dumps(status))


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Truth]]:
    """40 days, 40k requests, ending now; a fresh collector status."""
    data_dir = tmp_path_factory.mktemp("ledger")
    build_ledger(data_dir, n_records=40_000, days=40, seed=11)
    write_status(data_dir, datetime.now(UTC))
    yield data_dir, Truth.read(data_dir)


@pytest.fixture
def app_env(seeded: tuple[Path, Truth], monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Truth]:
    monkeypatch.setenv("DATA_DIR", str(seeded[0]))
    monkeypatch.setenv("MONITOR_TIMEZONE", "UTC")
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    return seeded
