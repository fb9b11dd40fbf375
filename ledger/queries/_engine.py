"""DuckDB over the ledger's Delta snapshot files: one place that turns Filters into SQL.

Why DuckDB over the file list (not a glob, not pandas): `list_files` prunes to the UTC day
partitions the window touches, from the Delta log (files a commit replaced are not listed); DuckDB reads
only the columns a query names, pushes the time filter into row-group statistics, and
aggregates in parallel within a fixed memory limit. Measured in bench/bench_dashboard.py.

Each query runs on a cursor of one process-wide in-memory connection, so threads (Streamlit
sessions) share the parquet metadata cache but never a cursor.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from ledger.pricing import fx
from ledger.storage.store import list_files

from ._filters import DIMENSIONS, Filters
from ._measures import LATENCY_KEYS, LATENCY_ROWS, Measure, raw_columns
from ._rollups import BIN_SQL, plan, rollup_sql

MEMORY_LIMIT = os.environ.get("LEDGER_DUCKDB_MEMORY", "384MB")
THREADS = int(os.environ.get("LEDGER_DUCKDB_THREADS", "2"))
RAW_EXTRA = raw_columns()
"""Columns that give raw rows the shape of the totals rollup (see ledger.queries._measures)."""
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


def scan_sql(files: list[Path], by_name: bool = True) -> str:
    """A read_parquet() over exactly these files.

    by_name: old ledger files lacking newer columns read them as null; rollups, written by
    one version of the code (see VERSION), skip that per-file schema merge.
    """
    paths = ", ".join(_literal(str(f)) for f in files)
    return f"read_parquet([{paths}], union_by_name={str(by_name).lower()}, hive_partitioning=false)"


def where_sql(filters: Filters) -> tuple[str, list[Any]]:
    """The WHERE clause (without the keyword) and its parameters for a Filters."""
    clauses, params = dimension_sql(filters)
    return " AND ".join(["timestamp >= ?", "timestamp < ?", *clauses]), [filters.start_at, filters.end_at, *params]


def dimension_sql(filters: Filters) -> tuple[list[str], list[Any]]:
    """The clauses of `filters`' dimension filters over a ledger row (FALSE first when the scope denies every
    row), each over its dimension's SQL (`DIMENSIONS`), and their parameters."""
    clauses = ["FALSE"] if filters.denies_all else []
    params: list[Any] = []
    for dim, values in filters.dimension_filters().items():
        clauses.append(f"{DIMENSIONS[dim]} IN ({', '.join('?' * len(values))})")
        params.extend(values)
    return clauses, params


def use_rollups(filters: Filters) -> bool:
    """Rollups answer exactly when local hours are UTC hours: a window's whole UTC hours are read from
    them, and its unfinished edges (a window ending now, at 14:37) from the raw rows (`planned_source`)."""
    if os.environ.get("LEDGER_ROLLUPS", "1") == "0":
        return False
    return quantum(filters, "hour") == 3_600


HOUR = timedelta(hours=1)


def whole_hours(filters: Filters) -> tuple[datetime, datetime]:
    """The whole UTC hours inside the window, [first hour start, last hour end); empty when start >= end."""
    start = _hour_of(filters.start_at)
    return start if start == filters.start_at else start + HOUR, _hour_of(filters.end_at)


def _stamp(moment: datetime) -> str:
    return f"TIMESTAMPTZ '{moment.astimezone(UTC).isoformat()}'"


_LATENCY_ROW = f"""SELECT timestamp, {", ".join(LATENCY_KEYS)}, {BIN_SQL} AS lat_bin, 1::BIGINT AS n
    FROM {{scan}} WHERE {LATENCY_ROWS}"""
"""One raw row as a latency rollup row of its own (its own timestamp, not its hour's)."""


def planned_source(
    data_dir: Path, filters: Filters, raw: bool, kind: str, cuts: tuple[datetime, ...] = ()
) -> tuple[str | None, list[Path]]:
    """SQL for the rows to read, rollup-shaped (a weight `n` per row), and the files it reads;
    None when no file covers the window. Raw rows get n = 1; with rollups, the window's whole
    UTC hours read their days' rollups (a day without a fresh one is rolled up on the fly from
    its raw files), and the part-hours at its edges (a window ending now) read raw rows, as does
    the hour of each of `cuts` (instants a query tells rows apart at: a rollup row would straddle them)."""
    first, last = filters.utc_days()
    if raw or not use_rollups(filters):
        files = list_files(Path(data_dir), first, last)
        return (f"SELECT *, {RAW_EXTRA} FROM {scan_sql(files)}" if files else None), files
    start, end = whole_hours(filters)
    if start >= end:
        loose = [(filters.start_at, filters.end_at)]
    else:
        loose = [(a, b) for a, b in ((filters.start_at, start), (end, filters.end_at)) if a < b]
        split = {_hour_of(c) for c in cuts if start <= c < end and _hour_of(c) != c}
        loose += [(hour, hour + HOUR) for hour in sorted(split)]
    parts: list[str] = []
    read: list[Path] = []
    if start < end:
        source, files = _rollup_source(data_dir, start.date(), (end - HOUR).date(), kind)
        if source is not None:
            aligned = start == filters.start_at and end == filters.end_at and not loose
            inside = f"timestamp >= {_stamp(start)} AND timestamp < {_stamp(end)}"
            inside += "".join(f" AND NOT ({_between(a, b)})" for a, b in loose if start <= a < end)
            parts.append(source if aligned else f"SELECT * FROM ({source}) WHERE {inside}")
            read += files
    days = {
        d for a, b in loose for d in (a.astimezone(UTC).date(), (b - timedelta(microseconds=1)).astimezone(UTC).date())
    }
    loose_files = sorted({f for day in days for f in list_files(Path(data_dir), day, day)})
    if loose_files:
        shaped = (
            _LATENCY_ROW.format(scan=scan_sql(loose_files))
            if kind == "latency"
            else (f"SELECT *, {RAW_EXTRA} FROM {scan_sql(loose_files)}")
        )
        parts.append(f"SELECT * FROM ({shaped}) WHERE {' OR '.join(_between(a, b) for a, b in loose)}")
        read += loose_files
    return " UNION ALL BY NAME ".join(parts) or None, read


def _hour_of(moment: datetime) -> datetime:
    """The start of the UTC hour `moment` is in."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + (moment - epoch) // HOUR * HOUR


def _between(start: datetime, end: datetime) -> str:
    return f"(timestamp >= {_stamp(start)} AND timestamp < {_stamp(end)})"


def _rollup_source(data_dir: Path, first: date, last: date, kind: str) -> tuple[str | None, list[Path]]:
    """The rollup rows of the UTC days first..last: fresh rollup files, and the other days rolled up on the fly."""
    fresh, stale = plan(Path(data_dir), first, last, kind)
    parts = [f"SELECT * FROM {scan_sql(fresh, by_name=False)}"] if fresh else []
    if stale:
        parts.append(f"SELECT * FROM ({rollup_sql(scan_sql(stale), kind)})")
    return " UNION ALL BY NAME ".join(parts) or None, [*fresh, *stale]


def converted_sql(
    data_dir: Path,
    filters: Filters,
    source: str,
    where: str,
    currency: str | None = None,
    files: list[Path] | None = None,
) -> str:
    """`rows` over `source` with `cost` in the display currency (ledger.pricing.fx).

    `original_cost` keeps the row's own money; `unconverted` marks a priced row whose rate
    is missing (its `cost` is then null: left out of spend, never taken at 1.0). A row's
    rate is that of its UTC day, so an hourly rollup converts exactly as its raw rows do.
    When the `files` read hold the target currency only (parquet statistics), or no rate
    applies, there is no join: the same answer, at the speed of a plain scan; otherwise only
    the currencies the files hold are joined (an ECB file knows ~30).
    """
    shown = fx.display()
    target = (currency or shown.currency).upper()
    same = f"currency = {_literal(target)}"
    present = _currencies_in(files)
    first, last = filters.utc_days()
    only_target = present is not None and present <= {target}
    rates = None if only_target else fx.load_rates(data_dir, shown.overrides)
    factors = [] if rates is None else fx.factors(rates, target, first, last, currencies=present)
    if not factors:
        return f"""SELECT * REPLACE (CASE WHEN {same} THEN cost END AS cost), cost AS original_cost,
            (cost IS NOT NULL AND NOT {same}) AS unconverted FROM ({source}) WHERE {where}"""
    return f"""SELECT * EXCLUDE (fx_day, fx_cur, fx_rate)
        REPLACE (CASE WHEN {same} THEN cost ELSE cost * fx_rate END AS cost),
        cost AS original_cost, (cost IS NOT NULL AND NOT {same} AND fx_rate IS NULL) AS unconverted
        FROM ({source}) LEFT JOIN {fx.factors_sql(factors)} AS fx
        ON fx_cur = currency AND fx_day = epoch_us(timestamp) // 86400000000 WHERE {where}"""


def _currencies_in(files: list[Path] | None) -> frozenset[str] | None:
    """The currencies the `files` hold (parquet statistics); None when any file's are unknown."""
    if files is None:
        return None
    found: set[str] = set()
    for path in files:
        held = fx.file_currencies(path)
        if held is None:
            return None
        found |= held
    return frozenset(found)


def query(
    data_dir: Path,
    filters: Filters,
    select: str,
    params: list[Any] | None = None,
    raw: bool = False,
    kind: str = "totals",
    currency: str | None = None,
    cuts: tuple[datetime, ...] = (),
) -> pd.DataFrame | None:
    """Run `select` against a CTE named `rows` holding the filtered ledger rows.

    `rows` is rollup-shaped: count with sum(n), never count(*). Per-row columns such as
    latency_ms and rl_* exist only with raw=True. Returns None when no file covers the
    window. `params` bind the `?` placeholders in `select` after those of the filters.
    `kind` picks the rollup ("totals" or "latency", see ledger.queries._rollups). A file
    replaced between planning and reading (compaction, a rollup rebuilt) means a re-plan.
    With kind "totals", `cost` is in `currency` (default: the display currency), see
    `converted_sql`. `cuts`: instants inside the window that `select` tells rows apart at (read
    from raw rows around them, see `planned_source`).
    """
    where, where_params = where_sql(filters)
    for attempt in range(3):
        source, files = planned_source(data_dir, filters, raw, kind, cuts)
        if source is None:
            return None
        if kind == "totals" and ("cost" in select or "unconverted" in select):
            rows = converted_sql(data_dir, filters, source, where, currency, files)
        else:
            rows = f"SELECT * FROM ({source}) WHERE {where}"
        sql = f"WITH rows AS ({rows}) {select}"
        try:
            return connection().execute(sql, [*where_params, *(params or [])]).fetchdf()
        except duckdb.IOException:
            if attempt == 2:
                raise
    return None


def bucket_sql(grain: str, tz: str) -> str:
    """SQL for a row's time bucket, truncated in SQL (slow path, for non-additive measures)."""
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
    return _relocalize(stamps, tz)


def _relocalize(naive: pd.Series, tz: str) -> pd.Series:
    dst = np.ones(len(naive), dtype=bool)
    return naive.dt.tz_localize(tz, ambiguous=dst, nonexistent="shift_forward")


def quantum(filters: Filters, grain: str) -> int:
    """Seconds of the UTC slots rows are first grouped into: coarse enough to be few, fine
    enough that every local bucket boundary (zones are offset by multiples of 15 min) is one.
    """
    moments = (filters.start_at.astimezone(filters.tz), filters.end_at.astimezone(filters.tz))
    offsets = {int(m.utcoffset().total_seconds()) for m in moments}  # type: ignore[union-attr]
    if grain != "hour" and offsets == {0}:
        return 86_400
    return 3_600 if all(o % 3_600 == 0 for o in offsets) else 900


def slot_sql(seconds: int) -> str:
    """SQL for a row's UTC slot number: integer maths, several times faster than date_trunc."""
    return f"epoch_us(timestamp) // {seconds * 1_000_000}"


def slots_to_buckets(slots: pd.Series, seconds: int, grain: str, tz: str) -> pd.Series:
    """Local bucket start (tz-aware, in `tz`) of each UTC slot."""
    local = pd.to_datetime(slots.astype("int64") * seconds, unit="s", utc=True).dt.tz_convert(tz)
    if grain == "hour" and seconds == 3_600:
        return local
    naive = local.dt.tz_localize(None)
    if grain == "hour":
        floored = naive.dt.floor("h")
    elif grain == "day":
        floored = naive.dt.floor("D")
    elif grain == "week":
        floored = naive.dt.floor("D") - pd.to_timedelta(naive.dt.day_of_week, unit="D")
    else:
        floored = naive.dt.to_period("M").dt.to_timestamp()
    return _relocalize(floored, tz)


OTHER = "(other)"
"""The value every dimension value beyond the top N is shown as."""


def series(
    data_dir: Path,
    filters: Filters,
    grain: str,
    keys: dict[str, str],
    aggregates: dict[str, Measure],
    where: str = "true",
    top: tuple[int, tuple[str, ...]] | None = None,
) -> pd.DataFrame | None:
    """Measures per local time bucket and keys: bucket, *keys, *aggregates (column -> measure).

    Rows are grouped by UTC slot in DuckDB, then slots are mapped to local buckets and
    re-combined in pandas; so each measure must combine (a sum, min or max: ledger.queries._measures).
    `top` = (n, rank columns): only the n key values with the largest sums of the rank columns
    over the window keep their name, the others are summed as OTHER (one key only).
    """
    seconds = quantum(filters, grain)
    key_sql = "".join(f", {expr} AS {name}" for name, expr in keys.items())
    agg_sql = ", ".join(f"{m.sql} AS {name}" for name, m in aggregates.items())
    select = f"SELECT {slot_sql(seconds)} AS slot{key_sql}, {agg_sql} FROM rows WHERE {where} GROUP BY ALL"
    combine(aggregates)
    df = query(data_dir, filters, select)
    return None if df is None else by_bucket(df, filters, grain, list(keys), aggregates, top)


def combine(aggregates: dict[str, Measure]) -> dict[str, str]:
    """Column -> how its per-slot values add up; ValueError for a measure that cannot (a ratio, a percentile)."""
    how = {name: m.combine for name, m in aggregates.items()}
    if None in how.values():
        raise ValueError(f"series: {sorted(n for n, c in how.items() if c is None)} cannot be re-combined per bucket")
    return {name: str(c) for name, c in how.items()}


def by_bucket(
    df: pd.DataFrame,
    filters: Filters,
    grain: str,
    keys: list[str],
    aggregates: dict[str, Measure],
    top: tuple[int, tuple[str, ...]] | None = None,
) -> pd.DataFrame:
    """`series`' second half: rows per UTC slot (`slot`, *keys, *aggregates, slots of `quantum(filters, grain)`)
    to rows per local bucket, the keys beyond `top` lumped as OTHER."""
    df.insert(0, "bucket", slots_to_buckets(df.pop("slot"), quantum(filters, grain), grain, filters.timezone))
    if top is not None:
        (key,) = keys
        df[key] = lump(df, key, *top)
    how = combine(aggregates)
    grouped = df.groupby(["bucket", *keys], as_index=False, sort=True)
    if set(how.values()) == {"sum"}:  # the same sums in one pass over the columns (a dict's agg goes one by one)
        return grouped[list(how)].sum()
    return grouped.agg(how)


def lump(df: pd.DataFrame, key: str, n: int, rank: tuple[str, ...]) -> pd.Series:
    """`df[key]` with every value outside the n largest (by the sums of `rank`, then name) set to OTHER.

    Why in pandas: the frame is already grouped (slots x values), so ranking it costs no second
    scan of the ledger, and the rest is summed, never dropped, so totals stay exact.
    """
    values = df[key]
    if values.nunique() <= n and not values.hasnans:  # every value among the n largest: none lumped
        return values
    totals = df.groupby(key, as_index=False)[list(rank)].sum()
    ordered = totals.sort_values([*rank, key], ascending=[*(False for _ in rank), True])
    keep = set(ordered[key].head(n))
    return df[key].where(df[key].isin(keep), OTHER)
