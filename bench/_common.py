"""What the benchmark scripts share: their argument parser, a free loopback port, peak memory.

Why one module: each script starts the same way (a parser described by its docstring, usually a
`--records` size) and several start servers on a free port; written once, the scripts differ only
in what they measure. Scripts run as files (`python bench/bench_x.py`), so they import this as
`_common`.

Example:
    >>> parser = records_parser("Benchmark: something; print a table.", records=1_000)
    >>> parser.parse_args([]).records
    1000
"""

from __future__ import annotations

import argparse
import resource
import socket

HOST = "127.0.0.1"


def records_parser(doc: str | None, records: int | None = None) -> argparse.ArgumentParser:
    """A parser described by the first line of `doc`, with `--records` (default `records`) when given."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    if records is not None:
        parser.add_argument("--records", type=int, default=records)
    return parser


def free_port(host: str = HOST) -> int:
    """A port nothing listens on now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
