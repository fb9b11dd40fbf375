"""Running jobs: once (for cron, tests and CI) or forever under APScheduler 3.

Why these job defaults: `coalesce` folds a backlog of missed runs into one, `max_instances=1`
stops a slow poll from overlapping itself (two polls on one cursor would race), and a misfire
grace of half the interval drops a run that is too late to be useful instead of bunching.
SIGTERM and SIGINT set the stop flag (polls finish the page they are writing) and shut the
scheduler down after running jobs return.

Why a lock per job across processes (`exclusive_jobs`): `max_instances` only guards one
process. A `--once` beside the daemon, or a second daemon started by mistake, would poll the
same cursor at the same time, and two writers each deciding an id is new store it twice. So
every job runs under `<data_dir>/state/locks/<job>.lock` (flock: released by the kernel even on
SIGKILL). A second process waits for the current run to end, logging one `lock_wait` line
naming the holder, then runs itself: a poll continues from the cursor the first one advanced
to (usually nothing left to fetch), the alert engine sees the state the first one saved.
"""

from __future__ import annotations

import hashlib
import re
import signal
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from foundation.jobs import Job
from foundation.locks import FileLock, Holder
from foundation.log import event_logger

from ._context import Context
from ._lease import Failover

log = event_logger("collector")


def job_lock(data_dir: Path, name: str) -> FileLock:
    """The lock one job runs under, in every process on this data_dir."""
    slug = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:60]
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return FileLock(Path(data_dir) / "state" / "locks" / f"{slug}-{digest}.lock", f"collector job {name}")


def exclusive(job: Job, data_dir: Path, stop: threading.Event) -> Job:
    """`job`, run under its lock: one runner at a time across processes (see module docstring).

    A stop asked while waiting skips the run (nothing was started, so nothing failed).
    """
    lock = job_lock(data_dir, job.name)

    def waiting(holder: Holder | None) -> None:
        log.warning(
            "lock_wait",
            job=job.name,
            holder=holder.describe() if holder else "another process",
            lock=str(lock.path),
            hint="another collector on this data_dir is running this job; waiting for it to finish, then "
            "continuing from where it left off (run one collector per data_dir to avoid the wait)",
        )

    def run() -> bool:
        with lock.held(stop=stop, on_wait=waiting) as got:
            if not got:
                log("lock_wait_stopped", job=job.name)
                return True
            return job.run()

    return replace(job, run=run)


def exclusive_jobs(jobs: list[Job], context: Context) -> list[Job]:
    return [exclusive(job, context.data_dir, context.stop) for job in jobs]


def run_once(jobs: list[Job]) -> list[str]:
    """Run every job once, in order; the names of those that failed."""
    return [job.name for job in jobs if not job.run()]


def _add(scheduler: BlockingScheduler, job: Job) -> None:
    if job.interval_seconds is not None:
        trigger = IntervalTrigger(seconds=job.interval_seconds, timezone=UTC)
        grace = max(1, job.interval_seconds // 2)
        scheduler.add_job(
            job.run, trigger, id=job.name, name=job.name, misfire_grace_time=grace, next_run_time=datetime.now(UTC)
        )
    else:
        trigger = CronTrigger(hour=job.daily_hour_utc or 0, minute=7, timezone=UTC)
        scheduler.add_job(job.run, trigger, id=job.name, name=job.name, misfire_grace_time=3600)


class InFlight:
    """Counts jobs running, so shutdown can wait for the writes in progress."""

    def __init__(self) -> None:
        self._running = 0
        self._idle = threading.Condition()

    def wrap(self, run: Callable[[], bool]) -> Callable[[], bool]:
        def tracked() -> bool:
            with self._idle:
                self._running += 1
            try:
                return run()
            finally:
                with self._idle:
                    self._running -= 1
                    self._idle.notify_all()

        return tracked

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._running == 0, timeout)


def build_scheduler(jobs: list[Job], inflight: InFlight | None = None) -> BlockingScheduler:
    scheduler = BlockingScheduler(
        timezone=UTC,
        executors={"default": ThreadPoolExecutor(max_workers=max(2, len(jobs)))},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
    )
    for job in jobs:
        _add(scheduler, replace(job, run=inflight.wrap(job.run)) if inflight else job)
    return scheduler


def run_forever(
    jobs: list[Job], context: Context, drain_seconds: float = 120.0, failover: Failover | None = None
) -> None:
    """Block until SIGTERM/SIGINT, then stop after the writes in progress.

    The handler only sets flags (no locks, no I/O: it interrupts the main thread anywhere);
    the waiting for running jobs happens after the scheduler loop returns. With a `failover`
    (its jobs gated by it), the lease keeper runs beside the scheduler; on taking the lease
    every interval job runs at once, and a clean stop releases the lease for a standby.
    """
    inflight = InFlight()
    scheduler = build_scheduler(jobs, inflight)
    received: list[int] = []
    if failover is not None:

        def run_now() -> None:
            for job in jobs:
                if job.interval_seconds is not None:
                    scheduler.modify_job(job.name, next_run_time=datetime.now(UTC))

        failover.on_acquired = run_now
        failover.start()

    def stop(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        context.stop.set()
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log("started", jobs=[job.name for job in jobs], data_dir=str(context.data_dir))
    scheduler.start()
    if received:
        log("stopping", signal=signal.Signals(received[0]).name)
    drained = inflight.wait_idle(drain_seconds)
    if failover is not None:
        failover.release()
    log("stopped", drained=drained)
