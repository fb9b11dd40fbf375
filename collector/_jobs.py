"""Jobs the scheduler runs: one poll job per source, daily compaction, rollups, rates, and extras.

Why a registry of source kinds: the usage endpoint is the first kind; provider usage APIs
(Mistral Admin, OpenAI, Anthropic) plug in as more kinds without touching the scheduler.

Example:
    >>> from pathlib import Path
    >>> from collector.config import Config
    >>> source = SourceConfig(name="simulator", kind="usage_endpoint", url="http://127.0.0.1:8765")
    >>> jobs = build_jobs(Context.build(Config(data_dir=Path("data"), sources=(source,))))
    >>> [job.name for job in jobs]       # `python -m collector` adds the alert jobs with extra=
    ['poll:simulator', 'compact', 'rollups']
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from ledger import compact_closed_days, update_rollups

from ._context import Context
from ._fx_job import fx_jobs
from ._job import Job
from ._log import log, register_secret
from ._usage import UsageEndpointSource
from .config import SourceConfig
from .errors import PollError
from .providers import FACTORIES as PROVIDER_FACTORIES


class Source(Protocol):
    def poll(self) -> Any: ...
    def close(self) -> None: ...


ROLLUP_SECONDS = 300
SourceFactory = Callable[..., Source]  # called as factory(source=..., context=...)
SOURCE_FACTORIES: dict[str, SourceFactory] = {"usage_endpoint": UsageEndpointSource, **PROVIDER_FACTORIES}


def poll_job(source: SourceConfig, context: Context) -> Job:
    """Wrap a source: log one line per poll, record status; a failure keeps the cursor."""
    register_secret(source.token())
    impl = SOURCE_FACTORIES[source.kind](source=source, context=context)

    def run() -> bool:
        start = time.perf_counter()
        try:
            result = impl.poll()
        except PollError as exc:
            context.status.record(source.name, source.kind, source.poll_seconds, False, 0, 0, str(exc))
            log("poll_failed", source=source.name, error=str(exc), duration_s=round(time.perf_counter() - start, 3))
            return False
        fields = vars(result) if hasattr(result, "__dict__") else {"result": result}
        context.status.record(source.name, source.kind, source.poll_seconds, True,
                              fields.get("records", 0), fields.get("quarantined", 0))  # fmt: skip
        log("poll", source=source.name, duration_s=round(time.perf_counter() - start, 3), **fields)
        return True

    return Job(f"poll:{source.name}", run, interval_seconds=source.poll_seconds)


def compaction_job(context: Context) -> Job:
    def run() -> bool:
        days = compact_closed_days(context.data_dir, datetime.now(UTC).date())
        log("compacted", days=[d.isoformat() for d in days])
        return True

    return Job("compact", run, daily_hour_utc=context.config.compaction_hour_utc)


def rollup_job(context: Context) -> Job:
    """Keep the dashboard's hourly rollups fresh; cheap when no day changed (a hash of names)."""

    def run() -> bool:
        start = time.perf_counter()
        written = update_rollups(context.data_dir)
        log("rollups", files=len(written), duration_s=round(time.perf_counter() - start, 3))
        return True

    return Job("rollups", run, interval_seconds=ROLLUP_SECONDS)


JobFactory = Callable[[Context], list["Job"]]


def build_jobs(context: Context, extra: Sequence[JobFactory] = ()) -> list[Job]:
    """The collector's own jobs plus those of `extra` factories (the CLI passes the alerts engine's)."""
    jobs = [poll_job(s, context) for s in context.config.sources if s.enabled]
    jobs.extend([compaction_job(context), rollup_job(context)])
    jobs.extend(fx_jobs(context))
    for factory in extra:
        jobs.extend(factory(context))
    return jobs
