"""Latency percentiles: exact on small slices, from hourly log-histograms on large ones.

Why: an exact p95 needs every latency of the slice sorted, which is most of a page's time
on a 10M-record ledger. The hourly rollups therefore also count per-request latencies in
BINS log-spaced bins (16 per decade, 1 ms to 1000 s; each bin spans a factor of 1.155), so
any slice's histogram is a sum. A percentile read from it is interpolated geometrically
inside its bin: at most 7.5% off by construction, typically well under 1%.

Slices of up to EXACT_MAX_ROWS per-request rows are computed exactly from the raw rows, like
DuckDB's quantile_cont (which holds every value in memory: fine for 500k, not for 30M), when
reading them means scanning at most EXACT_MAX_SCAN raw rows: a small slice of a big window (one
model and key over 30 days of a 10M-record ledger) would scan the window's 3.3M rows for it, 0.25-1 s
of a filter change (and 7 days' 780k rows, 85 ms of the Overview's), so it is read from the histogram like a
large slice.
Windows the rollups cannot answer are binned on the fly from the raw rows, in flat memory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ledger.storage.store import list_files

from ._engine import OTHER, query, use_rollups
from ._filters import DIMENSIONS, Filters, check_choice
from ._measures import LATENCY_ROWS
from ._measures import PERCENTILES as _NAMED
from ._rollups import BIN_SQL, BINS, PER_DECADE

EXACT_MAX_ROWS = int(os.environ.get("LEDGER_EXACT_LATENCY_ROWS", "500000"))
EXACT_MAX_SCAN = int(os.environ.get("LEDGER_EXACT_LATENCY_SCAN", "250000"))
"""Raw rows (all the window's UTC days, before any filter) an exact percentile may read: ~30 ms a period. A week
of a 10M-record ledger holds ~780k, and the Overview reads two periods: exact figures cost 85 ms of every filter
change there, against 20 ms for both periods' histograms (bench/bench_rerun.py)."""
PERCENTILES = tuple(_NAMED.values())


def from_histogram(counts: np.ndarray, p: float) -> float | None:
    """The p-quantile (quantile_cont rank) of a binned sample, interpolated log-linearly in its bin."""
    total = int(counts.sum())
    if total == 0:
        return None
    rank = p * (total - 1)
    cumulative = np.cumsum(counts)
    index = int(np.searchsorted(cumulative, rank, side="right"))
    before = cumulative[index - 1] if index else 0
    fraction = (rank - before + 0.5) / counts[index]
    low, high = 10 ** (index / PER_DECADE), 10 ** ((index + 1) / PER_DECADE)
    if index == 0:
        return float(high * fraction)
    return float(low * (high / low) ** fraction)


HISTOGRAM_DIMS = ("model", "project", "api_key", "endpoint", "source")
"""The dimensions whose columns are all LATENCY_KEYS: the latency rollup has their histograms."""


def _histograms(
    data_dir: Path, filters: Filters, key: str | None, key_sql: str | None = None
) -> tuple[list[str], np.ndarray] | None:
    """(key values, counts[value, bin]); one row when key is None.

    From the latency rollups when they can answer, else binned on the fly from the raw rows
    (streaming, so memory stays flat however many rows the slice has).
    """
    head = f"{key_sql or DIMENSIONS[key]} AS k, " if key else "'' AS k, "
    if use_rollups(filters) and (key is None or key in HISTOGRAM_DIMS):
        select = f"SELECT {head}lat_bin, sum(n)::BIGINT AS n FROM rows GROUP BY ALL"
        df = query(data_dir, filters, select, kind="latency")
    else:
        select = f"SELECT {head}{BIN_SQL} AS lat_bin, count(*) AS n FROM rows WHERE {LATENCY_ROWS} GROUP BY ALL"
        df = query(data_dir, filters, select, raw=True)
    if df is None or df.empty:
        return None
    table = df.pivot_table(index="k", columns="lat_bin", values="n", aggfunc="sum", fill_value=0)
    counts = table.reindex(columns=range(BINS), fill_value=0).to_numpy(dtype=np.int64)
    return [str(k) for k in table.index], counts


def _pool(keys: list[str], counts: np.ndarray, top: int) -> tuple[list[str], np.ndarray]:
    """The `top` keys with most requests (then by name) and one OTHER row summing the rest's histograms."""

    order = sorted(range(len(keys)), key=lambda i: (-int(counts[i].sum()), keys[i]))
    kept, rest = order[:top], order[top:]
    if not rest:
        return keys, counts
    pooled = np.vstack([counts[kept], counts[rest].sum(axis=0, keepdims=True)])
    return [*(keys[i] for i in kept), OTHER], pooled


def _exact(data_dir: Path, filters: Filters, key: str | None, key_sql: str | None = None) -> pd.DataFrame | None:
    head = f"{key_sql or DIMENSIONS[key]} AS {key}, " if key else ""
    group = " GROUP BY ALL" if key else ""
    select = f"SELECT {head}count(*) AS requests, quantile_cont(latency_ms, {list(PERCENTILES)}) AS q FROM rows"
    df = query(data_dir, filters, f"{select} WHERE {LATENCY_ROWS}{group}", raw=True)
    if df is None:
        return None
    for i, name in enumerate(_NAMED):
        df[name] = [None if q is None or q is pd.NA else float(q[i]) for q in df["q"]]  # NA: no row (WHERE FALSE)
    return df.drop(columns="q")


_file_rows: dict[tuple[str, int, int], int] = {}


def window_rows(data_dir: Path, filters: Filters) -> int:
    """Rows in the raw files of the window's UTC days (parquet footers, cached per file: files never change)."""
    import pyarrow.parquet as pq

    first, last = filters.utc_days()
    total = 0
    for path in list_files(Path(data_dir), first, last):
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        if key not in _file_rows:
            if len(_file_rows) > 100_000:
                _file_rows.clear()
            _file_rows[key] = pq.ParquetFile(path).metadata.num_rows
        total += _file_rows[key]
    return total


def percentiles(
    data_dir: Path, filters: Filters, key: str | None = None, key_sql: str | None = None, top: int | None = None
) -> pd.DataFrame:
    """requests, p50_ms, p95_ms, p99_ms (per `key` dimension when given) over per-request rows with a latency.

    With `top`, the key values beyond the `top` busiest are pooled as OTHER: in SQL through
    `key_sql` on the exact path (a small slice), by summing histograms on the large one.
    """
    if key:
        check_choice("dimension", key, list(DIMENSIONS))
    columns = [*([key] if key else []), "requests", *_NAMED]
    hist = _histograms(data_dir, filters, key)
    if hist is None:
        return pd.DataFrame(columns=columns)
    if int(hist[1].sum()) <= EXACT_MAX_ROWS and window_rows(data_dir, filters) <= EXACT_MAX_SCAN:
        exact = _exact(data_dir, filters, key, key_sql)
        return pd.DataFrame(columns=columns) if exact is None else exact[columns]
    keys, counts = _pool(*hist, top) if top is not None else hist
    out = pd.DataFrame({key or "k": keys, "requests": counts.sum(axis=1)})
    for name, p in _NAMED.items():
        out[name] = [from_histogram(row, p) for row in counts]
    return out[out["requests"] > 0].reset_index(drop=True)[columns]


Triple = tuple[float | None, float | None, float | None]


def binned(data_dir: Path, periods: list[Filters], keys: Mapping[str, str] | None = None) -> pd.DataFrame | None:
    """The latency histogram rows of `periods` (same dimension filters, windows apart) from one query: `k` (the
    period's index; NULL for a row in neither), `lat_bin`, `n`, and with `keys` ({column: SQL over a row}) those
    columns too; None when no file covers them."""
    union = periods[0].with_window(min(f.start_at for f in periods), max(f.end_at for f in periods))
    cases = " ".join(f"WHEN timestamp >= ? AND timestamp < ? THEN {i}" for i in range(len(periods)))
    bounds = [moment for f in periods for moment in (f.start_at, f.end_at)]
    head = f"CASE {cases} END AS k, " + "".join(f"{sql} AS {column}, " for column, sql in (keys or {}).items())
    if use_rollups(union):
        select = f"SELECT {head}lat_bin, sum(n)::BIGINT AS n FROM rows GROUP BY ALL"
        return query(data_dir, union, select, bounds, kind="latency")
    select = f"SELECT {head}{BIN_SQL} AS lat_bin, count(*) AS n FROM rows WHERE {LATENCY_ROWS} GROUP BY ALL"
    return query(data_dir, union, select, bounds, raw=True)


def summaries(data_dir: Path, periods: list[Filters]) -> list[Triple]:
    """p50, p95, p99 of each period (same dimension filters, windows apart), as `percentiles` answers each
    alone, from one histogram query over them all (`binned`); a period small enough for exact figures is then
    read exactly."""
    return summaries_of(data_dir, periods, binned(data_dir, periods))


def summaries_of(
    data_dir: Path, periods: list[Filters], df: pd.DataFrame | None, scans: Sequence[int] | None = None
) -> list[Triple]:
    """`summaries` from `periods`' histogram rows `df` (`binned`'s) and, when known, their `window_rows`."""
    found: list[Triple] = []
    for i, f in enumerate(periods):
        part = None if df is None else df[df["k"].eq(i).fillna(False).astype(bool)]
        if part is None or part.empty:
            found.append((None, None, None))
            continue
        counts = np.zeros(BINS, dtype=np.int64)
        np.add.at(counts, part["lat_bin"].to_numpy(dtype=np.int64), part["n"].to_numpy(dtype=np.int64))
        scan = window_rows(data_dir, f) if scans is None else scans[i]
        if int(counts.sum()) <= EXACT_MAX_ROWS and scan <= EXACT_MAX_SCAN:
            exact = _exact(data_dir, f, None)
            row = None if exact is None or exact.empty else exact.iloc[0]
            found.append(_triple(None if row is None else [row[name] for name in _NAMED]))
        else:
            found.append(_triple([from_histogram(counts, p) for p in _NAMED.values()]))
    return found


def _triple(values: list[object] | None) -> Triple:
    if values is None:
        return None, None, None
    p50, p95, p99 = (None if v is None or pd.isna(v) else float(v) for v in values)  # type: ignore[arg-type]
    return p50, p95, p99
