"""The forwarder over real HTTP: pass-through, streaming, failures, disconnects, and the
gateway's own endpoints (usage contract v1, metrics, health)."""

from __future__ import annotations

import gzip
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fake_upstream
import httpx
import orjson
import pytest

from tests.gateway.harness import REPO, TOKEN, Gateway, ThreadServer, free_port

MESSAGES = [{"role": "user", "content": "Hello there"}]
ERROR_KEYS = {"object", "message", "type", "param", "code"}


def post_chat(gateway: Gateway, model: str, project: str, **extra: object) -> httpx.Response:
    body = {"model": model, "messages": MESSAGES, **extra}
    return httpx.post(gateway.url + "/v1/chat/completions", json=body, headers={"X-Project": project}, timeout=30)


def only_record(gateway: Gateway, project: str) -> dict[str, Any]:
    found = gateway.wait_records(1, lambda r: r["project"] == project)
    assert len(found) == 1, found
    return found[0]


def wait_for(condition: Callable[[], object], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return bool(condition())


@pytest.mark.slow
def test_method_path_query_headers_and_body_pass_through_untouched(gateway: Gateway) -> None:
    payload = bytes(range(256)) * 4
    headers = {
        "X-Project": "echo",
        "X-Custom": "kept",
        "Connection": "keep-alive, X-Hop",
        "X-Hop": "dropped",
        "Content-Type": "application/octet-stream",
    }
    response = httpx.put(gateway.url + "/echo/a%2Fb?q=1&r=%20x", content=payload, headers=headers)
    seen = response.json()
    names = {k for k, _ in seen["headers"]}
    assert (seen["method"], seen["path"], seen["query"]) == ("PUT", "/echo/a%2Fb", "q=1&r=%20x")
    assert seen["body"].encode("latin-1") == payload
    assert dict(seen["headers"])["x-custom"] == "kept"
    assert dict(seen["headers"])["content-type"] == "application/octet-stream"
    assert "x-project" not in names and "x-hop" not in names
    assert response.headers["x-echo"] == "yes"
    assert "x-private" not in response.headers, "a header the upstream's Connection names is hop-by-hop"
    record = only_record(gateway, "echo")
    assert (record["endpoint"], record["method"], record["model"]) == ("/echo/a/b", "PUT", "unknown")


def test_accept_encoding_is_narrowed_to_what_the_gateway_can_read(gateway: Gateway) -> None:
    seen = httpx.get(gateway.url + "/echo/x", headers={"Accept-Encoding": "br, zstd, gzip;q=0.8"}).json()
    assert dict(seen["headers"])["accept-encoding"] == "gzip;q=0.8"


def test_compressed_response_reaches_the_client_compressed_and_is_still_recorded(gateway: Gateway) -> None:
    body = {"model": "gzip-json", "messages": MESSAGES, "max_tokens": 12}
    with httpx.stream(
        "POST",
        gateway.url + "/v1/chat/completions",
        json=body,
        headers={"X-Project": "gzip", "Accept-Encoding": "gzip"},
    ) as response:
        raw = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "gzip"
    answer = orjson.loads(gzip.decompress(raw))
    record = only_record(gateway, "gzip")
    assert record["id"] == answer["id"]
    assert (record["prompt_tokens"], record["completion_tokens"]) == (len("Hello there"), 12)


def test_upstream_error_passes_through_and_is_recorded(gateway: Gateway) -> None:
    body = {"model": "fail-500", "messages": MESSAGES}
    headers = {"X-Project": "err500", "X-Stainless-Retry-Count": "2"}
    response = httpx.post(gateway.url + "/v1/chat/completions", json=body, headers=headers)
    assert response.status_code == 500 and response.json() == fake_upstream.SERVER_ERROR
    record = only_record(gateway, "err500")
    assert (record["status_code"], record["error_type"], record["attempt"]) == (500, "internal_error", 3)


def test_spend_limit_429_is_told_apart_from_throttling(gateway: Gateway) -> None:
    response = post_chat(gateway, "fail-spend", "spend")
    assert response.status_code == 429 and response.json() == fake_upstream.SPEND
    record = only_record(gateway, "spend")
    assert record["spend_limit_reached"] is True and record["error_type"] == "rate_limited"


@pytest.mark.slow
def test_slow_upstream_gives_a_mistral_shaped_504(gateway: Gateway) -> None:
    response = post_chat(gateway, "slow", "slow")
    assert response.status_code == 504
    body = response.json()
    assert set(body) == ERROR_KEYS and body["object"] == "error" and body["type"] == "upstream_timeout"
    record = only_record(gateway, "slow")
    assert (record["status_code"], record["error_type"]) == (504, "upstream_timeout")


@pytest.fixture
def dead_gateway(tmp_path: Path) -> Iterator[Gateway]:
    gateway = Gateway(root=tmp_path, upstream_url=f"http://127.0.0.1:{free_port()}").start()
    yield gateway
    gateway.stop()


@pytest.mark.slow
def test_unreachable_upstream_gives_a_mistral_shaped_502(dead_gateway: Gateway) -> None:
    response = post_chat(dead_gateway, "mistral-small-latest", "down")
    assert response.status_code == 502
    body = response.json()
    assert set(body) == ERROR_KEYS and body["type"] == "upstream_unavailable" and body["code"] == "502"
    record = only_record(dead_gateway, "down")
    assert (record["status_code"], record["error_type"], record["model"]) == (
        502,
        "upstream_unavailable",
        "mistral-small-latest",
    )


@pytest.fixture
def gate() -> Iterator[None]:
    fake_upstream.GATE.clear()
    yield
    fake_upstream.GATE.set()


def test_stream_bytes_arrive_before_the_upstream_has_finished(gateway: Gateway, gate: None) -> None:
    finished = fake_upstream.STATS["streams_finished"]
    body = {"model": "gated-stream", "stream": True, "messages": MESSAGES}
    with httpx.stream("POST", gateway.url + "/v1/chat/completions", json=body, headers={"X-Project": "gated"}) as r:
        lines = r.iter_lines()
        first = next(lines)
        assert first.startswith("data: ") and '"word0 "' in first
        assert fake_upstream.STATS["streams_finished"] == finished, "the upstream is held at the gate"
        fake_upstream.GATE.set()
        rest = [line for line in lines if line]
    assert rest[-1] == "data: [DONE]"
    record = only_record(gateway, "gated")
    assert record["stream"] is True and record["completion_tokens"] == 87 and "cancelled" not in record


def test_client_disconnect_mid_stream_cancels_upstream_and_is_recorded(gateway: Gateway, gate: None) -> None:
    cancelled = fake_upstream.STATS["streams_cancelled"]
    body = {"model": "gated-stream", "stream": True, "messages": MESSAGES}
    with httpx.Client(timeout=10) as client:
        with client.stream(
            "POST", gateway.url + "/v1/chat/completions", json=body, headers={"X-Project": "hangup"}
        ) as response:
            assert next(response.iter_lines()).startswith("data: ")
    assert wait_for(lambda: fake_upstream.STATS["streams_cancelled"] > cancelled), "the upstream call was not cancelled"
    record = only_record(gateway, "hangup")
    assert record["cancelled"] is True and record["error_type"] == "client_disconnected"
    assert record["status_code"] == 200 and record["stream"] is True
    assert record["id"].startswith("cmpl-"), "the id comes from the first chunk"


@pytest.fixture
def patient_gateway(upstream: ThreadServer, tmp_path: Path) -> Iterator[Gateway]:
    gateway = Gateway(root=tmp_path, upstream_url=upstream.url, extra={"read_timeout_seconds": 60.0}).start()
    yield gateway
    gateway.stop()


@pytest.mark.slow
def test_client_gone_before_the_answer_is_recorded_as_499(patient_gateway: Gateway, gate: None) -> None:
    marker = "gone-before-the-answer"
    body = orjson.dumps({"model": "gated-json", "messages": [{"role": "user", "content": marker}]})
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
        f"X-Project: gone\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", patient_gateway.port), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        assert wait_for(lambda: any(marker.encode() in seen["body"] for seen in fake_upstream.SEEN))
    record = only_record(patient_gateway, "gone")
    assert (record["status_code"], record["error_type"], record["cancelled"]) == (499, "client_disconnected", True)
    assert record["model"] == "gated-json" and record["prompt_tokens"] == 0


@pytest.mark.slow
def test_usage_endpoint_requires_the_token(gateway: Gateway) -> None:
    url = gateway.url + "/v1/usage/requests"
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": TOKEN}):
        response = httpx.get(url, headers=headers)
        assert response.status_code == 401
        assert response.json()["object"] == "error" and response.json()["type"] == "unauthorized"


@pytest.mark.slow
@pytest.mark.parametrize("query", ["limit=0", "limit=abc", "limit=-3", "after=not-a-cursor", "limit=1.5"])
def test_usage_endpoint_rejects_bad_parameters(gateway: Gateway, query: str) -> None:
    response = httpx.get(f"{gateway.url}/v1/usage/requests?{query}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 400
    assert response.json()["type"] == "invalid_request" and query.split("=")[0] in response.json()["message"]


@pytest.mark.slow
def test_usage_endpoint_pages_in_order_and_keeps_the_cursor_when_caught_up(gateway: Gateway) -> None:
    for index in range(5):
        post_chat(gateway, "mistral-small-latest", f"paging-{index}")
    everything = gateway.wait_records(5, lambda r: str(r["project"]).startswith("paging-"))
    assert [r["project"] for r in everything] == [f"paging-{i}" for i in range(5)]
    one_by_one = gateway.records(limit=1)
    assert [r["id"] for r in one_by_one] == [r["id"] for r in gateway.records()]
    auth = {"Authorization": f"Bearer {TOKEN}"}
    last = httpx.get(gateway.url + "/v1/usage/requests", params={"limit": 10_000}, headers=auth).json()
    assert last["has_more"] is False
    empty = httpx.get(gateway.url + "/v1/usage/requests", params={"after": last["next_cursor"]}, headers=auth).json()
    assert empty == {"object": "list", "data": [], "next_cursor": last["next_cursor"], "has_more": False}


@pytest.mark.slow
def test_metrics_and_health(gateway: Gateway) -> None:
    assert httpx.get(gateway.url + "/healthz").json()["status"] == "ok"
    post_chat(gateway, "fail-500", "metrics")
    gateway.wait_records(1, lambda r: r["project"] == "metrics")
    served = len(gateway.records())
    text = httpx.get(gateway.url + "/metrics").text
    values = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert int(values["gateway_records_buffered"]) == served
    assert int(values["gateway_requests_total"]) >= served
    assert int(values['gateway_responses_total{class="5xx"}']) >= 1
    assert int(values["gateway_record_failures_total"]) == 0


def run_cli(config: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "--config", config],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("colour = 1\n", "colour"),
        ('upstream_url = "ftp://x"\n', "upstream_url"),
        ("port = 99999\n", "port"),
        ('retention_days = "long"\n', "retention_days"),
        ("[gateway]\nproject_header = 'X Project'\n", "gateway.project_header"),
    ],
)
def test_bad_config_exits_2_with_one_line_naming_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = run_cli(str(path), {**os.environ, "GATEWAY_USAGE_TOKEN": TOKEN, "GATEWAY_KEY_SALT": "saltsaltsalt"})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"config error: {key}:")


@pytest.mark.slow
def test_missing_secret_exits_2_naming_the_variable(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text('usage_token_env = "MY_GW_TOKEN"\n')
    env = {k: v for k, v in os.environ.items() if k not in ("MY_GW_TOKEN", "GATEWAY_KEY_SALT")}
    result = run_cli(str(path), env)
    assert result.returncode == 2 and "MY_GW_TOKEN" in result.stderr and "usage_token_env" in result.stderr


@pytest.mark.slow
def test_server_in_thread_helper_is_loopback_only(upstream: ThreadServer) -> None:
    assert upstream.url.startswith("http://127.0.0.1:")
