"""The read-only SQL box: one SELECT over the filtered ledger, a row limit and a time limit.

Why a separate, locked connection: a SELECT can still call read_csv('/etc/passwd') or COPY
data out. Here the ledger rows are handed to DuckDB as an Arrow dataset, then file-system
access is switched off and the configuration locked, so the only data reachable is the
`ledger` view; anything but one SELECT is refused before it runs.

Example:
    >>> run_sql(Path("data"), filters, "SELECT model, sum(cost) FROM ledger GROUP BY 1")
"""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.dataset as ds

from ._query_engine import configure, where_sql
from ._query_filters import Filters
from .schema import SCHEMA
from .store import list_files


class SqlRefused(ValueError):
    """The statement is not allowed, did not parse, failed, or ran out of time; the message says why."""


def check_select(sql: str) -> str:
    """Return the single SELECT statement without its trailing `;`, or raise SqlRefused."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise SqlRefused(f"SQL does not parse: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1:
        raise SqlRefused(f"SQL box runs exactly one statement; found {len(statements)}. Remove the others.")
    if statements[0].type != duckdb.StatementType.SELECT:
        raise SqlRefused(f"only SELECT is allowed (read-only); got {statements[0].type.name}. Rewrite it as a SELECT.")
    return sql.strip().rstrip(";").strip()


def _locked_connection(data_dir: Path, filters: Filters) -> duckdb.DuckDBPyConnection:
    con = configure(duckdb.connect(":memory:"))
    files = [str(f) for f in list_files(Path(data_dir), *filters.utc_days())]
    source = ds.dataset(files, schema=SCHEMA, format="parquet") if files else SCHEMA.empty_table()
    con.register("ledger_files", source)
    con.execute("SET enable_external_access=false")
    con.execute("SET lock_configuration=true")
    return con


def run_sql(
    data_dir: Path, filters: Filters, sql: str, row_limit: int = 10_000, timeout_s: float = 10.0
) -> pd.DataFrame:
    """Run one SELECT where `ledger` names the rows matching `filters`; at most `row_limit` rows.

    Raises SqlRefused for anything else, for errors, and when it runs longer than `timeout_s`.
    """
    body = check_select(sql)
    where, params = where_sql(filters)
    wrapped = f"WITH ledger AS (SELECT * FROM ledger_files WHERE {where}) SELECT * FROM ({body}) LIMIT {int(row_limit)}"
    con = _locked_connection(data_dir, filters)
    timer = threading.Timer(timeout_s, con.interrupt)
    timer.start()
    try:
        return con.execute(wrapped, params).fetchdf()
    except duckdb.InterruptException:
        raise SqlRefused(f"query stopped after {timeout_s:g} s; narrow the date range or aggregate more") from None
    except duckdb.Error as exc:
        raise SqlRefused(f"query failed: {str(exc).splitlines()[0]}") from None
    finally:
        timer.cancel()
        con.close()
