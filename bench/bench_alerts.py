"""Benchmark: one alert-engine run over a synthetic ledger with N budgets; print a table.

The engine runs every few minutes inside the collector, so one run must stay a small share of
its interval. Goal on 2 cores: a run with 10 budgets and every rule on over 1M rows (30 days)
in < 5 s, i.e. under 2% of the default 300 s interval. Not a test: figures depend on the machine.

    .venv/bin/python bench/bench_alerts.py --records 1000000 --budgets 10
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import peak_rss_mb, records_parser  # noqa: E402

from alerts import Budget, Engine, parse_alerts, save_budgets  # noqa: E402
from foundation.config import Config  # noqa: E402
from tests.builders import PROJECTS, build_ledger  # noqa: E402


def budgets(n: int) -> list[Budget]:
    periods = ("month", "week", "day")
    return [
        Budget(
            name=f"budget {i}",
            amount=50.0 + i,
            period=periods[i % 3],
            projects=(PROJECTS[i % len(PROJECTS)],) if i else (),
            recipients=("ops@example.com",),
        )
        for i in range(n)
    ]


def timed(engine: Engine, now: datetime) -> float:
    start = time.perf_counter()
    engine.run(now)
    return time.perf_counter() - start


def main() -> None:
    parser = records_parser(__doc__, records=1_000_000)
    parser.add_argument("--budgets", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="bench-alerts-"))
    now = datetime.now(UTC)
    start = time.perf_counter()
    build_ledger(data, n_records=args.records, days=30, seed=5, end=now)
    built = time.perf_counter() - start
    settings = parse_alerts({"recipients": ["ops@example.com"]}, data)
    save_budgets(settings.budgets_file, budgets(args.budgets))
    engine = Engine(Config(data_dir=data, timezone="Europe/Paris", currency="USD"), settings, None)
    first = timed(engine, now)
    warm = sorted(timed(engine, now) for _ in range(args.runs))
    rss = peak_rss_mb()
    print(f"| rows | budgets | ledger build s | first run s | warm run s (median of {args.runs}) | peak RSS MB |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(f"| {args.records:,} | {args.budgets} | {built:.1f} | {first:.2f} | {warm[len(warm) // 2]:.2f} | {rss:.0f} |")


if __name__ == "__main__":
    main()
