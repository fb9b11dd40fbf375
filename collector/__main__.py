"""`python -m collector [--config FILE] [--once]`, plus `reprice` and `compact` commands.

The one place that wires the alerts engine's jobs into the collector's schedule.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from alerts import collector_jobs
from foundation.config import load_config
from foundation.errors import ConfigError
from foundation.log import add_log_level_argument, configure_logging
from ledger import compact_closed_days

from ._context import Context
from ._jobs import build_jobs
from ._reprice import reprice
from ._runner import exclusive_jobs, run_forever, run_once
from .errors import CollectorError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m collector", description="Poll usage sources into the ledger.")
    parser.add_argument("--config", type=Path, help="TOML config (default: $MONITOR_CONFIG or the embedded default)")
    parser.add_argument("--once", action="store_true", help="run every job once and exit")
    parser.add_argument("command", nargs="?", choices=("run", "reprice", "compact"), default="run")
    add_log_level_argument(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(args.log_level)
    try:
        config = load_config(args.config)
        context = Context.build(config)
        if args.command == "reprice":
            print(reprice(config.data_dir, context.book, config.currency))
            return 0
        if args.command == "compact":
            print([d.isoformat() for d in compact_closed_days(config.data_dir, datetime.now(UTC).date())])
            return 0
        jobs = exclusive_jobs([*build_jobs(context), *collector_jobs(context.config)], context)
        if args.once:
            failed = run_once(jobs)
            if failed:
                print(f"collector: failed jobs: {', '.join(failed)} (see the log lines above)", file=sys.stderr)
                return 1
            return 0
        run_forever(jobs, context)
        return 0
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    except CollectorError as exc:
        print(f"collector: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
