"""Helpers several test folders share: a free port, waiting for a server, streamlit and chromium.

Why here: the dashboard's browser test and the sign-in tests start the same `streamlit run
app.py` and the same headless chromium; written once, a fix to either (a longer wait, another
flag) reaches every test that uses them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.paths import REPO

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


_HELD: list[socket.socket] = []


def free_port() -> int:
    """A loopback port held for the current test: bound, with SO_REUSEADDR, never listening.

    For a server that cannot bind port 0 and report it (a subprocess, aiosmtpd's `Controller`,
    a server restarted on the same port). Picking a port and closing it before the server
    binds it is a race (another test's server may take it: `Address already in use`); held, the
    kernel hands it to no other socket, while a server binding it with SO_REUSEADDR (uvicorn,
    asyncio, tornado, node, `http.server` all do) may listen on it beside the held socket.
    Connecting to it before a server listens is refused, as on a closed port.
    `release_ports()` (an autouse fixture in tests/conftest.py) closes them after each test.
    In-process servers bind port 0 and read their port instead.
    """
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    _HELD.append(sock)
    return int(sock.getsockname()[1])


def release_ports() -> None:
    """Close the ports `free_port` held (their servers, if any, keep listening)."""
    while _HELD:
        _HELD.pop().close()


def wait_up(url: str, proc: subprocess.Popen[bytes], what: str, timeout: float = 60.0, every: float = 0.3) -> None:
    """Poll `url` until it answers 200; RuntimeError with the output if `proc` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited: {proc.stdout.read().decode() if proc.stdout else ''}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(every)
    raise RuntimeError(f"{what} did not become healthy within {timeout:.0f} s")


def serve_dashboard(data_dir: Path, *extra: str, env: dict[str, str] | None = None, port: int = 0) -> Iterator[str]:
    """`streamlit run app.py` on loopback over `data_dir` (UTC, open mode unless `env` asks for another, no
    MONITOR_CONFIG); yields its URL, then stops it."""
    port = port or free_port()
    base = {"DATA_DIR": str(data_dir), "MONITOR_TIMEZONE": "UTC", "MONITOR_SIGNIN": "open"}
    full_env = {**os.environ, **base, **(env or {})}
    full_env.pop("MONITOR_CONFIG", None)
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(REPO / "app.py"),
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        *extra,
    ]
    proc = subprocess.Popen(cmd, cwd=REPO, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(f"{url}/_stcore/health", proc, "streamlit")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if proc.stdout:
            proc.stdout.close()


@contextmanager
def chromium(sync_api: Any) -> Iterator[Any]:
    """Debian's chromium, headless, through Playwright's `sync_api`; closed when the generator ends."""
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield browser
        browser.close()
