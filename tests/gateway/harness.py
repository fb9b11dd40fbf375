"""The gateway test harness: the fake upstream in a thread, the gateway as a real subprocess.

Why a module of its own: the test files import these classes and constants by name, and a
conftest is not importable under one stable name (every folder has one), so type checkers and
pytest agree on where `Gateway` lives only if it lives here.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import httpx
import uvicorn

from gateway import Secrets, create_app, parse_config
from tests.paths import REPO
from tests.support.servers import free_port
from tests.support.waits import wait_until

TOKEN = "test-usage-token-0123456789"
SALT = "test-salt-abcdef"


class ThreadServer:
    """uvicorn serving an ASGI app on a loopback port from a background thread."""

    def __init__(self, app: Any) -> None:
        self.port = 0
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.server.started, "the fake upstream did not start"
        self.port = int(self.server.servers[0].sockets[0].getsockname()[1])  # bound to port 0: the one it got
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Clock:
    """The limits' time (seconds since the epoch), moved by the test: `clock.now += 40`."""

    def __init__(self, start: datetime) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now


@contextmanager
def in_process(root: Path, raw: dict[str, Any], clock: Callable[[], float] = time.time) -> Iterator[ThreadServer]:
    """The gateway app of config `raw` (paths relative to `root`) in this process, its limits on `clock`."""
    config = parse_config(raw, base=root)
    with ThreadServer(create_app(config, Secrets(TOKEN, SALT.encode()), clock=clock)) as server:
        yield server


@dataclass(kw_only=True)
class Gateway:
    """A `python -m gateway` subprocess and its config."""

    root: Path
    upstream_url: str
    extra: dict[str, Any] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    max_open_files: int | None = None
    log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db_path(self) -> Path:
        return self.root / "buffer.sqlite3"

    def write_config(self) -> Path:
        values = {
            "port": self.port,
            "upstream_url": self.upstream_url,
            "db_path": str(self.db_path),
            "read_timeout_seconds": 1.0,
            "connect_timeout_seconds": 1.0,
            "flush_interval_ms": 10,
            **self.extra,
        }
        lines = [f"{k} = {_toml(v)}" for k, v in values.items()]
        path = self.root / "gateway.toml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self) -> Gateway:
        """Start the process and wait for /healthz; stopped again (killed, its log closed) if it does not answer."""
        env = {**os.environ, "GATEWAY_USAGE_TOKEN": TOKEN, "GATEWAY_KEY_SALT": SALT}
        self.stop(signal.SIGKILL)  # a restart: the previous process and its log handle are done with
        self.log = open(self.root / "gateway.log", "ab")  # noqa: SIM115 - closed in stop()
        cmd = [sys.executable, "-m", "gateway", "--config", str(self.write_config())]
        limit = self.max_open_files
        cap = None if limit is None else (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit)))
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stderr=self.log, stdout=self.log, preexec_fn=cap)
        try:
            wait_until(self._healthy, "the gateway answering /healthz", timeout=20, every=0.05)
            return self
        except BaseException:
            self.stop(signal.SIGKILL)
            raise

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the process with `sig` and reap it; close its log. Harmless when it is not running."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        if self.log is not None:
            self.log.close()

    def peak_rss_mib(self) -> float:
        """The process's resident-memory high-water mark (VmHWM), in MiB."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmHWM in /proc/<pid>/status")

    def records(self, token: str = TOKEN, limit: int = 1000) -> list[dict[str, Any]]:
        """Every record the usage endpoint serves, following the cursor to the end."""
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(10_000):
            params: dict[str, Any] = {"limit": limit, **({"after": cursor} if cursor else {})}
            page = httpx.get(
                self.url + "/v1/usage/requests", params=params, headers={"Authorization": f"Bearer {token}"}, timeout=10
            )
            page.raise_for_status()
            body = page.json()
            found += body["data"]
            cursor = body["next_cursor"]
            if not body["has_more"]:
                return found
        raise AssertionError("the usage endpoint never said has_more: false")

    def _healthy(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, (
            f"gateway exited: {(self.root / 'gateway.log').read_text()}"
        )
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def wait_records(self, count: int, where: Any = lambda r: True, timeout: float = 15) -> list[dict[str, Any]]:
        """Poll until `count` matching records are served (the writer commits asynchronously)."""
        deadline = time.monotonic() + timeout
        while True:
            matching = [r for r in self.records() if where(r)]
            if len(matching) >= count or time.monotonic() > deadline:
                return matching
            time.sleep(0.05)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)
