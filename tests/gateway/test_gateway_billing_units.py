"""Issue 11, gateway side, unit by unit: endpoint templates, the billable flag, the zone, the
units read from responses, the SSE text count and the token estimate of a cut stream."""

from __future__ import annotations

import math
import random
import string
from pathlib import Path

import orjson
import pytest

from foundation.errors import ConfigError
from gateway._endpoints import billable, endpoint_template
from gateway._estimate import prompt_bytes, tokens_for
from gateway._observe import JSON_CAP, generated_bytes, observer_for
from gateway._record import CLIENT_CLOSED, Exchange, build_record, interrupted_record, read_request
from gateway._units import response_units, zone_for
from gateway.config import load_config


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/v1/conversations/conv_0195a3b2c4d5e6f7a8b9", "/v1/conversations/{id}"),
        ("/v1/conversations/conv_01/restart", "/v1/conversations/{id}/restart"),
        ("/v1/files/3f2c1a9e-1b2c-4d5e-8f90-123456789abc/content", "/v1/files/{id}/content"),
        ("/v1/batch/jobs/3f2c1a9e-1b2c-4d5e-8f90-123456789abc", "/v1/batch/jobs/{id}"),
        ("/v1/batch/jobs/3f2c1a9e/cancel", "/v1/batch/jobs/{id}/cancel"),
        ("/v1/models/ft:open-mistral-7b:587a6b29:20240514:7e773925", "/v1/models/{id}"),
        ("/v1/models/mistral-small-latest", "/v1/models/{id}"),
        ("/v1/agents/ag_0195a3b2", "/v1/agents/{id}"),
        ("/v1/agents/completions", "/v1/agents/completions"),
        ("/v1/fine_tuning/jobs/3f2c1a9e/cancel", "/v1/fine_tuning/jobs/{id}/cancel"),
        ("/v1/libraries/lib1/documents/doc2/status", "/v1/libraries/{id}/documents/{id}/status"),
        ("/v1/chat/completions", "/v1/chat/completions"),
        ("/v1/unknown/abc123/thing", "/v1/unknown/{id}/thing"),
        ("/v1/unknown/" + "x" * 41, "/v1/unknown/{id}"),
        ("/a/b/c/d/e/f/g/h/i/j", "/a/b/c/d/e/f/g/h/..."),
        ("/", "/"),
        ("/v1/conversations/{id}", "/v1/conversations/{id}"),
    ],
)
def test_paths_become_templates(path: str, template: str) -> None:
    assert endpoint_template(path) == template


def test_endpoint_column_stays_a_small_set_whatever_the_ids() -> None:
    rng = random.Random(11)
    routes = (
        "/v1/files/{}",
        "/v1/conversations/conv_{}",
        "/v1/batch/jobs/{}",
        "/v1/models/ft:{}",
        "/v1/agents/ag_{}",
        "/v1/files/{}/content",
        "/v1/nothing-known/{}",
    )
    seen = set()
    for _ in range(5000):
        ident = "".join(rng.choices(string.hexdigits.lower(), k=rng.randint(8, 36))) + str(rng.randint(0, 9))
        seen.add(endpoint_template(rng.choice(routes).format(ident)))
    assert len(seen) == len(routes)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/v1/chat/completions", True),
        ("POST", "/v1/ocr", True),
        ("POST", "/v1/audio/speech", True),
        ("POST", "/v1/conversations/conv_1", True),
        ("GET", "/v1/conversations/conv_1", False),
        ("DELETE", "/v1/conversations/conv_1", False),
        ("POST", "/v1/files", False),
        ("GET", "/v1/files/abc1", False),
        ("GET", "/v1/models", False),
        ("POST", "/v1/batch/jobs", False),
        ("GET", "/v1/batch/jobs/job1", False),
        ("POST", "/v1/fine_tuning/jobs", False),
        ("POST", "/v1/fine_tuning/jobs/job1/start", False),
        ("PATCH", "/v1/agents/ag_1", False),
        ("POST", "/v1/libraries/lib1/documents", None),
        ("POST", "/v1/something/new", None),
        ("GET", "/echo/x", None),
    ],
)
def test_billable_flag(method: str, path: str, expected: bool | None) -> None:
    assert billable(method, endpoint_template(path)) is expected


def test_zone_from_the_upstream_host_or_the_config() -> None:
    assert zone_for("https://api.eu.mistral.ai") == "eu"
    assert zone_for("https://api.us.mistral.ai/") == "us"
    assert zone_for("https://api.mistral.ai") == "global"
    assert zone_for("http://127.0.0.1:8080") == "global"
    assert zone_for("https://api.mistral.ai", "eu") == "eu"


def test_api_zone_config_key(tmp_path: Path) -> None:
    path = tmp_path / "gw.toml"
    path.write_text('upstream_url = "https://api.us.mistral.ai"\n')
    assert load_config(path).api_zone == "auto"
    path.write_text('api_zone = "EU"\n')
    assert load_config(path).api_zone == "eu"
    path.write_text('api_zone = "asia"\n')
    with pytest.raises(ConfigError, match=r"^api_zone: 'asia' is not a zone; use auto"):
        load_config(path)


def test_response_units_read_only_well_typed_values() -> None:
    good = {"usage_info": {"pages_processed": 0}, "usage": {"prompt_audio_seconds": 7.5, "service_tier": "priority"}}
    assert response_units(good) == {"pages": 0, "audio_seconds": 7.5, "service_tier": "priority"}
    bad = {
        "usage_info": {"pages_processed": "3"},
        "usage": {"prompt_audio_seconds": True, "service_tier": "gold"},
        "outputs": [None, {"model": 3}, {"type": "tool.execution"}],
    }
    assert response_units(bad) == {}
    assert response_units({"usage": {"prompt_audio_seconds": None}, "usage_info": []}) == {}
    conversation = {"outputs": [{"type": "tool.execution"}, {"model": "m-2603", "agent_id": "ag_1"}]}
    assert response_units(conversation) == {"output_model": "m-2603", "agent_id": "ag_1"}


def test_request_facts_from_json_and_multipart() -> None:
    speech = b'{"input": "\xc3\xa9t\xc3\xa9", "model": "tts"}'
    facts = read_request(speech, "application/json", True, "/v1/audio/speech")
    assert (facts.model, facts.characters) == ("tts", 3)
    chat = read_request(
        b'{"input": "abc", "agent_id": "ag_1", "service_tier": "standard_only"}',
        "application/json",
        True,
        "/v1/chat/completions",
    )
    assert (chat.characters, chat.agent_id, chat.standard_only) == (None, "ag_1", True)
    form = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.mp3"\r\n\r\nRIFF\r\n--b\r\n'
        b'Content-Disposition: form-data; name="model"\r\n\r\nvoxtral-mini-latest\r\n--b--\r\n'
    )
    assert read_request(form, "multipart/form-data; boundary=b", True, "/v1/audio/transcriptions").model == (
        "voxtral-mini-latest"
    )
    assert read_request(b"--b\r\n", "multipart/form-data; boundary=b", True, "/v1/files").model is None


def sse(*chunks: dict[str, object]) -> bytes:
    return b"".join(b"event: x\ndata: " + orjson.dumps(c) + b"\n\n" for c in chunks)


def test_sse_observer_counts_generated_text_across_any_split() -> None:
    chat = sse(
        {"id": "c", "model": "m", "choices": [{"delta": {"role": "assistant", "content": "h\u00e9"}}]},
        {"id": "c", "choices": [{"delta": {"content": [{"type": "text", "text": "llo"}]}}]},
        {"id": "c", "choices": [{"delta": {"tool_calls": [{"function": {"arguments": "{}"}}]}}]},
    )
    expected = len("h\u00e9".encode()) + len("llo") + len("{}")
    for size in (1, 3, 50, len(chat)):
        observer = observer_for("text/event-stream", "")
        assert observer is not None
        for start in range(0, len(chat), size):
            observer.feed(chat[start : start + size])
        assert generated_bytes(observer) == expected, size
    conversation = sse(
        {"type": "conversation.response.started", "conversation_id": "conv_1"},
        {"type": "message.output.delta", "content": "Bon", "model": "m-2603", "agent_id": "ag_1"},
        {"type": "message.output.delta", "content": "jour", "model": "m-2603"},
    )
    observer = observer_for("text/event-stream", "")
    assert observer is not None
    observer.feed(conversation)
    assert generated_bytes(observer) == len("Bonjour")
    assert observer.result() == {"model": "m-2603", "agent_id": "ag_1"}
    assert generated_bytes(observer_for("application/json", "")) == 0


def test_prompt_bytes_count_text_not_inline_files() -> None:
    body = {
        "model": "m",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "d\u00e9crire"},
                    {"type": "image_url", "image_url": "data:image/png;base64,AAAA"},
                ],
            }
        ],
        "temperature": 0.5,
    }
    assert prompt_bytes(orjson.dumps(body)) == len("user") + len("d\u00e9crire".encode())
    assert prompt_bytes(b"not json at all") == len(b"not json at all")
    assert tokens_for(b"", 0) == (0, 0) and tokens_for(b"", 9) == (0, 3)


def cut_stream(status: int, response_started: bool, usage: dict[str, int] | None = None) -> Exchange:
    body = orjson.dumps({"model": "m", "stream": True, "messages": [{"role": "user", "content": "x" * 96}]})
    ex = Exchange(
        method="POST",
        endpoint="/v1/chat/completions",
        model="m",
        stream=True,
        status=status,
        response_started=response_started,
        cancelled=True,
        billable=True,
        request_body=body,
    )
    ex.observer = observer = observer_for("text/event-stream", "")
    assert observer is not None
    observer.feed(sse({"id": "c", "choices": [{"delta": {"content": "y" * 40}}]}))
    if usage is not None:
        observer.feed(sse({"id": "c", "choices": [], "usage": usage}))
    return ex


def test_cut_stream_tokens_are_estimated_only_when_usage_never_came() -> None:
    record = build_record(cut_stream(200, True))
    expected_prompt = math.ceil((len("user") + 96) / 4)
    assert (record["prompt_tokens"], record["completion_tokens"], record["tokens_estimated"]) == (
        expected_prompt,
        10,
        True,
    )
    seen = build_record(cut_stream(200, True, {"prompt_tokens": 31, "completion_tokens": 12}))
    assert (seen["prompt_tokens"], seen["completion_tokens"]) == (31, 12) and "tokens_estimated" not in seen
    before = build_record(cut_stream(CLIENT_CLOSED, False))
    assert before["prompt_tokens"] == expected_prompt and before["tokens_estimated"] is True
    failed = build_record(cut_stream(429, True))
    assert failed["prompt_tokens"] == 0 and "tokens_estimated" not in failed
    whole = cut_stream(200, True)
    whole.cancelled = False
    assert "tokens_estimated" not in build_record(whole)
    large = cut_stream(200, True)
    large.request_body, large.request_size = None, 4 * 1024 * 1024 + 1
    assert build_record(large)["prompt_tokens"] == 1024 * 1024 + 1, "a body too large to hold counts whole"


def test_failed_speech_bills_no_characters_and_interrupted_records_keep_the_context() -> None:
    ex = Exchange(
        method="POST",
        endpoint="/v1/audio/speech",
        status=422,
        zone="eu",
        billable=True,
        facts=read_request(b'{"input": "abc"}', "application/json", True, "/v1/audio/speech"),
    )
    record = build_record(ex)
    assert "characters" not in record and (record["api_zone"], record["billable"]) == ("eu", True)
    interrupted = interrupted_record(ex)
    assert (interrupted["api_zone"], interrupted["billable"], interrupted["endpoint"]) == ("eu", True, ex.endpoint)


def test_ocr_answer_over_the_json_cap_still_records_its_pages() -> None:
    image = "data:image/png;base64," + "A" * (JSON_CAP // 4)
    pages = [{"index": i, "markdown": 'a "model": "wrong" text', "images": [{"image_base64": image}]} for i in range(5)]
    answer = {"pages": pages, "model": "mistral-ocr-2505", "usage_info": {"pages_processed": 5, "doc_size_bytes": 9}}
    body = orjson.dumps(answer)
    assert len(body) > JSON_CAP
    ex = Exchange(method="POST", endpoint="/v1/ocr", model="mistral-ocr-latest", status=200)
    ex.observer = observer = observer_for("application/json", "")
    assert observer is not None
    for start in range(0, len(body), 1 << 16):
        observer.feed(body[start : start + (1 << 16)])
    record = build_record(ex)
    assert (record["pages"], record["resolved_model"]) == (5, "mistral-ocr-2505")
