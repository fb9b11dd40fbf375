"""The ledger's spend for a limit's period, read in the background (every `ledger_refresh_seconds`).

Why the ledger and the gateway's own records together: the ledger holds what every collector
run priced (earlier replicas, restarts, other sources); the gateway's own records cover the
minutes since. The ledger figure is taken up to `as_of`, the minute of the newest row the
collector brought from `ledger_source` (this gateway's source name in the collector config),
and the shared state adds the gateway's own spend from that minute on. So nothing is counted
twice, except a request that started before `as_of` and finished after it (counted twice,
never missed). Reads the files of the Delta snapshot with `ledger.storage.store.list_files`
and pyarrow, on the limits' worker thread, never on the request path.

Example:
    >>> from tests.builders import build_ledger
    >>> from gateway._limit_periods import period_at
    >>> now = datetime(2026, 11, 2, 12, tzinfo=UTC)
    >>> _ = build_ledger(Path("data"), n_records=500, days=2, seed=7, end=now)
    >>> period = period_at("day", now.timestamp(), "UTC")
    >>> refresh = ledger_refresher(Path("data"), "gateway")
    >>> every = lambda value: True
    >>> spent, as_of = refresh(Limit(name="search", project="search", amount=10.0), period.start, period.end,
    ...                        lambda project: project == "search", every)
    >>> round(spent, 4), as_of        # the ledger's spend, up to the minute of its newest gateway row
    (0.011, 29893665)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from foundation.limit_rules import Limit

from ._limit_periods import minute_of

_COLUMNS = ["source", "timestamp", "model", "project", "api_key_id", "cost"]


Covers = Callable[[str | None], bool]
Refresher = Callable[[Limit, float, float, Covers, Covers], tuple[float, int] | None]
"""(limit, period start, period end, does it cover a row's project, a row's model) -> (spend, as_of minute)."""


def ledger_refresher(data_dir: Path, source: str) -> Refresher:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from ledger.storage.store import list_files

    def refresh(
        limit: Limit, start: float, end: float, covers_project: Covers, covers_model: Covers
    ) -> tuple[float, int] | None:
        """The spend of the rows the limit covers (`covers_*` say which project and model values, as the
        request path decides: normalised, the catch-all, aliases) and its key ids, before `as_of`."""
        first = datetime.fromtimestamp(start, UTC).date() - timedelta(days=1)
        last = datetime.fromtimestamp(end, UTC).date()
        files = list_files(data_dir, first, last)
        if not files:
            return None
        table = pa.concat_tables([pq.read_table(f, columns=_COLUMNS) for f in files], promote_options="default")
        ts = pc.divide(pc.cast(table["timestamp"], pa.int64()), 1_000_000).to_numpy(zero_copy_only=False)
        own = pc.equal(table["source"], source).to_numpy(zero_copy_only=False)
        as_of = minute_of(float(ts[own].max())) if own.any() else minute_of(start)
        keep = (ts >= start) & (ts < min(end, as_of * 60))
        for column, covers in (("project", covers_project), ("model", covers_model)):
            values = [v for v in pc.unique(table[column]).to_pylist() if covers(v)]
            chosen = pc.is_in(table[column], pa.array(values, pa.string()))  # a null matches when None is chosen
            keep &= pc.fill_null(chosen, False).to_numpy(zero_copy_only=False)
        if limit.api_key is not None:
            keys = pa.array(sorted(limit.key_ids), pa.string())
            keep &= pc.fill_null(pc.is_in(table["api_key_id"], keys), False).to_numpy(zero_copy_only=False)
        cost = pc.fill_null(table["cost"], 0.0).to_numpy(zero_copy_only=False)
        return float(cost[keep].sum()), as_of

    return refresh
