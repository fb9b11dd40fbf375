"""Debian's redis-server on a loopback port, for the gateway's shared limits (issue 22).

Why a held port: redis-server cannot bind port 0 and report it, and a test restarts it on the
same port (killed, then back empty). `free_port()` holds the port bound with SO_REUSEADDR and
redis-server binds with SO_REUSEADDR too, so it listens beside the held socket and no other
test takes the port meanwhile. Should the bind still fail ("Address already in use"), a fresh
start picks another port, until a deadline. Nothing is persisted (`--save ''`, no AOF): a
restarted server is empty, as a Redis without persistence comes back after a crash.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import redis

from tests.support.servers import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServer:
    def __init__(self, root: Path, port: int | None = None, password: str | None = None) -> None:
        """A server whose files live in `root`; on `port` (held by free_port) or one picked at start."""
        self.root = root
        self.port = port or free_port()
        self.password = password
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, password=self.password, decode_responses=True, socket_timeout=5)

    def start(self, timeout: float = 30.0, same_port: bool = False) -> RedisServer:
        """Start and wait until it answers PING; another port if the bind fails (unless `same_port`)."""
        self.root.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = open(self.root / "redis.log", "ab")  # noqa: SIM115 - the process keeps writing it
            cmd = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            cmd += ["--dir", str(self.root), *(["--requirepass", self.password] if self.password else [])]
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
            log.close()
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if self.client().ping():
                        return self
                except redis.ConnectionError:
                    time.sleep(0.05)
            text = (self.root / "redis.log").read_text(errors="replace")
            if "Address already in use" not in text or same_port:
                break
            self.port = free_port()
        raise AssertionError(f"redis-server did not answer on port {self.port}: {self._tail()}")

    def kill(self) -> None:
        """SIGKILL: the data in memory is gone, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def _tail(self) -> str:
        path = self.root / "redis.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""
