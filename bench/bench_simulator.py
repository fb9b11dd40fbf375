"""Serving speed of `python -m simulator` over loopback, as the collector's backfill sees it.

Why a subprocess: the collector talks to the simulator from another process, so the server
gets its own interpreter (and GIL) here too. Either every hour is generated on first read
(cold: generation included), or the history is generated before the port opens (--preload)
and only serving is timed. Bytes only: the client reads the body and finds the cursor; json
parsed: it also decodes every record with orjson, as the collector must. Prints a table.

Usage: .venv/bin/python bench/bench_simulator.py [--days 30] [--rate 25] [--limit 10000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
from _common import free_port, records_parser

ROOT = Path(__file__).resolve().parent.parent


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        if proc.poll() is not None:
            raise SystemExit(f"simulator exited with {proc.returncode}")
        try:
            httpx.get(url + "/healthz", timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit("simulator did not answer /healthz within 10 s")


def _backfill(url: str, limit: int, parse: bool) -> tuple[int, int, float]:
    """Page through everything; return (records, bytes, seconds)."""
    records = size = 0
    after = None
    started = time.perf_counter()
    with httpx.Client(base_url=url, timeout=60.0) as client:
        while True:
            params: dict[str, str | int] = {"limit": limit}
            if after:
                params["after"] = after
            body = client.get("/v1/usage/requests", params=params).content
            size += len(body)
            if parse:
                page = orjson.loads(body)
                records += len(page["data"])
            else:
                page = orjson.loads(b"{" + body[body.rindex(b'],"next_cursor"') + 2 :])
                records += body.count(b'"simulated":true')
            after = page["next_cursor"]
            if not page["has_more"]:
                return records, size, time.perf_counter() - started


def _serve(args: argparse.Namespace, preload: bool) -> tuple[subprocess.Popen[bytes], str, float]:
    """Start a fresh simulator; return it, its URL and the seconds until it answered."""
    port = free_port()
    cmd = [sys.executable, "-m", "simulator", "--port", str(port), "--days", str(args.days), "--rate", str(args.rate)]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd + (["--preload"] if preload else []), cwd=ROOT, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    _wait_ready(url, proc)
    return proc, url, time.perf_counter() - started


def _passes(args: argparse.Namespace, preload: bool, parses: tuple[bool, ...]) -> list[tuple[str, int, int, float]]:
    proc, url, ready = _serve(args, preload)
    try:
        label = f"preloaded ({ready:.1f} s to start)" if preload else "cold"
        return [
            (f"{label}, {'json parsed' if parse else 'bytes only'}", *_backfill(url, args.limit, parse))
            for parse in parses
        ]
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    parser = records_parser(__doc__)
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--rate", type=float, default=25)
    parser.add_argument("--limit", type=int, default=10_000)
    args = parser.parse_args()
    rows = _passes(args, False, (False,)) + _passes(args, False, (True,)) + _passes(args, True, (False, True))
    print(f"simulator --days {args.days:g} --rate {args.rate:g}, pages of {args.limit}, httpx over loopback")
    print(f"{'pass':<38}{'records':>10}{'MB':>8}{'seconds':>9}{'records/s':>12}")
    for name, records, size, seconds in rows:
        print(f"{name:<38}{records:>10}{size / 1e6:>8.0f}{seconds:>9.2f}{records / seconds:>12,.0f}")


if __name__ == "__main__":
    main()
