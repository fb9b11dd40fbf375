"""DuckDB over the ledger's visible files: one place that turns Filters into SQL.

Why DuckDB over the file list (not a glob, not pandas): `list_files` prunes to the UTC day
partitions the window touches and hides files superseded by compaction; DuckDB then reads
only the columns a query names, pushes the time filter into row-group statistics, and
aggregates in parallel within a fixed memory limit. Measured in bench/bench_dashboard.py.

Each query runs on a cursor of one process-wide in-memory connection, so threads (Streamlit
sessions) share the parquet metadata cache but never a cursor.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from ._query_filters import DIMENSIONS, Filters
from .store import list_files

MEMORY_LIMIT = os.environ.get("LEDGER_DUCKDB_MEMORY", "384MB")
THREADS = int(os.environ.get("LEDGER_DUCKDB_THREADS", "2"))
_lock = threading.Lock()
_shared: duckdb.DuckDBPyConnection | None = None


def configure(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Apply the fixed resource limits and the UTC session time zone."""
    con.execute(f"SET memory_limit='{MEMORY_LIMIT}'")
    con.execute(f"SET threads={THREADS}")
    con.execute("SET TimeZone='UTC'")
    con.execute("SET parquet_metadata_cache=true")
    con.execute("SET preserve_insertion_order=false")
    return con


def connection() -> duckdb.DuckDBPyConnection:
    """A new cursor on the process-wide connection (create it on first use)."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = configure(duckdb.connect(":memory:"))
        return _shared.cursor()


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def scan_sql(files: list[Path]) -> str:
    """A read_parquet() over exactly these files (old files lacking new columns read them as null)."""
    paths = ", ".join(_literal(str(f)) for f in files)
    return f"read_parquet([{paths}], union_by_name=true, hive_partitioning=false)"


def where_sql(filters: Filters) -> tuple[str, list[Any]]:
    """The WHERE clause (without the keyword) and its parameters for a Filters."""
    clauses = ["timestamp >= ?", "timestamp < ?"]
    params: list[Any] = [filters.start_at, filters.end_at]
    for dim, values in filters.dimension_filters().items():
        clauses.append(f"{DIMENSIONS[dim]} IN ({', '.join('?' * len(values))})")
        params.extend(values)
    return " AND ".join(clauses), params


def query(data_dir: Path, filters: Filters, select: str, params: list[Any] | None = None) -> pd.DataFrame | None:
    """Run `select` against a CTE named `rows` holding the filtered ledger rows.

    Returns None when no file covers the window (callers turn that into an empty result).
    `params` bind the `?` placeholders that appear in `select` after those of the filters.
    """
    files = list_files(Path(data_dir), *filters.utc_days())
    if not files:
        return None
    where, where_params = where_sql(filters)
    sql = f"WITH rows AS (SELECT * FROM {scan_sql(files)} WHERE {where}) {select}"
    return connection().execute(sql, [*where_params, *(params or [])]).fetchdf()


def bucket_sql(grain: str, tz: str) -> str:
    """SQL for a row's time bucket: UTC-truncated for hours (DST-safe), local otherwise."""
    if grain == "hour":
        return "date_trunc('hour', timestamp)"
    return f"date_trunc('{grain}', timezone({_literal(tz)}, timestamp))"


def localize_buckets(values: pd.Series, grain: str, tz: str) -> pd.Series:
    """Turn bucket values from `bucket_sql` into tz-aware timestamps in `tz`."""
    stamps = pd.to_datetime(values)
    if grain == "hour":
        if stamps.dt.tz is None:
            stamps = stamps.dt.tz_localize("UTC")
        return stamps.dt.tz_convert(tz)
    if stamps.dt.tz is not None:
        stamps = stamps.dt.tz_localize(None)
    dst = pd.Series(True, index=stamps.index).to_numpy()
    return stamps.dt.tz_localize(tz, ambiguous=dst, nonexistent="shift_forward")
