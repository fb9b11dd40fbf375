"""The subcommands and the dispatcher; each imports its component only when it runs.

Why import late: `mistral-monitor simulator` should not load the dashboard's Streamlit,
pandas and DuckDB stack, nor the collector the gateway's.

    >>> sorted(COMMANDS)
    ['collector', 'dashboard', 'demo', 'gateway', 'simulator']
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import NamedTuple


class Command(NamedTuple):
    summary: str
    run: Callable[[list[str]], int]


def _collector(argv: list[str]) -> int:
    from collector.__main__ import main as collector_main

    return collector_main(argv)


def _gateway(argv: list[str]) -> int:
    from gateway.__main__ import main as gateway_main

    return gateway_main(argv)


def _simulator(argv: list[str]) -> int:
    from simulator.__main__ import main as simulator_main

    return simulator_main(argv)


def _dashboard(argv: list[str]) -> int:
    from ._dashboard import run_dashboard

    return run_dashboard(argv)


def _demo(argv: list[str]) -> int:
    from ._demo import run_demo

    return run_demo(argv)


COMMANDS: dict[str, Command] = {
    "collector": Command("poll usage sources into the ledger (as `python -m collector`)", _collector),
    "gateway": Command("the recording proxy in front of the Mistral API (as `python -m gateway`)", _gateway),
    "simulator": Command("a simulated Mistral usage endpoint (as `python -m simulator`)", _simulator),
    "dashboard": Command("the Streamlit dashboard on 127.0.0.1 (extra arguments go to `streamlit run`)", _dashboard),
    "demo": Command("simulator + collector + dashboard, as scripts/demo.sh, writing ./data", _demo),
}
"""Each subcommand and what it runs; `mistral-monitor COMMAND --help` shows its own options."""


def _parser() -> argparse.ArgumentParser:
    listing = "\n".join(f"  {name:<10} {command.summary}" for name, command in COMMANDS.items())
    parser = argparse.ArgumentParser(
        prog="mistral-monitor",
        usage="%(prog)s [-h] COMMAND [ARGS ...]",
        description="Usage, cost and throttling monitor for the Mistral AI API.",
        epilog=f"commands:\n{listing}\n\n`mistral-monitor COMMAND --help` lists a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=COMMANDS, metavar="COMMAND", help="one of the commands below; ARGS go to it")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run `mistral-monitor COMMAND [ARGS...]`; returns the command's exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] in COMMANDS:
        return COMMANDS[args[0]].run(args[1:])
    _parser().parse_args(args)  # prints the help (exit 0) or names the unknown command (exit 2)
    return 2
