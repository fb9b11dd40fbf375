"""Jobs the scheduler runs: one poll job per source, daily compaction, rollups and rates.

Why a registry of source kinds: the usage endpoint is the first kind; provider usage APIs
(Mistral Admin, OpenAI, Anthropic) plug in as more kinds without touching the scheduler.

Example:
    >>> from pathlib import Path
    >>> from foundation.config import Config
    >>> source = SourceConfig(name="simulator", kind="usage_endpoint", url="http://127.0.0.1:8765")
    >>> jobs = build_jobs(Context.build(Config(data_dir=Path("data"), sources=(source,))))
    >>> [job.name for job in jobs]       # `python -m collector` adds the alert jobs
    ['poll:simulator', 'compact', 'rollups']
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from foundation.config import SourceConfig
from foundation.jobs import Job
from foundation.log import event_logger
from foundation.scrub import register_secret
from ledger import compact_closed_days, update_rollups

from ._context import Context
from ._fx_job import fx_jobs
from ._usage import UsageEndpointSource
from .errors import PollError
from .providers import FACTORIES as PROVIDER_FACTORIES

log = event_logger("collector")


class Source(Protocol):
    def poll(self) -> Any: ...
    def close(self) -> None: ...


ROLLUP_SECONDS = 300
SourceFactory = Callable[..., Source]  # called as factory(source=..., context=...)
SOURCE_FACTORIES: dict[str, SourceFactory] = {"usage_endpoint": UsageEndpointSource, **PROVIDER_FACTORIES}


def poll_job(source: SourceConfig, context: Context) -> Job:
    """Wrap a source: log one line per poll, record status; a failure keeps the cursor. The job's
    `close` closes the source's client."""
    register_secret(source.token())
    impl = SOURCE_FACTORIES[source.kind](source=source, context=context)

    def run() -> bool:
        start = time.perf_counter()
        try:
            result = impl.poll()
        except PollError as exc:
            context.status.record(source.name, source.kind, source.poll_seconds, False, 0, 0, str(exc))
            duration = round(time.perf_counter() - start, 3)
            log.error("poll_failed", source=source.name, error=str(exc), duration_s=duration)
            return False
        fields = vars(result) if hasattr(result, "__dict__") else {"result": result}
        context.status.record(
            source.name, source.kind, source.poll_seconds, True, fields.get("records", 0), fields.get("quarantined", 0)
        )
        log("poll", source=source.name, duration_s=round(time.perf_counter() - start, 3), **fields)
        return True

    return Job(name=f"poll:{source.name}", run=run, interval_seconds=source.poll_seconds, close=impl.close)


def compaction_job(context: Context) -> Job:
    def run() -> bool:
        days = compact_closed_days(context.data_dir, datetime.now(UTC).date())
        log("compacted", days=[d.isoformat() for d in days])
        return True

    return Job(name="compact", run=run, daily_hour_utc=context.config.compaction_hour_utc)


def rollup_job(context: Context) -> Job:
    """Keep the dashboard's hourly rollups fresh; cheap when no day changed (a hash of names)."""

    def run() -> bool:
        start = time.perf_counter()
        written = update_rollups(context.data_dir)
        log("rollups", files=len(written), duration_s=round(time.perf_counter() - start, 3))
        return True

    return Job(name="rollups", run=run, interval_seconds=ROLLUP_SECONDS)


def build_jobs(context: Context) -> list[Job]:
    """The collector's own jobs; `python -m collector` adds the alert engine's to them."""
    jobs = [poll_job(s, context) for s in context.config.sources if s.enabled]
    jobs.extend([compaction_job(context), rollup_job(context)])
    jobs.extend(fx_jobs(context))
    return jobs
