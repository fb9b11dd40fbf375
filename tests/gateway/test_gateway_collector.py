"""The whole path: SDK -> gateway -> usage endpoint -> `python -m collector --once` -> ledger.

Expected tokens come from what the SDK received; expected cost is computed here from the
published per-million prices of mistral-small-2603 (USD: input 0.15, cached input 0.015,
output 0.6) and mistral-embed-2312 (input 0.1), not read back from the ledger's price book.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, TOKEN, Gateway, ThreadServer
from mistralai.client import Mistral
from mistralai.client.errors import MistralError

ledger = pytest.importorskip("ledger")

PRICES = {"mistral-small-2603": (0.15, 0.015, 0.6), "mistral-embed-2312": (0.1, 0.01, 0.0)}


def expected_cost(model: str, prompt: int, cached: int, completion: int) -> float:
    fresh, reused, out = PRICES[model]
    return ((prompt - cached) * fresh + cached * reused + completion * out) / 1e6


def collect(gateway: Gateway, root: Path) -> subprocess.CompletedProcess[str]:
    config = root / "collector.toml"
    config.write_text(
        f'data_dir = "{root / "data"}"\ntimezone = "Europe/Paris"\ncurrency = "USD"\n\n[[sources]]\n'
        f'name = "gateway"\nkind = "usage_endpoint"\nurl = "{gateway.url}"\npoll_seconds = 60\n'
        'token_env = "GATEWAY_USAGE_TOKEN"\n'
    )
    env = {**os.environ, "GATEWAY_USAGE_TOKEN": TOKEN}
    cmd = [sys.executable, "-m", "collector", "--config", str(config), "--once"]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(not (REPO / "collector" / "__main__.py").exists(), reason="the collector is not there yet")
def test_collector_polls_the_gateway_into_the_ledger(upstream: ThreadServer, tmp_path: Path) -> None:
    gateway = Gateway(tmp_path / "gw", upstream.url)
    gateway.root.mkdir()
    gateway.start()
    try:
        client = Mistral(api_key="sk-ledger-test-key", server_url=gateway.url)
        tag = {"X-Project": "ledger"}
        messages = [{"role": "user", "content": "Count to three, please."}]
        chats = [client.chat.complete(model="mistral-small-latest", messages=messages, max_tokens=n, http_headers=tag)
                 for n in (5, 50)]  # fmt: skip
        streamed = list(client.chat.stream(model="mistral-small-latest", messages=messages, http_headers=tag))
        embedded = client.embeddings.create(model="mistral-embed", inputs=["hello"], http_headers=tag)
        with pytest.raises(MistralError):
            client.chat.complete(model="fail-429", messages=messages, http_headers=tag)
        served = gateway.wait_records(5)
        assert len(served) == 5
        result = collect(gateway, tmp_path)
        assert result.returncode == 0, result.stderr
        again = collect(gateway, tmp_path)
        assert again.returncode == 0, again.stderr
    finally:
        gateway.stop()

    rows = {row["id"]: row for row in ledger.read_ledger(tmp_path / "data").to_pylist()}
    final = next(e.data for e in streamed if e.data.usage is not None)
    expected = {c.id: (c.usage.prompt_tokens, c.usage.completion_tokens) for c in chats}
    expected[streamed[0].data.id] = (final.usage.prompt_tokens, final.usage.completion_tokens)
    assert len(rows) == 5, "five requests, each once, even after a second poll"
    for rid, (prompt, completion) in expected.items():
        row = rows[rid]
        cached = prompt // 2
        assert (row["prompt_tokens"], row["completion_tokens"], row["cached_tokens"]) == (prompt, completion, cached)
        assert (row["status_code"], row["project"], row["source"]) == (200, "ledger", "gateway")
        assert row["priced_model"] == "mistral-small-2603"
        assert row["cost"] == pytest.approx(expected_cost("mistral-small-2603", prompt, cached, completion))
    embed_row = rows[embedded.id]
    assert embed_row["prompt_tokens"] == len("hello") and embed_row["completion_tokens"] == 0
    assert embed_row["cost"] == pytest.approx(expected_cost("mistral-embed-2312", len("hello"), 0, 0))
    throttled = [row for rid, row in rows.items() if rid not in expected and rid != embedded.id]
    assert len(throttled) == 1
    assert (throttled[0]["status_code"], throttled[0]["error_type"]) == (429, "rate_limited")
    assert throttled[0]["rl_limit_tokens_minute"] == 2_000_000
    assert throttled[0]["spend_limit_reached"] is False
