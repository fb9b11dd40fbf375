"""The SQL box's worker process: runs one checked SELECT under hard limits, writes Arrow IPC to stdout.

Why a process: DuckDB's memory_limit does not cover a projection's strings, and fetching is
outside any in-process timer. `SELECT repeat('x', 50000000) FROM range(100)` took 41 s and
5 GB in the dashboard's process. Here the data segment is capped with RLIMIT_DATA before
DuckDB loads, the parent kills the process at the deadline, and rows are streamed in record
batches until the row or byte cap. The working directory is an empty private one and DuckDB
never spills (temp_directory is off), so no file is readable.

Input (stdin, JSON): files, start, end (ISO), dims {column: [values]}, null_labels, sql,
row_limit, max_bytes, memory_mb, threads. Output: an Arrow IPC stream whose schema metadata
says `truncated` ("", "rows" or "bytes"); on a refusal, exit code 3 and one line on stderr.

Example:
    echo '{"files": [], ...}' | python -m ledger.queries._sql_worker > result.arrows
"""

from __future__ import annotations

import resource
import sys
from typing import Any

REFUSED = 3


def data_segment() -> int:
    """Bytes of data segment now (VmData): pyarrow alone reserves about 1 GB it never touches."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    return 0


def limit_memory(memory_mb: int) -> None:
    """Cap the data segment at what the imports reserved plus `memory_mb` (below any existing hard limit)."""
    wanted = data_segment() + memory_mb * 2**20
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    cap = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))


def ledger_filter(job: dict[str, Any]) -> Any:
    """The Filters as a pyarrow expression: window, then each dimension (a null label matches null)."""
    from datetime import datetime

    import pyarrow as pa
    import pyarrow.compute as pc

    stamp = pa.timestamp("us", tz="UTC")
    ts = pc.field("timestamp")
    expr = (ts >= pa.scalar(datetime.fromisoformat(job["start"]), stamp)) & (
        ts < pa.scalar(datetime.fromisoformat(job["end"]), stamp)
    )
    for column, values in job["dims"].items():
        match = pc.field(column).isin(pa.array(values, pa.string()))
        if job["null_labels"].get(column) in values:
            match = match | pc.field(column).is_null()
        expr = expr & match
    return expr


def connect(job: dict[str, Any]) -> Any:
    """A locked in-memory DuckDB where `ledger` is the filtered rows and nothing else is reachable."""
    import duckdb
    import pyarrow.dataset as ds

    from ledger.storage.schema import SCHEMA

    con = duckdb.connect(":memory:")
    con.execute(f"SET memory_limit='{int(job['memory_mb']) // 2}MB'")
    con.execute(f"SET threads={int(job['threads'])}")
    con.execute("SET TimeZone='UTC'")
    con.execute("SET temp_directory=''")
    con.execute("SET enable_progress_bar=false")
    files = job["files"]
    source = ds.dataset(files, schema=SCHEMA, format="parquet") if files else ds.dataset(SCHEMA.empty_table())
    con.register("ledger", source.filter(ledger_filter(job)))
    con.execute("SET enable_external_access=false")
    con.execute("SET lock_configuration=true")
    return con


def fits(batch: Any, room: int) -> Any:
    """The longest prefix of `batch` whose buffers take at most `room` bytes."""
    low, high = 0, batch.num_rows
    while low < high:
        middle = (low + high + 1) // 2
        if batch.slice(0, middle).nbytes <= room:
            low = middle
        else:
            high = middle - 1
    return batch.slice(0, low)


def collect(reader: Any, row_limit: int, max_bytes: int) -> tuple[list[Any], str]:
    """Batches up to the row and byte caps, and which cap cut the result ("" when none)."""
    batches, rows, size = [], 0, 0
    for batch in reader:
        if rows + batch.num_rows > row_limit:
            batches.append(batch.slice(0, row_limit - rows))
            return batches, "rows"
        if size + batch.nbytes > max_bytes:
            batches.append(fits(batch, max_bytes - size))
            return batches, "bytes"
        batches.append(batch)
        rows, size = rows + batch.num_rows, size + batch.nbytes
    return batches, ""


def run(job: dict[str, Any]) -> None:
    import pyarrow as pa

    con = connect(job)
    # One row past the limit tells a full result from a cut one.
    sql = f"SELECT * FROM ({job['sql']}) LIMIT {int(job['row_limit']) + 1}"
    reader = con.sql(sql).to_arrow_reader(batch_size=1024)
    batches, truncated = collect(reader, int(job["row_limit"]), int(job["max_bytes"]))
    schema = reader.schema.with_metadata({"truncated": truncated})
    with pa.ipc.new_stream(sys.stdout.buffer, schema) as out:
        for batch in batches:
            out.write_batch(batch.replace_schema_metadata(schema.metadata))


def refusal(exc: BaseException, memory_mb: int) -> str:
    """One line for the parent: out-of-memory names the cap and the fix, anything else its first line."""
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, MemoryError) or "Out of Memory" in text or "bad allocation" in text:
        return f"query needs more than its {memory_mb} MB of memory; select fewer or smaller columns, or aggregate"
    return f"query failed: {text.splitlines()[0]}"


def main() -> int:
    import json

    import duckdb  # noqa: F401
    import pyarrow.dataset  # noqa: F401  (its reservation must predate the cap)

    job = json.loads(sys.stdin.read())
    limit_memory(int(job["memory_mb"]))
    try:
        run(job)
    except Exception as exc:  # DuckDB errors surface as duckdb.Error or, while streaming, as Arrow errors
        print(refusal(exc, int(job["memory_mb"])), file=sys.stderr)
        return REFUSED
    return 0


if __name__ == "__main__":
    sys.exit(main())
