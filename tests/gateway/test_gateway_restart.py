"""A gateway killed with SIGKILL loses no acknowledged record.

"Acknowledged" here means served by the usage endpoint: the endpoint reads only committed
rows, so once it has served all N, all N are in the SQLite WAL. The test waits for that,
kills the process without any chance to flush, starts a new one on the same database and
expects the same N records, in the same order, and new records after them.
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import fake_upstream
import httpx
import orjson
import pytest

from tests.gateway.harness import Gateway, ThreadServer

pytestmark = pytest.mark.process

N = 60


def send(gateway: Gateway, count: int, project: str) -> list[str]:
    ids = []
    with httpx.Client(timeout=30) as client:
        for index in range(count):
            body = {"model": "mistral-small-latest", "messages": [{"role": "user", "content": "x" * (index + 1)}]}
            response = client.post(gateway.url + "/v1/chat/completions", json=body, headers={"X-Project": project})
            assert response.status_code == 200
            ids.append(response.json()["id"])
    return ids


@pytest.mark.slow
def test_sigkill_after_acknowledgement_loses_nothing(upstream: ThreadServer, tmp_path: Path) -> None:
    first = Gateway(root=tmp_path, upstream_url=upstream.url).start()
    try:
        sent = send(first, N, "restart")
        acknowledged = first.wait_records(N, lambda r: r["project"] == "restart")
        assert [r["id"] for r in acknowledged] == sent
    finally:
        first.stop(signal.SIGKILL)
    assert first.proc is not None and first.proc.returncode == -signal.SIGKILL

    second = Gateway(root=tmp_path, upstream_url=upstream.url).start()
    try:
        after = second.records()
        assert [r["id"] for r in after] == sent
        assert [r["prompt_tokens"] for r in after] == list(range(1, N + 1))
        more = send(second, 3, "after-restart")
        assert [r["id"] for r in second.wait_records(N + 3)] == sent + more
    finally:
        second.stop()


@pytest.mark.slow
def test_sigterm_flushes_every_answered_request(upstream: ThreadServer, tmp_path: Path) -> None:
    first = Gateway(root=tmp_path, upstream_url=upstream.url, extra={"flush_interval_ms": 10_000}).start()
    try:
        sent = send(first, 20, "graceful")
    finally:
        first.stop(signal.SIGTERM)
    assert first.proc is not None and first.proc.returncode in (0, -signal.SIGTERM)
    second = Gateway(root=tmp_path, upstream_url=upstream.url).start()
    try:
        assert [r["id"] for r in second.records()] == sent
    finally:
        second.stop()


@pytest.mark.slow
def test_sigkill_right_after_the_answers_loses_none_of_them(upstream: ThreadServer, tmp_path: Path) -> None:
    """The records of answered requests are committed before the answer ends (here a long flush interval)."""
    first = Gateway(root=tmp_path, upstream_url=upstream.url, extra={"flush_interval_ms": 10_000}).start()
    try:
        sent = send(first, 20, "answered")
    finally:
        first.stop(signal.SIGKILL)
    second = Gateway(root=tmp_path, upstream_url=upstream.url).start()
    try:
        after = second.records()
        assert [r["id"] for r in after] == sent
        assert [r["prompt_tokens"] for r in after] == list(range(1, 21))
        assert not any(r.get("interrupted") for r in after)
    finally:
        second.stop()


@pytest.fixture
def gate() -> Iterator[None]:
    fake_upstream.GATE.clear()
    yield
    fake_upstream.GATE.set()


def inflight_bodies(db_path: Path) -> list[bytes]:
    try:
        with closing(sqlite3.connect(db_path)) as conn:
            return [bytes(row[0]) for row in conn.execute("SELECT body FROM inflight")]
    except sqlite3.OperationalError:
        return []


def wait_until(condition: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return bool(condition())


@pytest.mark.slow
def test_sigkill_mid_stream_leaves_an_interrupted_record(upstream: ThreadServer, tmp_path: Path, gate: None) -> None:
    first = Gateway(root=tmp_path, upstream_url=upstream.url, extra={"read_timeout_seconds": 60.0}).start()
    body = {"model": "gated-stream", "stream": True, "messages": [{"role": "user", "content": "abc"}]}
    try:
        with httpx.Client(timeout=10) as client:
            with client.stream(
                "POST", first.url + "/v1/chat/completions", json=body, headers={"X-Project": "midstream"}
            ) as response:
                lines = response.iter_lines()  # kept referenced: a collected iterator closes the stream
                line = next(lines)
                stream_id = orjson.loads(line.removeprefix("data: "))["id"]
                wait_until(lambda: any(stream_id.encode() in b for b in inflight_bodies(first.db_path)))
                first.stop(signal.SIGKILL)
    except httpx.HTTPError:
        pass
    finally:
        first.stop(signal.SIGKILL)
    second = Gateway(root=tmp_path, upstream_url=upstream.url).start()
    try:
        [record] = [r for r in second.records() if r["project"] == "midstream"]
        assert record["id"] == stream_id and record["interrupted"] is True
        assert (record["status_code"], record["error_type"]) == (200, "interrupted")
        assert (record["model"], record["stream"], record["prompt_tokens"]) == ("gated-stream", True, 0)
        assert record["latency_ms"] is None
        more = send(second, 1, "after-interrupt")
        assert [r["id"] for r in second.wait_records(2)][-1] == more[0]
        assert len([r for r in second.records() if r["project"] == "midstream"]) == 1, "recovered once only"
    finally:
        second.stop()


@pytest.mark.slow
def test_sigkill_before_the_answer_leaves_an_interrupted_record(
    upstream: ThreadServer, tmp_path: Path, gate: None
) -> None:
    first = Gateway(root=tmp_path, upstream_url=upstream.url, extra={"read_timeout_seconds": 60.0}).start()
    marker = "killed-before-the-answer"
    body = {"model": "gated-json", "messages": [{"role": "user", "content": marker}]}
    caller = threading.Thread(
        target=lambda: _quietly(
            lambda: httpx.post(
                first.url + "/v1/chat/completions", json=body, headers={"X-Project": "unanswered"}, timeout=30
            )
        )
    )
    caller.start()
    try:
        assert wait_until(lambda: any(marker.encode() in seen["body"] for seen in fake_upstream.SEEN))
    finally:
        first.stop(signal.SIGKILL)
        caller.join(timeout=30)
    second = Gateway(root=tmp_path, upstream_url=upstream.url).start()
    try:
        [record] = [r for r in second.records() if r["project"] == "unanswered"]
        assert (record["status_code"], record["error_type"], record["interrupted"]) == (502, "interrupted", True)
        assert (record["model"], record["endpoint"], record["prompt_tokens"]) == (
            "gated-json",
            "/v1/chat/completions",
            0,
        )
        assert record["id"].startswith("gw-")
    finally:
        second.stop()


def _quietly(call: Any) -> None:
    try:
        call()
    except httpx.HTTPError:
        pass
