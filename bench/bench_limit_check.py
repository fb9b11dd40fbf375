"""Benchmark: `Limiter.check` in process, the request path's cost of the limits; prints p50 and p99.

100 limits from bench_gateway's budgets file, 4 of them matching every request (two spend limits,
whose check reserves the request's worst-case cost, and two rate limits): one atomic call on the
state per request, a SQLite file or, with `--state-url`, a running Redis or Valkey. Every answer
is observed (so reservations are settled by the worker, as in the gateway). Not a test.

    .venv/bin/python bench/bench_limit_check.py [--count 3000] [--state-url redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_gateway import PAYLOAD, limits_file  # noqa: E402

from foundation.limit_rules import load_book  # noqa: E402
from gateway._limiter import Limiter, LimitSettings  # noqa: E402
from gateway._metrics import Metrics  # noqa: E402

UNITS = {"mistral-small-2506": (1e-7, 3e-7), "mistral-small-2603": (1e-7, 3e-7)}


async def measure(limiter: Limiter, count: int) -> list[int]:
    await limiter.start()
    times = []
    record = {"project": "bench", "model": "mistral-small-latest", "api_key_id": "key-bench"}
    for index in range(count):
        start = time.perf_counter_ns()
        verdict = limiter.check("bench", "key-bench", "mistral-small-latest", PAYLOAD, "/v1/chat/completions")
        times.append(time.perf_counter_ns() - start)
        if verdict is not None:
            limiter.observe(record, verdict.held)
        if index % 200 == 0:
            await asyncio.sleep(0.25)  # the worker settles what was observed
    await limiter.stop()
    return sorted(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=3000, help="checks to time")
    parser.add_argument("--state-url", help="redis://HOST:PORT/DB of a running Redis (default: a SQLite file)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-limit-check-"))
    book = load_book(limits_file(work / "budgets.toml", 100))
    settings = LimitSettings(state_path=work / "limits.sqlite3", state_url=args.state_url)
    limiter = Limiter(
        limits=book.limits,
        projects=book.projects,
        settings=settings,
        metrics=Metrics(),
        pricer=lambda records: [0.0] * len(records),
        units=UNITS,
    )
    times = asyncio.run(measure(limiter, args.count))
    store = "redis" if args.state_url else "sqlite"
    p50, p99 = times[len(times) // 2] / 1000, times[int(len(times) * 0.99)] / 1000
    print(f"Limiter.check, 100 limits (4 matching), {store}: p50 {p50:.1f} us, p99 {p99:.1f} us ({len(times)} checks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
