"""`python -m collector` as a child process, and the checks the multi-collector tests share.

Used by tests/collector/test_two_collectors.py (issue 19: two collectors on one host) and
tests/collector/test_failover.py (issue 22: the Redis lease across hosts).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson

from ledger import read_ledger
from tests.paths import REPO


def scan(url: str) -> tuple[set[str], str]:
    """Every id the usage endpoint at `url` serves and its last cursor, read with plain httpx."""
    ids: set[str] = set()
    cursor = None
    with httpx.Client(base_url=url, timeout=60) as client:
        while True:
            params = {"limit": 10000} | ({"after": cursor} if cursor else {})
            body = orjson.loads(client.get("/v1/usage/requests", params=params).content)
            ids.update(r["id"] for r in body["data"])
            cursor = body["next_cursor"]
            if not body["has_more"]:
                return ids, cursor


class Collector:
    """`python -m collector` as a child process, its log in a file (a pipe nobody reads can fill)."""

    def __init__(self, config: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.log = config.parent / f"collector-{time.monotonic_ns()}.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "collector", "--config", str(config), *extra],
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=out,
                env={**os.environ, **(env or {})},
            )

    def text(self) -> str:
        return self.log.read_text()

    def events(self) -> list[dict]:
        """The JSON log lines written so far (a half-written last line is skipped)."""
        found = []
        for line in self.text().splitlines():
            try:
                found.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue
        return found

    def logged(self, event: str) -> list[dict]:
        return [e for e in self.events() if e.get("event") == event]

    def finish(self, timeout: float = 240) -> str:
        assert self.proc.wait(timeout=timeout) == 0, self.text()[-3000:]
        return self.text()

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)


def collector_once(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m collector --config CONFIG --once` from the repository, in `env` only, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "collector", "--config", str(config), "--once"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def once_on_s3(tmp_path: Path, url: str, s3_url: str, cache: str, extra: str = "") -> list[dict[str, object]]:
    """`collector_once` of one `sim` source at `url` into the s3 data_dir `s3_url`, its working folder
    `tmp_path/cache`, the AWS_* environment only; `extra` ends the source's table (or starts others).
    Asserts it exited 0; its `poll` log lines."""
    config = tmp_path / f"{cache}.toml"
    config.write_text(
        f'data_dir = "{s3_url}"\ncache_dir = "{tmp_path / cache}"\n[[sources]]\nname = "sim"\n'
        f'kind = "usage_endpoint"\nurl = "{url}"\npage_limit = 500\n{extra}'
    )
    env = {"PATH": "/usr/bin:/bin", **{k: v for k, v in os.environ.items() if k.startswith("AWS_")}}
    proc = collector_once(config, env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [orjson.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == "poll"]


def wait_for(condition: Callable[[], object], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def assert_exactly_once(data_dir: Path, expected: set[str]) -> None:
    ids = read_ledger(data_dir, columns=["id"])["id"].to_pylist()
    counts = Counter(ids)
    duplicated = sum(n - 1 for n in counts.values())
    lost = len(expected - counts.keys())
    assert (lost, duplicated, len(counts.keys() - expected)) == (0, 0, 0)
