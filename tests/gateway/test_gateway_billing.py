"""Issue 11, gateway side, end to end: the official SDK -> the gateway -> the fake upstream, and
the usage endpoint's records must carry every billable unit.

Expected quantities come from what the SDK received (pages, audio seconds, the conversation's
model) or from what the test sent (TTS characters, the agent), never from the gateway.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fake_upstream
import httpx
import pytest
from mistralai.client import Mistral
from mistralai.client.models import DocumentURLChunkTypedDict, UserMessageTypedDict

from tests.gateway.harness import Gateway, ThreadServer

API_KEY = "sk-units-0123456789abcdef"
PROJECT = "units"
SPEECH_INPUT = "Bonjour à tous, ça va ? 你好"
AUDIO = bytes(range(256)) * 64
PROMPT: list[UserMessageTypedDict] = [{"role": "user", "content": "Write a long poem about the sea, please."}]
BATCH_JOB = "b5a1c2d3-0000-4000-8000-000000000001"


def one(records: list[dict[str, Any]], endpoint: str, **match: Any) -> dict[str, Any]:
    found = [r for r in records if r["endpoint"] == endpoint and all(r.get(k) == v for k, v in match.items())]
    assert len(found) == 1, f"expected one {endpoint} record matching {match}, got {found}"
    return found[0]


@pytest.fixture(scope="module")
def calls(gateway: Gateway) -> dict[str, Any]:
    """Drive the gateway with the SDK once; each test checks one record."""
    client = Mistral(api_key=API_KEY, server_url=gateway.url)
    tag = {"X-Project": PROJECT}
    got: dict[str, Any] = {}
    document: DocumentURLChunkTypedDict = {
        "type": "document_url",
        "document_url": "https://example.com/report.pdf?pages=4",
    }
    got["ocr"] = client.ocr.process(model="mistral-ocr-latest", document=document, http_headers=tag)
    schema = {"type": "json_schema", "json_schema": {"name": "invoice", "schema": {"type": "object"}}}
    scanned: DocumentURLChunkTypedDict = {
        "type": "document_url",
        "document_url": "https://example.com/invoice.pdf?pages=2",
    }
    got["annotated"] = client.ocr.process(
        model="mistral-ocr-latest",
        document=scanned,
        document_annotation_format=schema,  # type: ignore[arg-type]  # the SDK's TypedDict names the key schema_definition; the wire name is schema
        http_headers=tag,
    )
    got["transcription"] = client.audio.transcriptions.complete(
        model="voxtral-mini-latest", file={"file_name": "clip.mp3", "content": AUDIO}, http_headers=tag
    )
    got["speech"] = client.audio.speech.complete(
        input=SPEECH_INPUT, model="voxtral-mini-tts-latest", voice_id="en_paul", http_headers=tag
    )
    heard: list[UserMessageTypedDict] = [
        {
            "role": "user",
            "content": [{"type": "input_audio", "input_audio": "UklGRg=="}, {"type": "text", "text": "What is said?"}],
        }
    ]
    got["chat_audio"] = client.chat.complete(model="voxtral-small-latest", messages=heard, http_headers=tag)
    got["priority"] = client.chat.complete(
        model="mistral-small-latest", messages=PROMPT, service_tier="auto", http_headers=tag
    )
    got["agent"] = client.beta.conversations.start(
        agent_id=fake_upstream.AGENT_ID, inputs="Plan my trip", http_headers=tag
    )
    got["append"] = client.beta.conversations.append(
        conversation_id=got["agent"].conversation_id, inputs="And the hotel?", http_headers=tag
    )
    got["file"] = client.files.upload(
        file={"file_name": "batch.jsonl", "content": b'{"custom_id": "1"}\n'}, http_headers=tag
    )
    got["paths"] = [
        f"/v1/files/{got['file'].id}",
        f"/v1/batch/jobs/{BATCH_JOB}",
        "/v1/models/mistral-small-latest",
        f"/v1/conversations/{got['agent'].conversation_id}",
    ]
    for path in got["paths"]:
        httpx.get(gateway.url + path, headers={**tag, "Authorization": f"Bearer {API_KEY}"})
    got["records"] = gateway.wait_records(13, lambda r: r["project"] == PROJECT)
    return got


@pytest.mark.slow
def test_ocr_records_the_pages_processed(calls: dict[str, Any]) -> None:
    record = one(calls["records"], "/v1/ocr", pages=4)
    assert "annotated_pages" not in record
    assert record["pages"] == calls["ocr"].usage_info.pages_processed == len(calls["ocr"].pages) == 4
    assert (record["model"], record["resolved_model"]) == ("mistral-ocr-latest", "mistral-ocr-2512")
    assert record["billable"] is True and record["prompt_tokens"] == 0


def test_ocr_with_an_annotation_format_records_its_pages_as_annotated(calls: dict[str, Any]) -> None:
    record = one(calls["records"], "/v1/ocr", pages=2)
    assert record["annotated_pages"] == record["pages"] == calls["annotated"].usage_info.pages_processed == 2


def test_transcription_records_audio_seconds_and_the_form_model(calls: dict[str, Any]) -> None:
    record = one(calls["records"], "/v1/audio/transcriptions")
    seconds = calls["transcription"].usage.prompt_audio_seconds
    assert seconds >= len(AUDIO) // 1000 and record["audio_seconds"] == seconds
    assert record["model"] == "voxtral-mini-latest", "read from the multipart form"
    assert record["resolved_model"] == calls["transcription"].model and record["billable"] is True


def test_chat_with_audio_records_audio_seconds(calls: dict[str, Any]) -> None:
    record = one(calls["records"], "/v1/chat/completions", model="voxtral-small-latest")
    assert record["audio_seconds"] == calls["chat_audio"].usage.prompt_audio_seconds == 10
    assert record["prompt_tokens"] == calls["chat_audio"].usage.prompt_tokens


def test_speech_records_input_characters_not_bytes(calls: dict[str, Any]) -> None:
    record = one(calls["records"], "/v1/audio/speech")
    assert calls["speech"].audio_data, "the SDK got its audio"
    assert record["characters"] == 26 == len(SPEECH_INPUT) < len(SPEECH_INPUT.encode())
    assert record["model"] == "voxtral-mini-tts-latest" and record["billable"] is True
    assert "tokens_estimated" not in record and record["prompt_tokens"] == 0


def test_priority_request_records_the_tier_the_response_names(calls: dict[str, Any]) -> None:
    record = one(calls["records"], "/v1/chat/completions", model="mistral-small-latest")
    assert record["service_tier"] == calls["priority"].usage.service_tier == "priority"
    assert "service_tier" not in one(calls["records"], "/v1/chat/completions", model="voxtral-small-latest")


def test_conversation_with_an_agent_records_the_model_it_ran(calls: dict[str, Any]) -> None:
    started = calls["agent"]
    record = one(calls["records"], "/v1/conversations")
    assert record["model"] == started.outputs[0].model == "mistral-small-2603"
    assert record["agent_id"] == fake_upstream.AGENT_ID
    assert (record["prompt_tokens"], record["completion_tokens"]) == (
        started.usage.prompt_tokens,
        started.usage.completion_tokens,
    )
    assert record["billable"] is True and started.conversation_id not in record["endpoint"]


def test_conversation_append_is_templated_and_keeps_model_and_agent(calls: dict[str, Any]) -> None:
    appended = calls["append"]
    record = one(calls["records"], "/v1/conversations/{id}", method="POST")
    assert record["model"] == appended.outputs[0].model == "mistral-small-2603"
    assert record["agent_id"] == fake_upstream.AGENT_ID, "named by the response's output entry"
    assert record["completion_tokens"] == appended.usage.completion_tokens and record["billable"] is True


def test_file_upload_is_not_billable(calls: dict[str, Any]) -> None:
    record = one(calls["records"], "/v1/files")
    assert calls["file"].size_bytes > len(b'{"custom_id": "1"}'), "the multipart upload crossed whole"
    assert record["billable"] is False and record["method"] == "POST"


def test_id_paths_become_templates_and_are_not_billable(calls: dict[str, Any]) -> None:
    reads = [r for r in calls["records"] if r["method"] == "GET"]
    assert sorted(r["endpoint"] for r in reads) == sorted(
        ["/v1/files/{id}", "/v1/batch/jobs/{id}", "/v1/models/{id}", "/v1/conversations/{id}"]
    )
    assert all(r["billable"] is False for r in reads)
    endpoints = {r["endpoint"] for r in calls["records"]}
    assert not any(part in e for e in endpoints for part in ("conv_", BATCH_JOB, calls["file"].id))


def test_every_record_names_the_zone_of_a_global_upstream(calls: dict[str, Any]) -> None:
    assert len(calls["records"]) == 13
    assert {r["api_zone"] for r in calls["records"]} == {"global"}


@pytest.fixture
def eu_gateway(upstream: ThreadServer, tmp_path: Path) -> Iterator[Gateway]:
    gateway = Gateway(root=tmp_path, upstream_url=upstream.url, extra={"api_zone": "eu"}).start()
    yield gateway
    gateway.stop()


@pytest.mark.slow
def test_regional_upstream_records_its_zone(eu_gateway: Gateway) -> None:
    client = Mistral(api_key=API_KEY, server_url=eu_gateway.url)
    answer = client.chat.complete(model="mistral-small-latest", messages=PROMPT, service_tier="standard_only")
    (record,) = eu_gateway.wait_records(1)
    assert record["api_zone"] == "eu" and record["id"] == answer.id
    assert record["service_tier"] == answer.usage.service_tier == "standard"


@pytest.fixture
def gate() -> Iterator[None]:
    fake_upstream.GATE.clear()
    yield
    fake_upstream.GATE.set()


def text_of(message: UserMessageTypedDict) -> str:
    """A message's content as the plain string it is here (the SDK's type also allows chunks)."""
    content = message["content"]
    assert isinstance(content, str), content
    return content


def test_cancelled_stream_is_estimated_flagged_and_never_zero(gateway: Gateway, gate: None) -> None:
    """The SDK reads the first chunk and closes the stream: Mistral bills the prompt and that chunk."""
    client = Mistral(api_key=API_KEY, server_url=gateway.url)
    with client.chat.stream(model="gated-stream", messages=PROMPT, http_headers={"X-Project": "cut"}) as events:
        first = next(iter(events))
    seen = first.data.choices[0].delta.content
    (record,) = gateway.wait_records(1, lambda r: r["project"] == "cut")
    assert record["cancelled"] is True and record["tokens_estimated"] is True
    prompt_bytes = sum(len(m["role"].encode()) + len(text_of(m).encode()) for m in PROMPT)
    assert record["prompt_tokens"] == math.ceil(prompt_bytes / 4) > 0
    assert record["completion_tokens"] == math.ceil(len(seen.encode()) / 4) > 0
    assert record["cached_tokens"] == 0 and record["billable"] is True


def test_streamed_agent_conversation_records_model_agent_and_usage(gateway: Gateway) -> None:
    client = Mistral(api_key=API_KEY, server_url=gateway.url)
    tag = {"X-Project": "agent-stream"}
    events = list(
        client.beta.conversations.start_stream(agent_id=fake_upstream.AGENT_ID, inputs="Hi", http_headers=tag)
    )
    done = events[-1].data
    (record,) = gateway.wait_records(1, lambda r: r["project"] == "agent-stream")
    assert record["model"] == events[1].data.model == "mistral-small-2603"
    assert (record["agent_id"], record["stream"], record["endpoint"]) == (
        fake_upstream.AGENT_ID,
        True,
        "/v1/conversations",
    )
    assert (record["prompt_tokens"], record["completion_tokens"]) == (
        done.usage.prompt_tokens,
        done.usage.completion_tokens,
    )
    assert "tokens_estimated" not in record


@pytest.mark.slow
def test_finished_stream_is_not_estimated(gateway: Gateway) -> None:
    client = Mistral(api_key=API_KEY, server_url=gateway.url)
    tag = {"X-Project": "whole"}
    events = list(client.chat.stream(model="mistral-small-latest", messages=PROMPT, http_headers=tag))
    usage = next(e.data.usage for e in events if e.data.usage is not None)
    (record,) = gateway.wait_records(1, lambda r: r["project"] == "whole")
    assert "tokens_estimated" not in record
    assert (record["prompt_tokens"], record["completion_tokens"]) == (usage.prompt_tokens, usage.completion_tokens)
