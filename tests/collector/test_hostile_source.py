"""A hostile usage endpoint on loopback (a real HTTP server) against the collector as a
subprocess: echoed tokens, cycling cursors, oversized bodies. Nothing may hang, leak or be lost."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from collector._state import StatusBoard
from ledger import read_ledger
from tests.paths import REPO

from .conftest import make_record

pytestmark = pytest.mark.slow

TOKEN = "tok-echo-5b4a3c2d1e0f-secret"
OTHER_KEY = "sk-live-0123456789abcdefABCDEF"
Answer = Callable[[dict[str, str], dict[str, list[str]]], tuple[int, bytes]]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        status, body = self.server.answer(dict(self.headers), parse_qs(urlsplit(self.path).query))
        self.server.calls += 1
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass


@pytest.fixture
def serve() -> Iterator[Callable[[Answer], Any]]:
    servers: list[ThreadingHTTPServer] = []

    def start(answer: Answer) -> Any:
        server: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.answer, server.calls, server.daemon_threads = answer, 0, True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        server.url = f"http://127.0.0.1:{server.server_port}"
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def run_collector(tmp_path: Path, url: str, extra: str = "", timeout: float = 120) -> subprocess.CompletedProcess:
    config = tmp_path / "c.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n[[sources]]\nname = "hostile"\nkind = "usage_endpoint"\n'
        f'url = "{url}"\ntoken_env = "HOSTILE_TOKEN"\nmax_retries = 1\n{extra}'
    )
    env = {"PATH": "/usr/bin:/bin", "HOSTILE_TOKEN": TOKEN}
    return subprocess.run(
        [sys.executable, "-m", "collector", "--config", str(config), "--once"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def files_holding(root: Path, needle: str) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


def test_an_echoed_token_is_nowhere_on_disk_nor_in_the_status_nor_the_log(tmp_path, serve):
    def echo(headers: dict[str, str], _query: dict[str, list[str]]) -> tuple[int, bytes]:
        message = f"bad request; you sent Authorization: {headers.get('Authorization')}; try {OTHER_KEY}"
        return 400, orjson.dumps({"object": "error", "message": message, "headers": headers, "type": "invalid"})

    server = serve(echo)
    proc = run_collector(tmp_path, server.url)
    assert proc.returncode == 1 and server.calls >= 1
    data = tmp_path / "data"
    written = [p for p in data.rglob("*") if p.is_file()]
    assert written, "the failed poll should at least record its status"
    assert files_holding(data, TOKEN) == [] and files_holding(data, OTHER_KEY) == []
    status = StatusBoard(data).read()["sources"]["hostile"]
    assert "HTTP 400" in status["last_error"] and "***" in status["last_error"]
    assert TOKEN not in orjson.dumps(status).decode() and OTHER_KEY not in orjson.dumps(status).decode()
    assert TOKEN not in proc.stderr and OTHER_KEY not in proc.stderr and "HTTP 400" in proc.stderr


def test_a_token_echoed_inside_records_is_masked_in_the_ledger(tmp_path, serve):
    def page(_headers: dict[str, str], _query: dict[str, list[str]]) -> tuple[int, bytes]:
        records = [make_record(0), make_record(1, project=f"echo {TOKEN}")]
        return 200, orjson.dumps({"object": "list", "data": records, "next_cursor": "c1", "has_more": False})

    proc = run_collector(tmp_path, serve(page).url)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert files_holding(tmp_path / "data", TOKEN) == []
    rows = {r["id"]: r["project"] for r in read_ledger(tmp_path / "data").to_pylist()}
    assert rows == {"r0": "search", "r1": "echo ***"}


def test_once_ends_with_a_clear_error_when_cursors_cycle(tmp_path, serve):
    def cycle(_headers: dict[str, str], query: dict[str, list[str]]) -> tuple[int, bytes]:
        after = (query.get("after") or [""])[-1]
        nxt = {"": "a", "a": "b", "b": "a"}[after]
        record = make_record(0, id=f"from-{after or 'start'}")
        return 200, orjson.dumps({"object": "list", "data": [record], "next_cursor": nxt, "has_more": True})

    server = serve(cycle)
    proc = run_collector(tmp_path, server.url, timeout=60)
    assert proc.returncode == 1 and server.calls == 3
    failed = [orjson.loads(line) for line in proc.stderr.splitlines() if '"poll_failed"' in line]
    assert len(failed) == 1 and "go round in a circle" in failed[0]["error"] and "'b'" in failed[0]["error"]
    assert orjson.loads((tmp_path / "data" / "state" / "cursors.json").read_bytes()) == {"hostile": "b"}
    assert sorted(read_ledger(tmp_path / "data")["id"].to_pylist()) == ["from-a", "from-b", "from-start"]
