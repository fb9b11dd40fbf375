"""The read-only SQL box: one SELECT over the filtered ledger, capped in rows, bytes, memory and time.

Why a worker process (ledger.queries._sql_worker): a SELECT can still call read_csv('/etc/passwd'),
or build gigabytes of strings that DuckDB's memory_limit does not count and that fetching then
copies again. The worker sees only `ledger` (the rows matching the filters, as a filtered
Arrow dataset), runs with file access off, no spill directory and a capped data segment, and
is SIGKILLed at the deadline: startup, query and fetch all count. Anything but one SELECT is
refused before a process starts.

Example:
    >>> from datetime import UTC, date, datetime
    >>> from pathlib import Path
    >>> from tests.builders import build_ledger
    >>> _ = build_ledger(Path("data"), n_records=2000, days=3, seed=7, end=datetime(2026, 11, 25, 12, tzinfo=UTC))
    >>> f = Filters.for_dates(date(2026, 11, 23), date(2026, 11, 25), "Europe/Paris")
    >>> df = run_sql(Path("data"), f, "SELECT count(*) AS n FROM ledger")
    >>> int(df["n"][0]), df.attrs["truncated"]
    (1642, '')
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from foundation.errors import MonitorError
from ledger.storage.store import list_files

from ._engine import THREADS
from ._filters import Filters

ROOT = Path(__file__).resolve().parents[__name__.count(".")]
"""The folder holding the `ledger` package (a checkout or site-packages): the worker's PYTHONPATH."""
MEMORY_MB = int(os.environ.get("LEDGER_SQL_MEMORY_MB", "1024"))
MAX_BYTES = int(os.environ.get("LEDGER_SQL_MAX_MB", "16")) * 2**20
NULL_LABELS = {"project": "(no project)", "api_key_id": "(no key recorded)"}
"""What a null shows as in the sidebar (ledger.queries._filters.DIMENSIONS), so the filter matches it."""
COLUMNS = {"projects": "project", "models": "model", "api_keys": "api_key_id", "sources": "source"}


class SqlRefused(MonitorError, ValueError):
    """The statement is not allowed, did not parse, failed, or hit a limit; the message says why."""


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


def _job(data_dir: Path, filters: Filters, body: str, row_limit: int, max_bytes: int, memory_mb: int) -> bytes:
    dims = {COLUMNS[name]: list(values) for name, values in _dimension_values(filters).items() if values}
    if filters.denies_all:
        dims["project"] = []
    job = {
        "files": [str(f) for f in list_files(Path(data_dir).resolve(), *filters.utc_days())],
        "start": filters.start_at.isoformat(),
        "end": filters.end_at.isoformat(),
        "dims": dims,
        "null_labels": NULL_LABELS,
        "sql": body,
        "row_limit": int(row_limit),
        "max_bytes": int(max_bytes),
        "memory_mb": int(memory_mb),
        "threads": THREADS,
    }
    return json.dumps(job).encode()


def _dimension_values(filters: Filters) -> dict[str, tuple[str, ...]]:
    return {name: getattr(filters, name) for name in COLUMNS}


def run_sql(
    data_dir: Path,
    filters: Filters,
    sql: str,
    row_limit: int = 10_000,
    timeout_s: float = 10.0,
    max_bytes: int = MAX_BYTES,
    memory_mb: int = MEMORY_MB,
) -> pd.DataFrame:
    """Run one SELECT where `ledger` names the rows matching `filters`.

    At most `row_limit` rows and `max_bytes` bytes come back; `attrs["truncated"]` says which
    cap cut the result ("rows", "bytes", or "" for none). Raises SqlRefused for anything but
    one SELECT, for errors, past `memory_mb` of memory and past `timeout_s` seconds.
    """
    body = check_select(sql)
    job = _job(data_dir, filters, body, row_limit, max_bytes, memory_mb)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory(prefix="sqlbox-") as cwd:
        worker = [sys.executable, "-m", "ledger.queries._sql_worker"]
        proc = subprocess.Popen(
            worker, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            out, err = proc.communicate(job, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise SqlRefused(f"query stopped after {timeout_s:g} s; narrow the date range or aggregate more") from None
    return _result(proc.returncode, out, err, memory_mb)


def _result(code: int, out: bytes, err: bytes, memory_mb: int) -> pd.DataFrame:
    if code != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        if code > 0 and lines:
            raise SqlRefused(lines[-1])
        raise SqlRefused(
            f"query stopped (worker exit {code}); it most likely needed more than its {memory_mb} MB "
            "of memory: select fewer or smaller columns, or aggregate"
        )
    with pa.ipc.open_stream(out) as reader:
        table = reader.read_all()
    frame = table.to_pandas()
    frame.attrs["truncated"] = (table.schema.metadata or {}).get(b"truncated", b"").decode()
    return frame
