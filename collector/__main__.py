"""`python -m collector [--config FILE] [--once]`, plus `reprice`, `compact` and `migrate` commands.

`migrate` turns a ledger of the old file layout into the Delta table (ledger.storage.migrate);
every other command does it first by itself, so a collector upgraded in place just starts.

`reprice` and `compact` show their progress (days done, rate, time left): a bar on a terminal,
`progress` log lines otherwise (foundation.progress); so does a poll paging through a long window
(`--once` after a long gap, a first backfill: `_usage.Backfill`).

The one place that wires the alerts engine's jobs into the collector's schedule.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from alerts import collector_jobs
from foundation.config import load_config
from foundation.errors import ConfigError
from foundation.jobs import Job
from foundation.log import add_log_level_argument, configure_logging
from foundation.progress import tracker
from ledger import compact_closed_days
from ledger.storage.migrate import migrate

from ._context import Context
from ._jobs import build_jobs
from ._lease import Failover, failover_for
from ._reprice import reprice
from ._runner import exclusive_jobs, run_forever, run_once
from .errors import CollectorError

JEMALLOC_CONF = ("_RJEM_MALLOC_CONF", "dirty_decay_ms:250,muzzy_decay_ms:0")
"""delta-rs's own allocator (jemalloc, in the deltalake wheel) keeps freed pages for 10 s by default,
so a backfill's commits, the compaction after it and the rollups each kept their peak on top of the
last: 520-560 MB after a 1M-record `--once`. Returning them after 250 ms kept it at ~465 MB for ~6% more
CPU (0 ms: ~470 MB, but 25% more CPU). Read when deltalake is first loaded, so set before it; a value
already in the environment wins."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m collector", description="Poll usage sources into the ledger.")
    parser.add_argument("--config", type=Path, help="TOML config (default: $MONITOR_CONFIG or the embedded default)")
    parser.add_argument("--once", action="store_true", help="run every job once and exit")
    parser.add_argument("command", nargs="?", choices=("run", "reprice", "compact", "migrate"), default="run")
    add_log_level_argument(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault(*JEMALLOC_CONF)
    args = _parser().parse_args(argv)
    configure_logging(args.log_level)
    try:
        config = load_config(args.config)
        moved = migrate(config.data_dir)
        if moved.mismatch is not None:
            print(moved.mismatch, file=sys.stderr)
            if args.command == "migrate":
                return 1
        if args.command == "migrate":
            print(f"ledger migration: {moved.days} days, {moved.rows} rows moved, {moved.removed} old files removed")
            return 0
        context = Context.build(config)
        if args.command == "reprice":
            print(reprice(config.data_dir, context.book, config.currency, tracker("reprice", "days")))
            return 0
        if args.command == "compact":
            done = compact_closed_days(config.data_dir, datetime.now(UTC).date(), tracker("compact", "days"))
            print([d.isoformat() for d in done])
            return 0
        leased = failover_for(context)
        failover, context = leased if leased else (None, context)
        fence = failover.fence if failover else None
        jobs = exclusive_jobs([*build_jobs(context), *collector_jobs(context.config, fence)], context)
        if failover is not None:
            jobs = [failover.gate(job) for job in jobs]
        try:
            if args.once:
                return _once(jobs, failover)
            run_forever(jobs, context, failover=failover)
            return 0
        finally:
            for job in jobs:
                job.close()
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    except CollectorError as exc:
        print(f"collector: {exc}", file=sys.stderr)
        return 1


def _once(jobs: list[Job], failover: Failover | None) -> int:
    """Every job once; with a lease only if this run gets it (another collector is active: exit 0)."""
    if failover is not None:
        failover.tick()
        if failover.last_error is not None:
            lease = failover.lease.config
            print(
                f"collector: lease_url: cannot take the lease ({failover.last_error}); check that Redis answers "
                f"at {lease.url} and the password in ${lease.password_env}",
                file=sys.stderr,
            )
            return 1
        if not failover.leader:
            print("collector: another collector holds the lease (lease_url); nothing to do", file=sys.stderr)
            return 0
        failover.start()  # renews the lease while the jobs run
    try:
        failed = run_once(jobs)
    finally:
        if failover is not None:
            failover.stop.set()
            failover.release()
    if failed:
        print(f"collector: failed jobs: {', '.join(failed)} (see the log lines above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
