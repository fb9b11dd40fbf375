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
from typing import Any

import fake_upstream
import pytest
from mistralai.client import Mistral
from mistralai.client.errors import MistralError
from mistralai.client.models import DocumentURLChunkTypedDict, UsageInfo, UserMessageTypedDict

import ledger
from tests.gateway.harness import REPO, TOKEN, Gateway, ThreadServer

pytestmark = pytest.mark.slow

PRICES = {"mistral-small-2603": (0.15, 0.015, 0.6), "mistral-embed-2312": (0.1, 0.01, 0.0)}


def expected_cost(model: str, prompt: int, cached: int, completion: int) -> float:
    fresh, reused, out = PRICES[model]
    return ((prompt - cached) * fresh + cached * reused + completion * out) / 1e6


def tokens(usage: UsageInfo) -> tuple[int, int]:
    """(prompt, completion) of a response; the SDK types both as optional, the fake always sends them."""
    assert usage.prompt_tokens is not None and usage.completion_tokens is not None, usage
    return usage.prompt_tokens, usage.completion_tokens


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


def test_collector_polls_the_gateway_into_the_ledger(upstream: ThreadServer, tmp_path: Path) -> None:
    gateway = Gateway(root=tmp_path / "gw", upstream_url=upstream.url)
    gateway.root.mkdir()
    gateway.start()
    try:
        client = Mistral(api_key="sk-ledger-test-key", server_url=gateway.url)
        tag = {"X-Project": "ledger"}
        messages: list[UserMessageTypedDict] = [{"role": "user", "content": "Count to three, please."}]
        chats = [
            client.chat.complete(model="mistral-small-latest", messages=messages, max_tokens=n, http_headers=tag)
            for n in (5, 50)
        ]
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
    expected = {c.id: tokens(c.usage) for c in chats}
    expected[streamed[0].data.id] = tokens(final.usage)
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


# USD list prices, from Mistral's pricing pages (platform-docs-public src/schema/models/models/*.ts)
OCR_PER_PAGE, OCR_PER_ANNOTATED_PAGE = 2.0 / 1000, 3.0 / 1000  # mistral-ocr-2512 (ocr-3-25-12.ts)
TRANSCRIPTION_PER_MINUTE = 0.002  # voxtral-mini-2507 transcription (voxtral-mini-transcribe-25-07.ts)
TTS_PER_CHARACTER = 16.0 / 1e6  # voxtral-mini-tts-2603 (voxtral-tts-26-03.ts)
VOXTRAL_SMALL = (0.1, 0.01, 0.4, 0.004)  # voxtral-small-2507 per 1M input/cached/output tokens; per audio minute
PRIORITY, REGIONAL = 1.75, 1.1  # the priority tier and api.eu / api.us multipliers


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


def drive(client: Mistral, eu_client: Mistral) -> dict[str, Any]:
    """One call of each billable kind through the SDK; returns what the SDK received."""
    got: dict[str, Any] = {"messages": [{"role": "user", "content": "Count to three, please."}]}
    document: DocumentURLChunkTypedDict = {
        "type": "document_url",
        "document_url": "https://example.com/scan.pdf?pages=4",
    }
    got["ocr"] = client.ocr.process(model="mistral-ocr-latest", document=document)
    schema = {"type": "json_schema", "json_schema": {"name": "invoice", "schema": {"type": "object"}}}
    invoice: DocumentURLChunkTypedDict = {
        "type": "document_url",
        "document_url": "https://example.com/invoice.pdf?pages=3",
    }
    got["annotated"] = client.ocr.process(
        model="mistral-ocr-latest",
        document=invoice,
        document_annotation_format=schema,  # type: ignore[arg-type]  # the SDK's TypedDict names the key schema_definition; the wire name is schema
    )
    got["transcription"] = client.audio.transcriptions.complete(
        model="voxtral-mini-latest", file={"file_name": "clip.mp3", "content": bytes(30_000)}
    )
    got["speech_input"] = "Bonjour \u00e0 tous !"
    client.audio.speech.complete(input=got["speech_input"], model="voxtral-mini-tts-latest", voice_id="en_paul")
    heard: list[UserMessageTypedDict] = [
        {
            "role": "user",
            "content": [{"type": "input_audio", "input_audio": "UklGRg=="}, {"type": "text", "text": "What is said?"}],
        }
    ]
    got["heard"] = client.chat.complete(model="voxtral-small-2507", messages=heard)
    got["priority"] = client.chat.complete(
        model="mistral-small-latest", messages=got["messages"], max_tokens=30, service_tier="auto"
    )
    got["agent"] = client.beta.conversations.start(agent_id=fake_upstream.AGENT_ID, inputs="Plan my trip")
    client.files.upload(file={"file_name": "batch.jsonl", "content": b'{"custom_id": "1"}\n'})
    fake_upstream.GATE.clear()
    try:
        gate = {"X-Gate": "1"}
        with client.chat.stream(model="mistral-small-latest", messages=got["messages"], http_headers=gate) as events:
            got["seen"] = next(iter(events)).data.choices[0].delta.content
    finally:
        fake_upstream.GATE.set()
    got["eu"] = eu_client.chat.complete(model="mistral-small-latest", messages=got["messages"], max_tokens=20)
    return got


def test_billable_units_reach_the_ledger_priced(upstream: ThreadServer, tmp_path: Path) -> None:
    """OCR (plain and annotated), transcription, TTS, chat audio, a priority call, an agent
    conversation, a file upload, a cut stream and a regional call go SDK -> gateway -> collector
    -> ledger; each row's units, flags and cost are checked against the prices written above."""
    home = Gateway(root=tmp_path / "gw", upstream_url=upstream.url)
    regional = Gateway(root=tmp_path / "eu", upstream_url=upstream.url, extra={"api_zone": "eu"})
    for gateway in (home, regional):
        gateway.root.mkdir()
        gateway.start()
    try:
        key = "sk-units-ledger-key"
        got = drive(Mistral(api_key=key, server_url=home.url), Mistral(api_key=key, server_url=regional.url))
        assert len(home.wait_records(9)) == 9 and len(regional.wait_records(1)) == 1
        result = collect_all({"gateway": home, "gateway_eu": regional}, tmp_path)
        assert result.returncode == 0, result.stderr
    finally:
        for gateway in (home, regional):
            gateway.stop()
    rows = ledger.read_ledger(tmp_path / "data").to_pylist()
    assert len(rows) == 10
    check_units(rows, got)
    check_tokens(rows, got)


def row(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    found = [r for r in rows if all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, f"expected one row matching {match}, got {found}"
    return found[0]


def check_units(rows: list[dict[str, Any]], got: dict[str, Any]) -> None:
    ocr = row(rows, endpoint="/v1/ocr", pages=got["ocr"].usage_info.pages_processed)
    assert (ocr["pages"], ocr["annotated_pages"], ocr["billable"], ocr["api_zone"]) == (4, None, True, "global")
    assert ocr["cost"] == pytest.approx(4 * OCR_PER_PAGE)
    annotated = row(rows, endpoint="/v1/ocr", pages=got["annotated"].usage_info.pages_processed)
    assert annotated["annotated_pages"] == 3 and annotated["cost"] == pytest.approx(3 * OCR_PER_ANNOTATED_PAGE)
    heard = row(rows, endpoint="/v1/audio/transcriptions")
    seconds = got["transcription"].usage.prompt_audio_seconds
    assert heard["audio_seconds"] == seconds >= 30 and heard["priced_model"] == "voxtral-mini-2507"
    # a transcription is billed per minute only: the answer's token usage adds nothing
    assert heard["cost"] == pytest.approx(seconds / 60 * TRANSCRIPTION_PER_MINUTE, rel=1e-9)
    spoken = row(rows, endpoint="/v1/audio/speech")
    assert spoken["characters"] == len(got["speech_input"]) and spoken["priced_model"] == "voxtral-mini-tts-2603"
    assert spoken["cost"] == pytest.approx(len(got["speech_input"]) * TTS_PER_CHARACTER)
    chat_audio = row(rows, id=got["heard"].id)
    usage, (fresh, reused, out, minute) = got["heard"].usage, VOXTRAL_SMALL
    tokens = (
        (usage.prompt_tokens - usage.prompt_tokens // 2) * fresh
        + usage.prompt_tokens // 2 * reused
        + usage.completion_tokens * out
    ) / 1e6
    assert chat_audio["audio_seconds"] == 10
    assert chat_audio["cost"] == pytest.approx(tokens + 10 / 60 * minute)
    upload = row(rows, endpoint="/v1/files")
    assert upload["billable"] is False and upload["cost"] == 0.0


def check_tokens(rows: list[dict[str, Any]], got: dict[str, Any]) -> None:
    usage = got["priority"].usage
    tiered = row(rows, id=got["priority"].id)
    assert tiered["service_tier"] == "priority"
    assert tiered["cost"] == pytest.approx(
        PRIORITY
        * expected_cost("mistral-small-2603", usage.prompt_tokens, usage.prompt_tokens // 2, usage.completion_tokens)
    )
    agent = got["agent"].usage
    conversation = row(rows, endpoint="/v1/conversations")
    assert (conversation["model"], conversation["agent_id"]) == ("mistral-small-2603", fake_upstream.AGENT_ID)
    assert conversation["cost"] == pytest.approx(
        expected_cost("mistral-small-2603", agent.prompt_tokens, 0, agent.completion_tokens)
    )
    cut = row(rows, tokens_estimated=True)
    prompt = math.ceil(sum(len(m["role"]) + len(m["content"]) for m in got["messages"]) / 4)
    completion = math.ceil(len(got["seen"].encode()) / 4)
    assert (cut["endpoint"], cut["prompt_tokens"], cut["completion_tokens"]) == (
        "/v1/chat/completions",
        prompt,
        completion,
    )
    assert cut["priced_model"] == "mistral-small-2603"
    assert cut["cost"] == pytest.approx(expected_cost("mistral-small-2603", prompt, 0, completion)) and cut["cost"] > 0
    eu = got["eu"].usage
    regional = row(rows, id=got["eu"].id)
    assert (regional["source"], regional["api_zone"]) == ("gateway_eu", "eu")
    fresh = expected_cost("mistral-small-2603", eu.prompt_tokens, eu.prompt_tokens // 2, eu.completion_tokens)
    assert regional["cost"] == pytest.approx(REGIONAL * fresh)
    assert {r["api_zone"] for r in rows if r["source"] == "gateway"} == {"global"}
