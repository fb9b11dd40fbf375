"""The gateway process logs JSON lines with a level through the one setup: `MONITOR_LOG_LEVEL`
picks what is shown, uvicorn's own records come out the same way, and no secret is printed."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest

from tests.gateway.harness import SALT, TOKEN, Gateway, ThreadServer

pytestmark = pytest.mark.slow


def run_and_read_log(root: Path, upstream: ThreadServer) -> list[dict[str, object]]:
    gateway = Gateway(root=root, upstream_url=upstream.url, extra={"log_requests": True}).start()
    try:
        body = {"model": "mistral-small-latest", "messages": [{"role": "user", "content": "hi"}]}
        assert httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=30).status_code == 200
        assert (
            httpx.get(gateway.url + "/v1/usage/requests", headers={"Authorization": "Bearer wrong"}).status_code == 401
        )
    finally:
        gateway.stop()
    text = (root / "gateway.log").read_text()
    assert TOKEN not in text and SALT not in text
    return [orjson.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("info", [("info", "gateway_started"), ("info", "request"), ("info", "gateway_stopped")]),
        ("warning", []),
    ],
)
def test_the_level_picks_the_lines_and_each_is_a_json_object(level, expected, upstream, tmp_path, monkeypatch):
    monkeypatch.setenv("MONITOR_LOG_LEVEL", level)
    lines = run_and_read_log(tmp_path, upstream)
    assert [(line["level"], line["event"]) for line in lines] == expected
    assert all(line["logger"] == "gateway" and list(line)[:4] == ["ts", "level", "logger", "event"] for line in lines)
