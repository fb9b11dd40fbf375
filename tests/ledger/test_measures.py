"""The registry of measures (ledger/queries/_measures.py) agrees with what the rollups store and the raw
rows look like: every dimension and every rollup-served measure binds on both shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ledger import list_files
from ledger.queries import DIMENSIONS
from ledger.queries._engine import RAW_EXTRA, connection, scan_sql
from ledger.queries._measures import DERIVED_KEYS, MEASURES, ROLLUP_KEYS, STORED, Measure
from ledger.queries._rollups import rollup_sql
from tests.builders import build_ledger


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """SQL for one day's rows in the raw shape and in the rollup shape."""
    data_dir: Path = tmp_path_factory.mktemp("measures")
    build_ledger(data_dir, n_records=500, days=1, seed=3, end=datetime(2026, 10, 2, 12, tzinfo=UTC))
    scan = scan_sql(list_files(data_dir))
    return {"raw": f"SELECT *, {RAW_EXTRA} FROM {scan}", "rollup": rollup_sql(scan)}


def _columns(sql: str) -> list[str]:
    return [row[0] for row in connection().execute(f"DESCRIBE ({sql})").fetchall()]


def test_the_rollup_stores_exactly_the_registry_columns_and_raw_rows_have_them_all(shapes: dict[str, str]) -> None:
    stored = ["timestamp", *ROLLUP_KEYS, *DERIVED_KEYS, *(s.name for s in STORED)]
    assert _columns(shapes["rollup"]) == stored
    assert set(stored) <= set(_columns(shapes["raw"]))


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["raw", "rollup"])
@pytest.mark.parametrize("dim", list(DIMENSIONS))
def test_every_dimension_binds_on_both_shapes(shapes: dict[str, str], shape: str, dim: str) -> None:
    connection().execute(f"SELECT {DIMENSIONS[dim]} FROM ({shapes[shape]}) LIMIT 0").fetchall()


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["raw", "rollup"])
@pytest.mark.parametrize("measure", [m for m in MEASURES if m.served == "rollups"], ids=lambda m: m.name)
def test_every_rollup_measure_binds_on_both_shapes(shapes: dict[str, str], shape: str, measure: Measure) -> None:
    rows = f"SELECT *, cost AS original_cost, false AS unconverted FROM ({shapes[shape]})"
    connection().execute(f"SELECT {measure.sql} FROM ({rows})").fetchall()


def test_only_measures_that_combine_are_additive_and_estimates_are_raw_only() -> None:
    for m in MEASURES:
        assert m.additive == (m.combine == "sum"), m.name
        assert m.exact or m.served == "raw", m.name
        assert m.served in ("rollups", "raw", "latency"), m.name
        assert m.per_request == ("NOT aggregated" in m.sql), m.name
