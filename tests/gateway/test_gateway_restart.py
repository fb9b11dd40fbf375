"""A gateway killed with SIGKILL loses no acknowledged record.

"Acknowledged" here means served by the usage endpoint: the endpoint reads only committed
rows, so once it has served all N, all N are in the SQLite WAL. The test waits for that,
kills the process without any chance to flush, starts a new one on the same database and
expects the same N records, in the same order, and new records after them.
"""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
from conftest import Gateway, ThreadServer

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


def test_sigkill_after_acknowledgement_loses_nothing(upstream: ThreadServer, tmp_path: Path) -> None:
    first = Gateway(tmp_path, upstream.url).start()
    try:
        sent = send(first, N, "restart")
        acknowledged = first.wait_records(N, lambda r: r["project"] == "restart")
        assert [r["id"] for r in acknowledged] == sent
    finally:
        first.stop(signal.SIGKILL)
    assert first.proc is not None and first.proc.returncode == -signal.SIGKILL

    second = Gateway(tmp_path, upstream.url).start()
    try:
        after = second.records()
        assert [r["id"] for r in after] == sent
        assert [r["prompt_tokens"] for r in after] == list(range(1, N + 1))
        more = send(second, 3, "after-restart")
        assert [r["id"] for r in second.wait_records(N + 3)] == sent + more
    finally:
        second.stop()


def test_sigterm_flushes_every_answered_request(upstream: ThreadServer, tmp_path: Path) -> None:
    first = Gateway(tmp_path, upstream.url, extra={"flush_interval_ms": 10_000}).start()
    try:
        sent = send(first, 20, "graceful")
    finally:
        first.stop(signal.SIGTERM)
    assert first.proc is not None and first.proc.returncode in (0, -signal.SIGTERM)
    second = Gateway(tmp_path, upstream.url).start()
    try:
        assert [r["id"] for r in second.records()] == sent
    finally:
        second.stop()
