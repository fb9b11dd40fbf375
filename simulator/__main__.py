"""`python -m simulator [--port 8090]`: serve the simulated usage endpoint until interrupted.

Why a token by environment variable name: a secret on the command line shows up in `ps` and
shell history; the simulator only ever reads the variable and never prints it.
"""

from __future__ import annotations

import argparse
import os
import sys

from foundation.log import add_log_level_argument, configure_logging, event_logger

from ._http import start_server
from ._incidents import Runaway

log = event_logger("simulator")
DEFAULT_PORT = 8765
"""Where the collector's embedded default config looks for the simulator."""


def _default_port() -> int:
    raw = os.environ.get("SIMULATOR_PORT", "")
    if raw and not (raw.isascii() and raw.isdigit() and int(raw) <= 65535):
        print(f"SIMULATOR_PORT: {raw[:20]!r} is not a TCP port; use 1..65535 or unset it", file=sys.stderr)
        sys.exit(2)
    return int(raw) if raw else DEFAULT_PORT


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument(
        "--port",
        type=int,
        default=_default_port(),
        help="TCP port (0: any free port; default $SIMULATOR_PORT, else 8765, where the "
        "collector's embedded default looks)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--seed", type=int, default=0, help="workload seed, >= 0 (default 0)")
    parser.add_argument("--days", type=float, default=30, help="days of history (default 30)")
    parser.add_argument("--rate", type=float, default=6.0, help="mean requests/minute (default 6)")
    parser.add_argument("--token-env", metavar="NAME", help="require 'Bearer $NAME' on requests")
    parser.add_argument(
        "--bad-every",
        type=int,
        default=0,
        metavar="N",
        help="spoil one record in N, rotating through 4 kinds (default off)",
    )
    parser.add_argument(
        "--runaway",
        metavar="KEY@WHEN",
        help="one key's requests x20 for an hour from WHEN (ISO 8601 with offset), e.g. key_9e0f4c88@2026-11-20T10:00Z",
    )
    parser.add_argument(
        "--preload", action="store_true", help="generate the whole history before opening the port (for benchmarks)"
    )
    parser.add_argument("--verbose", action="store_true", help="log every request line (the same as --log-level debug)")
    add_log_level_argument(parser)
    return parser


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str | None:
    """Reject impossible settings with one line each; return the token, if any."""
    if args.seed < 0:
        parser.error(f"--seed {args.seed}: must be >= 0")
    if not 0 < args.rate <= 10_000:
        parser.error(f"--rate {args.rate}: must be above 0 and at most 10000 requests/minute")
    if args.days < 0:
        parser.error(f"--days {args.days}: must be >= 0")
    if args.bad_every < 0:
        parser.error(f"--bad-every {args.bad_every}: must be >= 0 (0 turns it off)")
    if args.runaway is not None:
        try:
            args.runaway = Runaway.parse(args.runaway)
        except ValueError as exc:
            parser.error(f"--runaway {args.runaway}: {exc}")
    if args.token_env is None:
        return None
    token = os.environ.get(args.token_env, "")
    if not token:
        parser.error(f"--token-env {args.token_env}: that environment variable is unset or empty")
    return token


def main(argv: list[str] | None = None) -> int:
    """Run the simulator in the foreground; Ctrl-C stops it."""
    parser = _parser()
    args = parser.parse_args(argv)
    token = _check(parser, args)
    configure_logging("debug" if args.verbose else args.log_level)
    sim = start_server(
        args.seed,
        args.days,
        args.rate,
        token=token,
        bad_every=args.bad_every,
        host=args.host,
        port=args.port,
        preload=args.preload,
        runaway=args.runaway,
    )
    auth = f"token from ${args.token_env}" if token else "no token"
    url = f"{sim.url}/v1/usage/requests"
    log("serving", url=url, seed=args.seed, days=args.days, rate_per_minute=args.rate, auth=auth)
    try:
        sim.wait()
    except KeyboardInterrupt:
        log("stopping")
    finally:
        sim.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
