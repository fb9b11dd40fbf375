"""The request ledger's Delta Lake table: one handle per process, its snapshot, its commits.

Why Delta (delta-rs): a commit is one atomic log entry, so every reader (ours through the log
itself, `delta_log.py`, or `DeltaTable.file_uris`; Spark, Trino, DuckDB, Polars) sees exactly the
files of one snapshot, whatever compaction or re-pricing is doing, with no visibility rule of our
own. A commit may carry an application transaction (`txn`: app id, version), which is how a batch
retried after a crash is recognised (`ledger.storage.ingest.Appender`).

The table is partitioned by `date` (the UTC day of `timestamp`, a `date` column kept in the log,
not in the files), so each data file holds exactly SCHEMA's columns. delta-rs writes a log
checkpoint every `CHECKPOINT_INTERVAL` commits, so opening the table stays fast.

On S3: `folder` is then the `requests` folder inside an s3 data_dir's local working folder
(foundation.location), and the table lives at its URL (`table_uri`). Every function here takes the
same local folder either way: commits go to S3 through delta-rs, and `files()` still returns local
paths, those of the read-through cache (`ledger.storage.remote`), downloading what a caller asks
for and the cache lacks. Across hosts, delta-rs's commit check refuses a commit that conflicts
(raised as `Conflict`): two hosts' commits of one batch number can never both land.

Example:
    >>> from ledger.storage.store import requests_dir
    >>> handle(requests_dir(Path("data"))) is None        # no table yet
    True
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc

from foundation import location
from foundation.errors import MonitorError

from . import delta_log, remote
from .schema import PARTITION, SCHEMA

if TYPE_CHECKING:
    from deltalake import DeltaTable

CHECKPOINT_INTERVAL = 100
TABLE_SCHEMA = SCHEMA.append(pa.field(PARTITION, pa.date32(), nullable=False))
"""SCHEMA plus the partition column, as the Delta log declares it."""


@dataclass(frozen=True)
class Layout:
    """A table's schema as the Delta log declares it (partition columns included) and its
    partition columns, in folder order. The request ledger is `LEDGER`; the billed table and the
    rollups (ledger.billing, ledger.queries) declare their own and use the `Layout` functions below."""

    schema: pa.Schema
    partitions: tuple[str, ...]

    @property
    def file_schema(self) -> pa.Schema:
        """The columns a data file holds (partition values live in the log and the folder names)."""
        return pa.schema([f for f in self.schema if f.name not in self.partitions])


LEDGER = Layout(TABLE_SCHEMA, (PARTITION,))
_handles: dict[str, DeltaTable] = {}
_snapshots: dict[str, tuple[int, dict[date, list[Path]]]] = {}
_marks: dict[str, tuple[int, int, int]] = {}
"""Per local table: its handle's version and that commit file's inode and mtime, as first seen."""
_spans: dict[str, bool] = {}
"""S3 tables inside a ledger-lock span of this process: True once brought up to date in it."""
_txns: dict[str, tuple[int, dict[str, int | None]]] = {}
"""Per table: a version and the batch numbers of the app ids known at exactly that version."""
_lock = threading.RLock()


def _writer() -> Any:
    """zstd level 1, as the ledger's files always were. deltalake is imported on first use, so a
    process that only needs the schema (the SQL box's worker, under its memory cap) never loads it."""
    from deltalake import WriterProperties

    return WriterProperties(compression="ZSTD", compression_level=1)


class Conflict(MonitorError):
    """Another writer (another host) committed first in a way this commit conflicts with."""


def table_uri(folder: Path) -> str:
    """Where the table of the local `folder` lives: its S3 URL (foundation.location), or the folder."""
    return location.url_of(folder) or str(Path(folder).absolute())


def is_table(folder: Path) -> bool:
    """Whether a table is at `folder`: on local disk, a log folder holding a commit
    (`delta_log.has_commit`: one a kill cut in its first commit is not a table yet); on S3, any
    object of its log (a commit object is put whole or not at all)."""
    uri = table_uri(folder)
    if uri.startswith(remote.SCHEME):
        return remote.exists(f"{uri}/_delta_log/")
    return delta_log.has_commit(Path(folder) / "_delta_log")


def handle(folder: Path) -> DeltaTable | None:
    """The process's handle on the table at `folder`, brought to its latest version; None if
    there is no table yet. Callers use it under this module's lock: a handle is shared across threads.

    Whether a commit followed the handle's version is one probe for the next commit file (`_next`):
    a `stat` on local disk, a HEAD on S3, never a listing of the log; the log is listed only when
    that file is there. Inside a ledger-lock span on S3 not even that (`span`)."""
    key = str(Path(folder).absolute())
    with _lock:
        table = _handles.get(key)
        uri = table_uri(Path(key))
        on_s3 = uri.startswith(remote.SCHEME)
        if table is None:
            if not is_table(Path(key)):
                return None
            from deltalake import DeltaTable

            table = _handles[key] = DeltaTable(uri)
        elif on_s3 and _spans.get(key, False):
            pass
        elif not on_s3 and not _same(key, int(table.version())):  # the table was deleted (and made again)
            _handles.pop(key, None)
            _marks.pop(key, None)
            return handle(folder)
        elif _next(uri, int(table.version())):
            table.update_incremental()
        if on_s3 and key in _spans:
            _spans[key] = True
        return table


def _next(uri: str, version: int) -> bool:
    """True when the commit after `version` exists. Exact, not a guess: Delta versions are
    contiguous and each commit creates its `<version>.json` whole and only if absent (a rename
    on local disk, a conditional put on S3, read-after-write consistent), so while the next one
    is missing the handle is the latest version."""
    name = f"_delta_log/{version + 1:020d}.json"
    if uri.startswith(remote.SCHEME):
        return remote.has(f"{uri}/{name}")
    return (Path(uri) / name).exists()


def _same(key: str, version: int) -> bool:
    """False when the local table's commit file of `version` is gone or another file than the one
    first seen at that version: the folder was deleted and a table made again in it (a test, or
    by hand), whose log the handle must not follow (`delta_log.commit_mark`)."""
    found = delta_log.commit_mark(Path(key) / "_delta_log", version)
    if found is None:
        return False
    mark = _marks.get(key)
    if mark is None or mark[0] != version:  # the handle moved: this is the commit it moved to
        _marks[key] = (version, *found)
        return True
    return mark[1:] == found


@contextmanager
def span(folder: Path) -> Iterator[None]:
    """The ledger lock's span (`store.ledger_lock`): on S3 the handle is brought up to date once
    at its start, not at every call (no other writer of this host can commit meanwhile, this
    process's own commits move the handle, and another host's conflicting commit is refused by
    delta-rs). Outside a span every call probes for the next commit, so a reader never misses one."""
    key = str(Path(folder).absolute())
    with _lock:
        _spans[key] = False
    try:
        yield
    finally:
        with _lock:
            _spans.pop(key, None)


def create(folder: Path, layout: Layout = LEDGER) -> DeltaTable:
    """The table at `folder`, created empty if missing (the caller holds the ledger lock, or the
    table's own)."""
    with _lock:
        table = handle(folder)
        if table is not None:
            return table
        Path(folder).mkdir(parents=True, exist_ok=True)
        from deltalake import DeltaTable

        DeltaTable.create(
            table_uri(folder),
            schema=layout.schema,
            partition_by=list(layout.partitions),
            mode="ignore",
            configuration={"delta.checkpointInterval": str(CHECKPOINT_INTERVAL)},
        )
        made = handle(folder)
        assert made is not None
        return made


def with_day(rows: pa.Table) -> pa.Table:
    """SCHEMA rows plus their partition column."""
    rows = rows.cast(SCHEMA)
    days = pc.cast(pc.cast(rows["timestamp"], pa.timestamp("us")), pa.date32())
    return rows.append_column(TABLE_SCHEMA.field(PARTITION), days)


def day_predicate(days: list[date]) -> str:
    """A SQL predicate on the partition column selecting exactly `days`."""
    return " OR ".join(f"{PARTITION} = '{d.isoformat()}'" for d in sorted(set(days))) or "FALSE"


def _by_day(folder: Path) -> dict[date, list[Path]]:
    """The current snapshot's files per day, computed once per table version (a dashboard
    asks for each day of a window in turn). Read from the log itself (`delta_log`), so a reader
    never imports deltalake; through deltalake on S3 or when that log needs it."""
    listed = None if table_uri(folder).startswith(remote.SCHEME) else delta_log.snapshot(folder)
    if listed is not None:
        return _grouped(str(Path(folder).absolute()), *listed)
    table = handle(folder)
    if table is None:
        return {}
    key = (str(Path(folder).absolute()), table.version())
    cached = _snapshots.get(key[0])
    if cached is not None and cached[0] == key[1]:
        return cached[1]
    out: dict[date, list[Path]] = {}
    prefix = f"{PARTITION}="
    base = table_uri(folder)
    on_s3 = base.startswith(remote.SCHEME)
    for uri in table.file_uris():
        path = remote.local_path(base, Path(key[0]), uri) if on_s3 else Path(uri)
        out.setdefault(date.fromisoformat(path.parent.name.removeprefix(prefix)), []).append(path)
    for paths in out.values():
        paths.sort()
    _snapshots[key[0]] = (key[1], out)
    return out


def _grouped(key: str, version: int, active: dict[str, date]) -> dict[date, list[Path]]:
    """`delta_log.snapshot`'s files per day, kept per version as `_by_day` keeps deltalake's."""
    cached = _snapshots.get(key)
    if cached is not None and cached[0] == version:
        return cached[1]
    out: dict[date, list[Path]] = {}
    for path, day in active.items():
        out.setdefault(day, []).append(Path(path))
    for paths in out.values():
        paths.sort()
    _snapshots[key] = (version, out)
    return out


def files(folder: Path, first: date | None = None, last: date | None = None, fetch: bool = True) -> list[Path]:
    """The data files of the current snapshot whose day is in [first, last] (None = open); on
    S3, their cached copies, downloaded here if missing (`fetch=False`: only their names, for a
    caller that reads few of them and `fetch`es those)."""
    with _lock:
        days = _by_day(folder)
        chosen = sorted(
            f
            for day, paths in days.items()
            if (first is None or day >= first) and (last is None or day <= last)
            for f in paths
        )
    if fetch:
        ensure(folder, chosen)
    return chosen


def ensure(folder: Path, paths: list[Path]) -> None:
    """Download the missing ones of these `files(..., fetch=False)` (nothing to do on local disk)."""
    base = table_uri(folder)
    if base.startswith(remote.SCHEME) and paths:
        local = Path(folder).absolute()
        remote.fetch_missing((f"{base}/{f.relative_to(local).as_posix()}", f) for f in paths)


def files_by_day(folder: Path, first: date, last: date, fetch: bool = True) -> dict[date, list[Path]]:
    """The current snapshot's files of each day in [first, last] that has any (one snapshot read
    for a whole window: the rollup planner asks per day); on S3 downloaded if missing, as `files`
    (`fetch=False`: only their names; the planner fetches the days no rollup answers)."""
    with _lock:
        chosen = {day: list(paths) for day, paths in _by_day(folder).items() if first <= day <= last}
    if fetch:
        ensure(folder, [f for paths in chosen.values() for f in paths])
    return chosen


def days(folder: Path) -> list[date]:
    """The day partitions of the current snapshot, oldest first."""
    with _lock:
        return sorted(_by_day(folder))


def version(folder: Path) -> int | None:
    """The table's latest version, or None if there is no table yet."""
    with _lock:
        table = handle(folder)
        return None if table is None else table.version()


def txn_version(folder: Path, app_id: str) -> int | None:
    """The last batch number committed for `app_id`, or None.

    delta-rs reads a txn by replaying the log since the last checkpoint, a request per commit on
    S3, so the answer is kept with the version it holds at: this process's own commits roll it
    forward (`_committed`), any other commit makes the next call ask delta-rs again."""
    with _lock:
        table = handle(folder)
        if table is None:
            return None
        key, version = str(Path(folder).absolute()), table.version()
        known = _txns.get(key)
        if known is None or known[0] != version:
            known = _txns[key] = (version, {})
        if app_id not in known[1]:
            known[1][app_id] = table.transaction_version(app_id)
        return known[1][app_id]


def _committed(folder: Path, before: int, after: int, batch: tuple[str, int] | None) -> None:
    """After this process's commit took the table from `before` to `after`: roll the known batch
    numbers forward if that commit was the only one between (else forget them)."""
    key = str(Path(folder).absolute())
    known = _txns.get(key)
    if known is None or after == before:
        return
    if known[0] != before or after != before + 1:
        _txns.pop(key, None)
        return
    if batch is not None:
        known[1][batch[0]] = batch[1]
    _txns[key] = (after, known[1])


def append(folder: Path, rows: pa.Table, batch: tuple[str, int] | None = None) -> int:
    """One commit adding `rows` (SCHEMA), with the application transaction `batch` if given;
    returns that commit's version (past any other writer's that landed first)."""
    from deltalake import CommitProperties, Transaction

    with _lock:
        table = create(folder)
        txns = [] if batch is None else [Transaction(app_id=batch[0], version=batch[1])]
        before = table.version()
        write_deltalake(
            table,
            with_day(rows),
            mode="append",
            partition_by=[PARTITION],
            writer_properties=_writer(),
            commit_properties=CommitProperties(app_transactions=txns),
        )
        mine = int(table.version())  # the writer moved the handle to its own commit: nothing to list
        _committed(folder, before, mine, batch)
        return mine


def replace_days(folder: Path, rows: pa.Table, replaced: list[date]) -> None:
    """One commit replacing every row of the `replaced` days by `rows` (a predicate overwrite)."""
    with _lock:
        before = create(folder).version()
        after = overwrite(folder, with_day(rows), day_predicate(replaced), LEDGER)
        _committed(folder, before, after, None)


def compact(folder: Path, days: list[date]) -> int:
    """Delta's optimize (bin-packing) of these days, in one commit; returns the files it rewrote.
    One day at a time (`max_concurrent_tasks=1`): two at once took as long on two busy cores, and
    more memory."""
    with _lock:
        table = handle(folder)
        if table is None or not days:
            return 0
        only = [(PARTITION, "in", [day.isoformat() for day in sorted(set(days))])]
        before = table.version()
        metrics = table.optimize.compact(partition_filters=only, writer_properties=_writer(), max_concurrent_tasks=1)
        table.update_incremental()
        _committed(folder, before, table.version(), None)
        return int(metrics.get("numFilesRemoved", 0))


def write_deltalake(table: DeltaTable, data: pa.Table, **options: Any) -> None:
    """deltalake's writer (a module function here, so tests can wrap the commit); a commit that
    conflicts with another writer's raises `Conflict`."""
    from deltalake import write_deltalake as write
    from deltalake.exceptions import CommitFailedError

    try:
        write(table, data, **options)
    except CommitFailedError as exc:
        table.update_incremental()
        raise Conflict(
            f"ledger commit refused: {exc}; another writer committed first, nothing of this one landed"
        ) from None


def vacuum(folder: Path, retention_hours: int) -> list[str]:
    """Delete files no snapshot younger than `retention_hours` refers to; returns them."""
    with _lock:
        table = handle(folder)
        if table is None:
            return []
        deleted = table.vacuum(retention_hours=retention_hours, dry_run=False, enforce_retention_duration=False)
        base = table_uri(folder)
        if base.startswith(remote.SCHEME):
            remote.evict(base, Path(folder))
        return deleted


def overwrite(folder: Path, rows: pa.Table, predicate: str | None, layout: Layout, new_schema: bool = False) -> int:
    """One commit replacing every row of the table at `folder` that matches the SQL `predicate` by
    `rows` (in `layout.schema`, each matching `predicate`); creates the table if missing. Rows of
    a file that do not match are kept (delta-rs rewrites that file), so a commit replacing one key
    never loses another key's rows. Returns the commit's version; `Conflict` if another writer's
    commit touched the same files first (nothing of this one landed: read again and retry).
    `predicate` None replaces every row; with `new_schema` the table takes `layout.schema` then
    (a table of derived rows whose columns changed)."""
    with _lock:
        table = create(folder, layout)
        _replace(table, rows, predicate, layout, new_schema)
        table.update_incremental()
        return int(table.version())


def _replace(
    table: DeltaTable, rows: pa.Table, predicate: str | None, layout: Layout, new_schema: bool = False
) -> None:
    """The predicate overwrite `overwrite` and `fill` commit (see `overwrite`)."""
    write_deltalake(
        table,
        rows.select(layout.schema.names).cast(layout.schema),
        mode="overwrite",
        predicate=predicate,
        partition_by=list(layout.partitions),
        writer_properties=_writer(),
        **({"schema_mode": "overwrite"} if new_schema else {}),
    )


def fill(folder: Path, rows: pa.Table, predicate: str, layout: Layout, tries: int = 5) -> int | None:
    """One commit writing `rows` (in `layout.schema`, each matching the SQL `predicate`) as the
    table's rows of `predicate`, only if it holds none yet; creates the table if missing. Returns
    the commit's version, or None when the table holds such rows (nothing written).

    The check and the commit start from one snapshot (the handle's version, not moved between
    them): if another writer (another host) commits rows of `predicate` after that snapshot,
    delta-rs refuses this commit (a predicate overwrite reads what `predicate` selects, and the
    other's added file matches it), so the check is made again on the newer snapshot; `Conflict`
    after `tries` refused commits."""
    with _lock:
        table = create(folder, layout)
        for _ in range(tries):
            if _holds(table, predicate):
                return None
            try:
                _replace(table, rows, predicate, layout)
            except Conflict:  # the handle was moved to the latest version: check again there
                continue
            table.update_incremental()
            return int(table.version())
        raise Conflict(
            f"commit writing the rows of {predicate} refused {tries} times: other writers kept committing first"
        )


def _holds(table: DeltaTable, predicate: str) -> bool:
    """Whether the handle's snapshot (its version, not the latest) has a row matching `predicate`."""
    from deltalake import QueryBuilder

    found = QueryBuilder().register("t", table).execute(f"SELECT 1 FROM t WHERE {predicate} LIMIT 1").read_all()
    return int(pa.table(found).num_rows) > 0


def partitioned(folder: Path) -> dict[Path, dict[str, str]]:
    """Every data file of the current snapshot of the table at `folder` with its partition values
    (from its folder names: delta-rs writes `column=value/` folders in partition order); local
    paths, on S3 those of the read-through cache, not downloaded (`ensure` them). {} when there is
    no table. For a table of any `Layout`; locally from the log itself (`delta_log.paths`)."""
    root = Path(folder).absolute()
    base = table_uri(root)
    on_s3 = base.startswith(remote.SCHEME)
    listed = None if on_s3 else delta_log.paths(root)
    if listed is not None:
        found = [Path(path) for path in listed[1]]
    else:
        with _lock:
            if not on_s3 and not is_table(root):
                _handles.pop(str(root), None)
                return {}
            table = handle(root)
            uris = [] if table is None else table.file_uris()
        found = [remote.local_path(base, root, uri) if on_s3 else Path(uri) for uri in uris]
    return {path: _hive(root, path) for path in found}


def _hive(root: Path, path: Path) -> dict[str, str]:
    """The partition values in `path`'s `column=value` folders under `root`."""
    try:
        parts = path.relative_to(root).parts[:-1]
    except ValueError:
        parts = path.parent.parts
    return {k: unquote(v) for k, _, v in (part.partition("=") for part in parts if "=" in part)}


def read(folder: Path, layout: Layout, keep: Callable[[dict[str, str]], bool] | None = None) -> pa.Table:
    """The rows of the current snapshot of the table at `folder` (in `layout.schema`), of the files
    whose partition values `keep` accepts (all if None); on S3 through the read-through cache."""
    import pyarrow.dataset as ds

    chosen = {path: values for path, values in partitioned(folder).items() if keep is None or keep(values)}
    ensure(folder, sorted(chosen))
    groups: dict[tuple[str, ...], list[Path]] = {}
    for path, values in chosen.items():
        groups.setdefault(tuple(values.get(name, "") for name in layout.partitions), []).append(path)
    parts = []
    for key, paths in sorted(groups.items()):
        rows = ds.dataset([str(p) for p in sorted(paths)], schema=layout.file_schema, format="parquet").to_table()
        for name, value in zip(layout.partitions, key, strict=True):
            field = layout.schema.field(name)
            rows = rows.append_column(field, pa.array([value] * rows.num_rows, pa.string()).cast(field.type))
        parts.append(rows.select(layout.schema.names))
    return pa.concat_tables(parts) if parts else layout.schema.empty_table()
