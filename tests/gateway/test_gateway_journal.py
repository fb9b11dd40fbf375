"""Unit tests of the crash-proof record path (intents, group commit, recovery) and the new limits."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway import Buffer, ConfigError, Exchange, parse_config
from gateway._buffer import Batch
from gateway._metrics import Metrics
from gateway._record import interrupted_record, request_fields
from gateway._recorder import Recorder
from gateway._server import connection_cap


def inflight(path: Path) -> list[bytes]:
    with sqlite3.connect(path) as conn:
        return [bytes(row[0]) for row in conn.execute("SELECT body FROM inflight ORDER BY key")]


def test_recovery_turns_each_leftover_intent_into_one_record(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite3"
    buffer = Buffer(path)
    buffer.commit(Batch(intents=[(1, 1.0, b'{"id":"cut"}'), (2, 1.0, b'{"id":"answered-intent"}')]), now=1.0)
    buffer.commit(Batch(updates={1: b'{"id":"cut","status_code":200}'}), now=2.0)
    buffer.commit(Batch(records=[b'{"id":"answered"}'], finished_keys=[2]), now=3.0)
    buffer.close()
    with Buffer(path) as reopened:
        assert reopened.recover(now=4.0) == 1
        assert reopened.recover(now=5.0) == 0, "recovered once only"
        assert reopened.page(0, 10).bodies == [b'{"id":"answered"}', b'{"id":"cut","status_code":200}']
    assert inflight(path) == []


def test_one_gateway_per_buffer_file(tmp_path: Path) -> None:
    first = Buffer(tmp_path / "b.sqlite3")
    with pytest.raises(ConfigError, match="^db_path: .* in use by another gateway"):
        Buffer(tmp_path / "b.sqlite3")
    first.close()
    Buffer(tmp_path / "b.sqlite3").close()


class CountingBuffer(Buffer):
    commits = 0

    def commit(self, batch: Batch, now: float) -> None:
        self.commits += 1
        super().commit(batch, now)


def test_intents_then_records_are_group_committed(tmp_path: Path) -> None:
    buffer = CountingBuffer(tmp_path / "b.sqlite3")

    async def scenario() -> list[int | None]:
        recorder = Recorder(buffer=buffer, metrics=Metrics(), retention_days=1)
        await recorder.start()
        keys = await asyncio.gather(*(recorder.begin({"id": f"i{n}"}) for n in range(50)))
        assert len(inflight(buffer.path)) == 50, "every intent is committed when begin() returns"
        await asyncio.gather(*(recorder.finish(key, {"id": f"r{n}"}) for n, key in enumerate(keys)))
        assert len(buffer.page(0, 100).bodies) == 50 and inflight(buffer.path) == []
        await recorder.stop()
        return keys

    with buffer:
        keys = asyncio.run(scenario())
    assert len(set(keys)) == 50 and None not in keys
    assert buffer.commits <= 4, f"50 requests took {buffer.commits} commits"


class FailingBuffer(Buffer):
    def commit(self, batch: Batch, now: float) -> None:
        raise sqlite3.OperationalError("disk I/O error")


def test_a_failed_commit_releases_the_request_and_is_counted(tmp_path: Path) -> None:
    metrics = Metrics()
    buffer = FailingBuffer(tmp_path / "b.sqlite3")

    async def scenario() -> None:
        recorder = Recorder(buffer=buffer, metrics=metrics, retention_days=1, commit_wait=5)
        await recorder.start()
        started = time.monotonic()
        key = await recorder.begin({"id": "x"})
        await recorder.finish(key, {"id": "x"})
        assert time.monotonic() - started < 2
        await recorder.stop()

    with buffer:
        asyncio.run(scenario())
    assert (metrics.records_written, metrics.record_failures) == (0, 1)


def test_interrupted_record_says_what_was_known() -> None:
    ex = Exchange(method="POST", endpoint="/v1/chat/completions", model="mistral-small-latest", stream=True)
    before = interrupted_record(ex)
    assert (before["status_code"], before["error_type"], before["interrupted"]) == (502, "interrupted", True)
    assert before["latency_ms"] is None and before["id"].startswith("gw-")
    ex.status, ex.response_started = 200, True
    during = interrupted_record(ex, {"id": "cmpl-7", "model": "mistral-small-2603"})
    assert (during["id"], during["status_code"], during["resolved_model"]) == ("cmpl-7", 200, "mistral-small-2603")
    assert orjson.loads(orjson.dumps(during)) == during


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        (
            b'{"model": "mistral-large-latest", "messages": [{"role": "user", "content": "',
            ("mistral-large-latest", False),
        ),
        (b'{"temperature": 0.2, "stream": true, "model": "m-1", "messages": [', ("m-1", True)),
        (b'{"messages": [{"content": "\\"model\\": \\"fake\\""}], "model": "m"', (None, False)),
        (b"--boundary\r\nContent-Disposition: form-data", (None, False)),
    ],
)
def test_model_of_a_body_too_large_to_hold_comes_from_its_first_bytes(prefix: bytes, expected: Any) -> None:
    assert request_fields(prefix, "application/json", whole=False) == expected


def test_connection_cap_stays_under_the_open_file_limit(tmp_path: Path) -> None:
    config = parse_config({"max_connections": 100}, base=tmp_path)
    assert connection_cap(config, open_files=20_000) == 1000
    assert connection_cap(config, open_files=256) == 256 - 100 - 64
    assert connection_cap(config, open_files=100) == 1


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"max_request_body_mib": 0}, "max_request_body_mib"),
        ({"max_request_body_mib": 1.5}, "max_request_body_mib"),
        ({"max_client_connections": "many"}, "max_client_connections"),
        ({"client_timeout_seconds": 0}, "client_timeout_seconds"),
    ],
)
def test_limit_keys_are_checked(tmp_path: Path, raw: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=f"^{key}: "):
        parse_config(raw, base=tmp_path)
    assert parse_config({}, base=tmp_path).max_request_body_mib == 513
