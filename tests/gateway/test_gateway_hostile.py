"""Hostile input never takes the gateway down: huge bodies, slow clients, bad usage parameters.

Each test drives a real `python -m gateway` subprocess over loopback; memory is the process's
own high-water mark (VmHWM in /proc), compared with generous ceilings.
"""

from __future__ import annotations

import hashlib
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import fake_upstream
import httpx
import orjson
import pytest

from tests.gateway.harness import TOKEN, Gateway, ThreadServer

MIB = 1024 * 1024
LIMIT_MIB = 256
MEMORY_CEILING_MIB = 100  # a buffered body would add 2x its size; streaming adds a few MiB


@pytest.mark.slow
@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("after=99999999999999999999999", "after"),
        ("after=" + "9" * 5000, "after"),
        ("after=%C2%B2", "after"),  # a superscript two: str.isdigit() says yes, int() says no
        ("limit=abc", "limit"),
        ("limit=%C2%B2", "limit"),
        ("limit=1e3", "limit"),
    ],
)
def test_bad_usage_parameters_get_a_400_json_error(gateway: Gateway, query: str, name: str) -> None:
    response = httpx.get(f"{gateway.url}/v1/usage/requests?{query}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 400, response.text[:200]
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert (body["object"], body["type"], body["code"]) == ("error", "invalid_request", "400")
    assert body["message"].startswith(f"{name}: ")


def test_a_huge_numeric_limit_is_clamped_not_refused(gateway: Gateway) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    response = httpx.get(f"{gateway.url}/v1/usage/requests?limit={'9' * 5000}", headers=auth)
    assert response.status_code == 200 and response.json()["object"] == "list"


@pytest.fixture
def limited(upstream: ThreadServer, tmp_path: Path) -> Iterator[Gateway]:
    gateway = Gateway(
        root=tmp_path,
        upstream_url=upstream.url,
        extra={"max_request_body_mib": LIMIT_MIB, "read_timeout_seconds": 60.0},
    )
    yield gateway.start()
    gateway.stop()


def send_chunked(port: int, total: int, project: str) -> bytes:
    """POST `total` bytes to /v1/files with chunked encoding, stopping as soon as an answer arrives."""
    head = (
        f"POST /v1/files HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\nX-Project: {project}\r\n"
        "Content-Type: application/octet-stream\r\n\r\n"
    )
    frame = f"{MIB:x}\r\n".encode() + b"x" * MIB + b"\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(head.encode())
        try:
            for _ in range(total // MIB):
                if select.select([sock], [], [], 0)[0]:
                    break
                sock.sendall(frame)
            else:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_answer(sock)


def read_answer(sock: socket.socket) -> bytes:
    data = b""
    try:
        while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + content_length(data):
            part = sock.recv(65536)
            if not part:
                break
            data += part
    except (ConnectionResetError, TimeoutError):
        pass
    return data


def content_length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


@pytest.mark.slow
def test_a_streamed_body_over_the_limit_gets_413_with_memory_bounded(limited: Gateway) -> None:
    finished = fake_upstream.STATS["uploads_finished"]
    before = limited.peak_rss_mib()
    answer = send_chunked(limited.port, 300 * MIB, "too-big")
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    growth = limited.peak_rss_mib() - before
    assert growth < MEMORY_CEILING_MIB, f"the gateway grew by {growth:.0f} MiB for a body it refuses"
    body = orjson.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert body["type"] == "request_too_large" and "max_request_body_mib" in body["message"]
    assert fake_upstream.STATS["uploads_finished"] == finished, "the upstream never got a complete body"
    [record] = limited.wait_records(1, lambda r: r["project"] == "too-big")
    assert (record["status_code"], record["error_type"], record["endpoint"]) == (413, "request_too_large", "/v1/files")


@pytest.mark.slow
def test_a_declared_length_over_the_limit_is_refused_before_forwarding(limited: Gateway) -> None:
    started = fake_upstream.STATS["uploads_started"]
    head = (
        f"POST /v1/files HTTP/1.1\r\nHost: gw\r\nContent-Length: {300 * MIB}\r\nX-Project: declared\r\n"
        "Content-Type: application/octet-stream\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", limited.port), timeout=10) as sock:
        sock.sendall(head.encode() + b"x" * 1000)
        answer = read_answer(sock)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert fake_upstream.STATS["uploads_started"] == started
    [record] = limited.wait_records(1, lambda r: r["project"] == "declared")
    assert record["status_code"] == 413


@pytest.mark.slow
def test_a_large_body_within_the_limit_streams_upstream_with_memory_bounded(limited: Gateway) -> None:
    size, digest = 200 * MIB, hashlib.sha256()
    block = bytes(range(256)) * 4096

    def body() -> Iterator[bytes]:
        for _ in range(size // len(block)):
            digest.update(block)
            yield block

    before = limited.peak_rss_mib()
    headers = {"Content-Length": str(size), "X-Project": "upload", "Content-Type": "application/octet-stream"}
    response = httpx.post(limited.url + "/v1/files", content=body(), headers=headers, timeout=120)
    growth = limited.peak_rss_mib() - before
    assert response.status_code == 200, response.text[:200]
    assert (response.json()["bytes"], response.json()["sha256"]) == (size, digest.hexdigest())
    assert growth < MEMORY_CEILING_MIB, f"the gateway grew by {growth:.0f} MiB relaying a {size // MIB} MiB body"
    [record] = limited.wait_records(1, lambda r: r["project"] == "upload")
    assert (record["status_code"], record["endpoint"], record["method"]) == (200, "/v1/files", "POST")


STALLED = 300


@pytest.fixture
def crowded(upstream: ThreadServer, tmp_path: Path) -> Iterator[Gateway]:
    """A gateway allowed 256 open files (a common default), with a short client timeout."""
    gateway = Gateway(
        root=tmp_path, upstream_url=upstream.url, extra={"client_timeout_seconds": 1.0}, max_open_files=256
    )
    yield gateway.start()
    gateway.stop()


def stall(port: int) -> socket.socket | None:
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=2)
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Le")
        return sock
    except OSError:
        return None


def closed_by_peer(socks: list[socket.socket], timeout: float) -> int:
    """How many of `socks` the gateway has closed (EOF, an error answer or a reset) within `timeout`."""
    waiting, closed = set(socks), 0
    deadline = time.monotonic() + timeout
    while waiting and time.monotonic() < deadline:
        readable = select.select(list(waiting), [], [], 0.2)[0]
        for sock in readable:
            waiting.discard(sock)
            closed += 1
    return closed


@pytest.mark.slow
def test_half_open_connections_never_stop_healthz(crowded: Gateway) -> None:
    socks = [s for s in (stall(crowded.port) for _ in range(STALLED)) if s is not None]
    try:
        assert len(socks) >= STALLED // 2, "the stalled clients could not even connect"
        started, answered = time.monotonic(), False
        while not answered and time.monotonic() - started < 20:
            try:
                answered = httpx.get(crowded.url + "/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                time.sleep(0.1)
        assert answered, f"/healthz did not answer in 20 s with {len(socks)} half-open connections"
        assert closed_by_peer(socks, timeout=10) == len(socks), "every stalled connection is closed by the gateway"
        assert crowded.proc is not None and crowded.proc.poll() is None
        text = httpx.get(crowded.url + "/metrics", timeout=5).text
        values = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
        refused, timed_out = (
            int(values["gateway_connections_refused_total"]),
            int(values["gateway_client_timeouts_total"]),
        )
        assert timed_out > 0 and refused > 0, "past the cap (256 files - 100 upstream - 64) new connections are refused"
        assert refused + timed_out >= len(socks)
    finally:
        for sock in socks:
            sock.close()


@pytest.mark.slow
def test_a_body_that_stalls_is_cut_after_the_client_timeout(crowded: Gateway) -> None:
    head = b"POST /v1/files HTTP/1.1\r\nHost: gw\r\nContent-Length: 1000\r\nX-Project: stalled\r\n\r\n"
    with socket.create_connection(("127.0.0.1", crowded.port), timeout=10) as sock:
        sock.sendall(head + b"x" * 10)
        started = time.monotonic()
        assert closed_by_peer([sock], timeout=10) == 1, "a body stalled for 10 s is still held open"
        assert time.monotonic() - started < 5
    assert httpx.get(crowded.url + "/healthz", timeout=5).status_code == 200
