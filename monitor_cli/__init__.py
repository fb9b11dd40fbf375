"""`mistral-monitor`: the installed product's one command, a subcommand per component.

Why a package of its own: it wires every component together (the collector, gateway and
simulator mains, the dashboard's `app.py`), so it sits above all of them, and `foundation`
must import none of ours. Each subcommand hands the rest of the command line to that
component's own `main(argv)`, so its options, help and exit codes stay exactly those of
`python -m <component>`.

Example (`mistral-monitor simulator --port 0` in a shell):
    >>> main(["simulator", "--port", "0", "--days", "-1"])
    Traceback (most recent call last):
    SystemExit: 2
"""

from __future__ import annotations

from ._commands import COMMANDS, main

__all__ = ["COMMANDS", "main"]
