"""Two collector processes on one data_dir: a daemon beside `--once`, two daemons SIGKILLed at random.

Real processes, a real simulator on loopback with a fixed clock (about 300,000 records, the
same on every read), page_limit 2000: a backfill of ~150 pages that both processes want to
poll. Afterwards the ledger holds every record the endpoint serves exactly once, counted from
an independent scan of the endpoint with plain httpx.
"""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from simulator import start_server
from tests.support.collectors import Collector, assert_exactly_once, scan, wait_for

pytestmark = pytest.mark.process


@pytest.fixture(scope="module")
def endpoint() -> Iterator[tuple[str, set[str], str]]:
    """The simulator's URL, every id it serves and its last cursor (its clock is frozen: all fixed)."""
    frozen = time.time() // 60 * 60
    with start_server(seed=19, days=3, rate=96, clock=lambda: frozen, preload=True) as sim:
        yield sim.url, *scan(sim.url)


def write_config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(
        f'data_dir = "{tmp_path / "data"}"\n[[sources]]\nname = "sim"\nkind = "usage_endpoint"\n'
        f'url = "{url}"\npage_limit = 2000\nmax_requests_per_second = 1000\npoll_seconds = 5\n'
    )
    return path


def test_once_beside_a_running_daemon_then_twice_more_stores_every_record_once(tmp_path, endpoint):
    url, expected, _ = endpoint
    assert len(expected) > 250_000
    config = write_config(tmp_path, url)
    daemon = Collector(config)
    wait_for(lambda: any((tmp_path / "data").glob("requests/*/*.parquet")), "the daemon's first write")
    once = Collector(config, "--once")
    log = once.finish()
    assert '"event":"lock_wait"' in log and '"job":"poll:sim"' in log, log[-3000:]
    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.proc.wait(timeout=120) == 0, daemon.text()[-3000:]
    for _ in range(2):
        Collector(config, "--once").finish()
    assert_exactly_once(tmp_path / "data", expected)


def pages_written(data_dir: Path, seen: set[str]) -> int:
    """How many part files have ever appeared (`seen` accumulates names across calls)."""
    seen.update(p.name for p in data_dir.glob("requests/*/part-*.parquet"))
    return len(seen)


def stored_cursor(data_dir: Path) -> str | None:
    try:
        return orjson.loads((data_dir / "state" / "cursors.json").read_bytes()).get("sim")
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None


@pytest.mark.slow
def test_two_daemons_sigkilled_at_random_instants_store_every_record_once(tmp_path, endpoint):
    url, expected, last = endpoint
    config, data_dir = write_config(tmp_path, url), tmp_path / "data"
    rng, seen = random.Random(19), set()
    daemons = [Collector(config), Collector(config)]
    for _ in range(8):
        target = pages_written(data_dir, seen) + rng.randint(1, 12)
        deadline = time.monotonic() + 20  # the backfill may end first: then the kill lands between polls
        while pages_written(data_dir, seen) < target and time.monotonic() < deadline:
            time.sleep(0.005)
        which = rng.randrange(2)
        daemons[which].kill()
        daemons[which] = Collector(config)
    wait_for(lambda: stored_cursor(data_dir) == last, "the daemons to finish the backfill", timeout=300)
    for daemon in daemons:
        daemon.kill()
    assert_exactly_once(data_dir, expected)  # before a --once compacts (compaction dedupes closed days)
    Collector(config, "--once").finish()
    assert_exactly_once(data_dir, expected)
