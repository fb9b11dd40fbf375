"""Unit tests of the gateway's pure parts: record fields, headers, observers, buffer, config."""

from __future__ import annotations

import asyncio
import gzip
import sqlite3
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from foundation.usage_contract import MAX_LIMIT, BadParameter
from gateway import (
    Buffer,
    ConfigError,
    Exchange,
    build_record,
    parse_config,
    ratelimit_from,
    read_secrets,
    usage_counts,
)
from gateway._buffer import Batch
from gateway._headers import downstream_headers, upstream_headers
from gateway._metrics import Metrics
from gateway._observe import JSON_CAP, observer_for
from gateway._record import attempt_from, error_fields, request_fields
from gateway._recorder import Recorder
from gateway._usage_api import parse_params


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (
            {"prompt_tokens": 1024, "completion_tokens": 87, "prompt_tokens_details": {"cached_tokens": 640}},
            (1024, 87, 640),
        ),
        ({"prompt_tokens": 50, "completion_tokens": 5, "num_cached_tokens": 20}, (50, 5, 20)),
        ({"prompt_tokens": 50, "completion_tokens": 5, "prompt_token_details": {"cached_tokens": 30}}, (50, 5, 30)),
        ({"prompt_tokens": 10, "total_tokens": 10}, (10, 0, 0)),
        ({"prompt_tokens": 10, "prompt_tokens_details": {"cached_tokens": 99}}, (10, 0, 10)),
        ({"prompt_tokens": "12", "completion_tokens": -1, "prompt_tokens_details": None}, (0, 0, 0)),
        (None, (0, 0, 0)),
    ],
)
def test_usage_counts_read_every_shape(usage: object, expected: tuple[int, int, int]) -> None:
    assert usage_counts(usage) == expected


def test_ratelimit_headers_by_prefix_case_insensitive_with_legacy_names() -> None:
    headers = [
        (b"X-RateLimit-Limit-Tokens-Minute", b"2000000"),
        (b"x-ratelimit-remaining-tokens-minute", b" 1500000 "),
        (b"x-ratelimit-tokens-query-cost", b"1111"),
        (b"x-ratelimit-remaining-req-month", b"1.5"),
        (b"ratelimitbysize-limit", b"500000"),
        (b"ratelimitbysize-remaining", b"400000"),
        (b"ratelimitbysize-reset", b"42"),
        (b"x-ratelimitbysize-limit-month", b"9000"),
        (b"Retry-After", b"3"),
        (b"x-ratelimit-note", b"soon"),
        (b"content-type", b"application/json"),
    ]
    assert ratelimit_from(headers) == {
        "limit-tokens-minute": 2_000_000,
        "remaining-tokens-minute": 1_500_000,
        "tokens-query-cost": 1111,
        "remaining-req-month": 1.5,
        "reset-tokens-minute": 42,
        "limit-tokens-month": 9000,
        "retry-after": 3,
    }


def test_legacy_ratelimit_names_fill_in_when_alone() -> None:
    found = ratelimit_from([(b"ratelimitbysize-limit", b"500000"), (b"ratelimitbysize-query-cost", b"77")])
    assert found == {"limit-tokens-minute": 500_000, "tokens-query-cost": 77}


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, {"id": "x"}, (None, None)),
        (
            429,
            {"object": "error", "message": "Rate limit exceeded", "type": "rate_limited", "code": "1300"},
            ("rate_limited", False),
        ),
        (429, {"message": "Monthly budget exhausted", "type": "rate_limited"}, ("rate_limited", True)),
        (429, {"message": "Usage limit reached for this organisation"}, ("rate_limited", True)),
        (401, {"message": "Unauthorized", "request_id": "abc"}, ("unauthorized", None)),
        (401, {"detail": "Unauthorized"}, ("unauthorized", None)),
        (
            422,
            {"detail": [{"loc": ["body", "model"], "msg": "Field required", "type": "missing"}]},
            ("invalid_request", None),
        ),
        (
            400,
            {"object": "error", "message": {"detail": []}, "type": "invalid_request_error"},
            ("invalid_request_error", None),
        ),
        (503, None, ("server_error", None)),
        (418, {}, ("http_418", None)),
    ],
)
def test_error_classification(status: int, body: dict[str, object] | None, expected: tuple[object, object]) -> None:
    assert error_fields(status, body) == expected


def test_request_fields_and_attempt() -> None:
    assert request_fields(b'{"model": "mistral-small-latest", "stream": true}', "application/json") == (
        "mistral-small-latest",
        True,
    )
    assert request_fields(b'{"model": 3}', "application/json") == (None, False)
    assert request_fields(b"--boundary\r\n", "multipart/form-data") == (None, False)
    assert request_fields(b"{not json", "application/json") == (None, False)
    assert [attempt_from(v) for v in (None, "0", "2", "x", "-1")] == [None, 1, 3, None, None]


def test_record_ids_come_from_billed_responses_only() -> None:
    completion = Exchange(method="POST", endpoint="/v1/chat/completions", model="m", status=200)
    completion.summary = {"id": "cmpl-9", "model": "m-2603", "usage": {"prompt_tokens": 3}}
    listing = Exchange(method="GET", endpoint="/v1/models/mistral-small-latest", status=200)
    listing.summary = {"id": "mistral-small-latest", "object": "model"}
    assert build_record(completion)["id"] == "cmpl-9"
    assert build_record(listing)["id"].startswith("gw-")
    assert build_record(listing)["id"] != build_record(listing)["id"]


def test_record_has_the_contract_fields() -> None:
    ex = Exchange(
        method="POST",
        endpoint="/v1/chat/completions",
        model="mistral-small-latest",
        status=200,
        project="web",
        api_key_id="key-1",
        attempt=2,
        wall=1_764_089_523.123456,
    )
    ex.summary = {"id": "c", "model": "mistral-small-2603", "usage": {"prompt_tokens": 5, "completion_tokens": 2}}
    record = build_record(ex, now=ex.started + 0.25)
    assert record["timestamp"] == "2025-11-25T16:52:03.123Z"
    assert record["latency_ms"] == 250.0
    assert {k: record[k] for k in ("model", "resolved_model", "project", "attempt", "prompt_tokens")} == {
        "model": "mistral-small-latest",
        "resolved_model": "mistral-small-2603",
        "project": "web",
        "attempt": 2,
        "prompt_tokens": 5,
    }
    assert "ratelimit" not in record and "cancelled" not in record and "spend_limit_reached" not in record


def test_upstream_headers_drop_hop_by_hop_and_the_project_header() -> None:
    raw = [
        (b"Host", b"gateway:8080"),
        (b"Connection", b"keep-alive, X-Secret-Hop"),
        (b"X-Secret-Hop", b"1"),
        (b"Keep-Alive", b"timeout=5"),
        (b"TE", b"trailers"),
        (b"Transfer-Encoding", b"chunked"),
        (b"Content-Length", b"12"),
        (b"X-Project", b" billing "),
        (b"Authorization", b"Bearer sk-1"),
        (b"Content-Type", b"application/json"),
        (b"X-Stainless-Retry-Count", b"1"),
        (b"Accept-Encoding", b"br, gzip, zstd"),
        (b"X-Other", b"kept"),
    ]
    out, seen = upstream_headers(raw, b"x-project", (b"x-stainless-retry-count",))
    assert out == [
        ("Authorization", "Bearer sk-1"),
        ("Content-Type", "application/json"),
        ("X-Stainless-Retry-Count", "1"),
        ("Accept-Encoding", "gzip"),
        ("X-Other", "kept"),
    ]
    assert (seen.project, seen.authorization, seen.retry_count) == ("billing", "Bearer sk-1", "1")


def test_accept_encoding_with_nothing_readable_becomes_identity() -> None:
    out, _ = upstream_headers([(b"accept-encoding", b"br")], b"x-project", ())
    assert out == [("accept-encoding", "identity")]


def test_downstream_headers_keep_length_and_drop_hop_by_hop() -> None:
    raw = [
        (b"Content-Length", b"10"),
        (b"Transfer-Encoding", b"chunked"),
        (b"Connection", b"close, X-A"),
        (b"X-A", b"1"),
        (b"Proxy-Authenticate", b"Basic"),
        (b"x-ratelimit-limit-req-minute", b"5"),
    ]
    assert downstream_headers(raw) == [(b"Content-Length", b"10"), (b"x-ratelimit-limit-req-minute", b"5")]


def sse(*chunks: object) -> bytes:
    return b"".join(b"data: " + orjson.dumps(c) + b"\r\n\r\n" for c in chunks) + b"data: [DONE]\r\n\r\n"


def test_sse_observer_finds_first_chunk_and_usage_across_any_split() -> None:
    body = sse(
        {
            "id": "cmpl-1",
            "object": "chat.completion.chunk",
            "model": "m-2603",
            "choices": [{"delta": {"content": "a"}}],
        },
        {"id": "cmpl-1", "choices": [{"delta": {"content": 'the word "usage"'}}], "usage": None},
        {"id": "cmpl-1", "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3}},
    )
    for size in (1, 2, 7, 64, len(body)):
        observer = observer_for("text/event-stream; charset=utf-8", "")
        assert observer is not None
        for start in range(0, len(body), size):
            observer.feed(body[start : start + size])
        summary = observer.result()
        assert summary == {
            "id": "cmpl-1",
            "object": "chat.completion.chunk",
            "model": "m-2603",
            "usage": {"prompt_tokens": 7, "completion_tokens": 3},
        }, size


def test_gzip_json_is_inflated_for_the_observer_only() -> None:
    body = orjson.dumps({"id": "c", "usage": {"prompt_tokens": 4}})
    packed = gzip.compress(body)
    observer = observer_for("application/json", "gzip")
    assert observer is not None
    observer.feed(packed[:5])
    observer.feed(packed[5:])
    assert observer.result() == {"id": "c", "usage": {"prompt_tokens": 4}}
    broken = observer_for("application/json", "gzip")
    assert broken is not None
    broken.feed(b"not gzip at all")
    assert broken.result() is None


def test_observer_choice_and_cap() -> None:
    assert observer_for("application/octet-stream", "") is None
    assert observer_for("application/json", "br") is None
    big = observer_for("application/json", "")
    assert big is not None
    big.feed(b"[" + b" " * JSON_CAP + b"]")
    assert big.result() is None


def test_buffer_cursor_survives_retention_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite3"
    buffer = Buffer(path)
    buffer.write([b'{"n":1}', b'{"n":2}'], now=1000.0)
    buffer.write([b'{"n":3}'], now=2000.0)
    page = buffer.page(after=0, limit=2)
    assert (page.bodies, page.last_seq, page.has_more) == ([b'{"n":1}', b'{"n":2}'], 2, True)
    assert buffer.purge(before=5000.0) == 3
    buffer.write([b'{"n":4}'], now=6000.0)
    buffer.close()
    with Buffer(path) as reopened:
        page = reopened.page(after=3, limit=10)
    assert (page.bodies, page.last_seq, page.has_more) == ([b'{"n":4}'], 4, False), "seq never reused"
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_usage_parameters() -> None:
    assert parse_params(None, None) == (0, 1000)
    assert parse_params("17", "5") == (17, 5)
    assert parse_params("", str(MAX_LIMIT * 3)) == (0, MAX_LIMIT)
    for after, limit in (("x", None), ("-1", None), (None, "0"), (None, "ten")):
        with pytest.raises(BadParameter):
            parse_params(after, limit)


def test_config_defaults_relative_paths_and_errors(tmp_path: Path) -> None:
    cfg = parse_config({"db_path": "buf/x.sqlite3", "project_header": "X-Team", "retention_days": 2}, base=tmp_path)
    assert cfg.db_path == tmp_path / "buf" / "x.sqlite3"
    assert cfg.project_header == "x-team" and cfg.retention_days == 2.0
    assert cfg.upstream_url == "https://api.mistral.ai" and cfg.port == 8080
    bad: list[tuple[dict[str, Any], str]] = [
        ({"port": True}, "port"),
        ({"upstream_url": "http://u:p@host"}, "upstream_url"),
        ({"retention_days": 0}, "retention_days"),
        ({"sqlite_synchronous": "OFF"}, "sqlite_synchronous"),
        ({"retry_count_headers": [1]}, "retry_count_headers"),
        ({"listen": 1}, "listen"),
    ]
    for raw, key in bad:
        with pytest.raises(ConfigError, match=f"^{key}: "):
            parse_config(raw, base=tmp_path)


def test_secrets_only_from_the_environment(tmp_path: Path) -> None:
    cfg = parse_config({"usage_token_env": "TOK", "key_salt_env": "SALT"}, base=tmp_path)
    secrets = read_secrets(cfg, {"TOK": "t" * 20, "SALT": "s" * 16})
    assert secrets.usage_token == "t" * 20 and secrets.key_salt == b"s" * 16
    with pytest.raises(ConfigError, match="^key_salt_env: environment variable SALT is shorter"):
        read_secrets(cfg, {"TOK": "t" * 20, "SALT": "short"})
    with pytest.raises(ConfigError, match="^usage_token_env: environment variable TOK is not set"):
        read_secrets(cfg, {})


def test_timestamps_are_utc_z() -> None:
    record = build_record(Exchange(method="GET", endpoint="/v1/models", wall=time.time()))
    assert record["timestamp"].endswith("Z") and record["status_code"] == 499


class BrokenBuffer(Buffer):
    def commit(self, batch: Batch, now: float) -> None:
        raise sqlite3.OperationalError("disk I/O error")


def test_recorder_commits_on_stop_and_counts_failures_without_raising(tmp_path: Path) -> None:
    async def scenario(buffer: Buffer) -> Metrics:
        metrics = Metrics()
        recorder = Recorder(buffer=buffer, metrics=metrics, retention_days=1, max_pending=3)
        await recorder.start()
        for index in range(5):
            recorder.submit({"id": f"r{index}"})
        await recorder.stop()
        return metrics

    with Buffer(tmp_path / "good.sqlite3") as good:
        metrics = asyncio.run(scenario(good))
        assert [orjson.loads(b)["id"] for b in good.page(0, 10).bodies] == ["r0", "r1", "r2"]
    assert (metrics.records_written, metrics.record_failures) == (3, 2), "past max_pending: dropped and counted"
    with BrokenBuffer(tmp_path / "bad.sqlite3") as bad:
        metrics = asyncio.run(scenario(bad))
    assert (metrics.records_written, metrics.record_failures) == (0, 5)


def test_recorder_purges_past_retention_at_start(tmp_path: Path) -> None:
    buffer = Buffer(tmp_path / "b.sqlite3")
    buffer.write([b'{"id":"old"}'], now=time.time() - 3 * 86_400)
    buffer.write([b'{"id":"new"}'], now=time.time() - 1 * 86_400)

    async def start_and_stop() -> None:
        recorder = Recorder(buffer=buffer, metrics=Metrics(), retention_days=2)
        await recorder.start()
        await recorder.stop()

    with buffer:
        asyncio.run(start_and_stop())
        assert buffer.page(0, 10).bodies == [b'{"id":"new"}']
