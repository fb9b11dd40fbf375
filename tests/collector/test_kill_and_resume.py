"""Integration: the real simulator on loopback, the collector as a subprocess, SIGKILLed mid-backfill.

After every kill the ledger must stay readable; after a final run, every record the simulator
served before the test began is in the ledger exactly once.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from ledger import read_ledger
from ledger.storage.store import list_files
from tests.paths import REPO
from tests.support.servers import free_port, wait_up
from tests.support.waits import poll_until

pytestmark = pytest.mark.process

SEED = 11


@pytest.fixture(scope="module")
def simulator_url():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", str(port), "--seed", str(SEED), "--days", "3", "--rate", "15"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_up(f"{url}/healthz", proc, "simulator", timeout=30, every=0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def scan(url: str) -> list[dict]:
    """Every record the endpoint serves, by paging with plain httpx (independent of the collector)."""
    out, cursor = [], None
    with httpx.Client(base_url=url, timeout=30) as client:
        while True:
            params = {"limit": 10000} | ({"after": cursor} if cursor else {})
            body = client.get("/v1/usage/requests", params=params).json()
            out.extend(body["data"])
            cursor = body["next_cursor"]
            if not body["has_more"]:
                return out


def write_config(tmp_path: Path, url: str, page_limit: int, where: str | None = None) -> Path:
    """A config polling the simulator into `where` (the config's data_dir lines; default: tmp_path/data)."""
    path = tmp_path / "c.toml"
    path.write_text(
        (where or f'data_dir = "{tmp_path / "data"}"\n') + '[[sources]]\nname = "sim"\nkind = "usage_endpoint"\n'
        f'url = "{url}"\npage_limit = {page_limit}\nmax_requests_per_second = 1000\n'
    )
    return path


def collector(config: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "collector", "--config", str(config), *extra],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def kill_after_a_commit(proc: subprocess.Popen, commits: Callable[[], int], delay: float) -> bool:
    """SIGKILL `proc` `delay` seconds after the ledger's next commit; False if it ended first."""
    start = commits()
    poll_until(lambda: proc.poll() is not None or commits() > start, timeout=120, every=0.002)
    time.sleep(delay)  # a random instant: mid-fetch, mid-commit, between the commit and the cursor
    alive = proc.poll() is None
    if alive:
        os.kill(proc.pid, signal.SIGKILL)
    with proc:  # waits, and closes its stderr pipe
        return alive


@pytest.mark.slow
def test_sigkill_mid_backfill_then_restart_stores_every_record_once(tmp_path, simulator_url, target):
    """On local disk and on the loopback S3 server (`target`)."""
    cutoff = datetime.now(UTC) - timedelta(seconds=5)
    config = write_config(tmp_path, simulator_url, page_limit=500, where=target.toml)
    data_dir = target.folder
    rng = random.Random(SEED)
    killed = 0
    for _ in range(4):
        killed += kill_after_a_commit(collector(config, "--once"), target.commits, rng.uniform(0, 0.4))
        assert read_ledger(data_dir).num_rows >= 0  # the snapshot's files are whole parquet files
    assert killed >= 2  # at least two kills landed mid-backfill
    with collector(config, "--once") as final:
        assert final.wait(timeout=300) == 0, final.stderr.read().decode()[-2000:]

    stored = read_ledger(data_dir, columns=["id", "timestamp"]).to_pylist()
    counts = Counter(row["id"] for row in stored)
    assert max(counts.values()) == 1, [i for i, c in counts.items() if c > 1][:5]
    expected = {r["id"] for r in scan(simulator_url) if datetime.fromisoformat(r["timestamp"]) < cutoff}
    got = {row["id"] for row in stored if row["timestamp"] < cutoff}
    assert len(expected) > 10_000
    assert got == expected


@pytest.mark.slow
def test_sigterm_stops_the_scheduler_cleanly(tmp_path, simulator_url):
    config = write_config(tmp_path, simulator_url, page_limit=1000)
    proc = collector(config)
    deadline = time.monotonic() + 60
    while not list_files(tmp_path / "data") and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    with proc:
        code = proc.wait(timeout=120)
        stderr = proc.stderr.read().decode()
    assert code == 0, stderr[-2000:]
    assert '"stopping"' in stderr and '"drained":true' in stderr
    assert list_files(tmp_path / "data")
