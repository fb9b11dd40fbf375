"""The whole path: SDK -> gateway -> usage endpoint -> `python -m collector --once` -> ledger.

Expected tokens come from what the SDK received; expected cost is computed here from the
published per-million prices of mistral-small-2603 (USD: input 0.15, cached input 0.015,
output 0.6) and mistral-embed-2312 (input 0.1), not read back from the ledger's price book.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import fake_upstream
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


UNIT_COLUMNS = {"pages", "audio_seconds", "characters", "api_zone", "billable", "tokens_estimated", "agent_id"}
OCR_USD_PER_PAGE = 2.0 / 1000  # mistral-ocr-2512: $2 per 1,000 pages (Mistral's pricing page)
PRIORITY, REGIONAL = 1.75, 1.1  # priority tier and api.eu / api.us multipliers (Mistral's pricing docs)


def collect_all(gateways: dict[str, Gateway], root: Path) -> subprocess.CompletedProcess[str]:
    """`python -m collector --once` with one usage_endpoint source per gateway."""
    config = root / "collector.toml"
    sources = "".join(
        f'\n[[sources]]\nname = "{name}"\nkind = "usage_endpoint"\nurl = "{gw.url}"\npoll_seconds = 60\n'
        'token_env = "GATEWAY_USAGE_TOKEN"\n'
        for name, gw in gateways.items()
    )
    config.write_text(f'data_dir = "{root / "data"}"\ntimezone = "UTC"\ncurrency = "USD"\n{sources}')
    env = {**os.environ, "GATEWAY_USAGE_TOKEN": TOKEN}
    cmd = [sys.executable, "-m", "collector", "--config", str(config), "--once"]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(not UNIT_COLUMNS <= set(ledger.SCHEMA.names), reason="the ledger has no billable-unit columns")
def test_billable_units_reach_the_ledger_priced(upstream: ThreadServer, tmp_path: Path) -> None:
    """OCR pages, a priority call, an agent conversation, a file upload, a cut stream and a regional
    call go SDK -> gateway -> collector -> ledger; each row's units, flags and cost are checked
    against prices written here."""
    home = Gateway(tmp_path / "gw", upstream.url)
    regional = Gateway(tmp_path / "eu", upstream.url, extra={"api_zone": "eu"})
    for gateway in (home, regional):
        gateway.root.mkdir()
        gateway.start()
    try:
        client = Mistral(api_key="sk-units-ledger-key", server_url=home.url)
        messages = [{"role": "user", "content": "Count to three, please."}]
        document = {"type": "document_url", "document_url": "https://example.com/scan.pdf?pages=4"}
        ocr = client.ocr.process(model="mistral-ocr-latest", document=document)  # type: ignore[arg-type]
        priority = client.chat.complete(model="mistral-small-latest", messages=messages, max_tokens=30,
                                        service_tier="auto")  # type: ignore[arg-type]  # fmt: skip
        agent = client.beta.conversations.start(agent_id=fake_upstream.AGENT_ID, inputs="Plan my trip")
        client.files.upload(file={"file_name": "batch.jsonl", "content": b'{"custom_id": "1"}\n'})
        fake_upstream.GATE.clear()
        try:
            gate = {"X-Gate": "1"}
            with client.chat.stream(model="mistral-small-latest", messages=messages, http_headers=gate) as events:  # type: ignore[arg-type]
                seen = next(iter(events)).data.choices[0].delta.content
        finally:
            fake_upstream.GATE.set()
        eu_client = Mistral(api_key="sk-units-ledger-key", server_url=regional.url)
        eu_chat = eu_client.chat.complete(model="mistral-small-latest", messages=messages, max_tokens=20)  # type: ignore[arg-type]
        assert len(home.wait_records(5)) == 5 and len(regional.wait_records(1)) == 1
        result = collect_all({"gateway": home, "gateway_eu": regional}, tmp_path)
        assert result.returncode == 0, result.stderr
    finally:
        for gateway in (home, regional):
            gateway.stop()

    rows = ledger.read_ledger(tmp_path / "data").to_pylist()
    by_endpoint = {(row["source"], row["endpoint"]): row for row in rows}
    assert len(rows) == len(by_endpoint) == 6

    ocr_row = by_endpoint["gateway", "/v1/ocr"]
    assert ocr_row["pages"] == ocr.usage_info.pages_processed == 4
    assert ocr_row["billable"] is True and ocr_row["api_zone"] == "global"
    assert ocr_row["cost"] == pytest.approx(4 * OCR_USD_PER_PAGE)

    chat_rows = [r for r in rows if r["endpoint"] == "/v1/chat/completions" and r["source"] == "gateway"]
    tiered = next(r for r in chat_rows if r["id"] == priority.id)
    usage = priority.usage
    cached = usage.prompt_tokens // 2
    assert tiered["service_tier"] == "priority"
    assert tiered["cost"] == pytest.approx(
        PRIORITY * expected_cost("mistral-small-2603", usage.prompt_tokens, cached, usage.completion_tokens)
    )

    conversation = by_endpoint["gateway", "/v1/conversations"]
    assert (conversation["model"], conversation["agent_id"]) == ("mistral-small-2603", fake_upstream.AGENT_ID)
    assert conversation["cost"] == pytest.approx(
        expected_cost("mistral-small-2603", agent.usage.prompt_tokens, 0, agent.usage.completion_tokens)
    )

    upload = by_endpoint["gateway", "/v1/files"]
    assert upload["billable"] is False and not upload["cost"]

    cut = next(r for r in chat_rows if r["id"] != priority.id)
    prompt = math.ceil(sum(len(m["role"]) + len(m["content"]) for m in messages) / 4)
    completion = math.ceil(len(seen.encode()) / 4)
    assert (cut["tokens_estimated"], cut["prompt_tokens"], cut["completion_tokens"]) == (True, prompt, completion)
    assert cut["priced_model"] == "mistral-small-2603"
    assert cut["cost"] == pytest.approx(expected_cost("mistral-small-2603", prompt, 0, completion)) and cut["cost"] > 0

    eu_row = by_endpoint["gateway_eu", "/v1/chat/completions"]
    eu_usage = eu_chat.usage
    assert eu_row["api_zone"] == "eu"
    fresh = expected_cost("mistral-small-2603", eu_usage.prompt_tokens, eu_usage.prompt_tokens // 2,
                          eu_usage.completion_tokens)  # fmt: skip
    assert eu_row["cost"] == pytest.approx(REGIONAL * fresh)
