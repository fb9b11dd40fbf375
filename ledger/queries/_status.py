"""Freshness: how recent the ledger is and whether the collector is keeping up.

Why both: "data up to 16:52" is the newest row (which a quiet API can leave old), while
"collected 40 s ago" is the collector's last successful poll; only the second says whether
the collector is stale. A source is stale after 3 missed polls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from ledger.storage import Document, remote
from ledger.storage.store import list_days

from ._engine import connection, scan_sql
from ._rollups import plan

STALE_POLLS = 3
STATUS = "state/collector.json"
"""The collector's status (collector/_state.StatusBoard) under the data_dir."""


@dataclass(frozen=True, kw_only=True)
class SourceStatus:
    name: str
    last_success: datetime | None
    last_error: str | None
    poll_seconds: int
    stale: bool


@dataclass(frozen=True)
class Freshness:
    """Newest row, last successful collection, and the per-source status (empty without a status file)."""

    data_up_to: datetime | None
    collected_at: datetime | None
    sources: tuple[SourceStatus, ...]
    active_collector: str | None = None  # the failover lease's holder (`[collector] lease_url`), if any

    @property
    def stale(self) -> bool:
        return any(s.stale for s in self.sources)

    @property
    def has_data(self) -> bool:
        return self.data_up_to is not None


def _parse(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def newest_row(data_dir: Path) -> datetime | None:
    """The latest `timestamp` in the ledger: the newest day's rollup when fresh, else its raw files."""
    days = list_days(Path(data_dir))
    if not days:
        return None
    rollups, raw = plan(Path(data_dir), days[-1], days[-1])
    if not rollups and not raw:
        return None
    sql = f"SELECT max(last_at) FROM {scan_sql(rollups)}" if rollups else f"SELECT max(timestamp) FROM {scan_sql(raw)}"
    value = connection().execute(sql).fetchone()
    return value[0] if value and value[0] is not None else None


def _source(name: str, raw: dict[str, object], now: datetime) -> SourceStatus:
    poll = int(raw.get("poll_seconds") or 60)  # type: ignore[call-overload]
    last = _parse(raw.get("last_success"))
    stale = last is None or (now - last).total_seconds() > STALE_POLLS * poll
    error = raw.get("last_error")
    return SourceStatus(
        name=name,
        last_success=last,
        last_error=error if isinstance(error, str) else None,
        poll_seconds=poll,
        stale=stale,
    )


def freshness(data_dir: Path, now: datetime | None = None) -> Freshness:
    """Read `<data_dir>/state/collector.json` (with an s3 data_dir, the object beside the ledger,
    so this host sees another host's collector) and the newest ledger row."""
    now = now or datetime.now(UTC)
    try:
        status = Document(Path(data_dir) / STATUS, remote.beside(data_dir, STATUS)).read()[0]
    except orjson.JSONDecodeError:
        status = {}
    raw_sources = status.get("sources") if isinstance(status, dict) else None
    sources = tuple(
        _source(name, raw, now) for name, raw in sorted((raw_sources or {}).items()) if isinstance(raw, dict)
    )
    successes = [s.last_success for s in sources if s.last_success]
    lease = status.get("lease") if isinstance(status, dict) else None
    holder = lease.get("holder") if isinstance(lease, dict) else None
    active = holder if isinstance(holder, str) else None
    return Freshness(newest_row(data_dir), max(successes) if successes else None, sources, active)
