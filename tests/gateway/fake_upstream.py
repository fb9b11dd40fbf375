"""A fake Mistral API for the gateway's tests: real HTTP on loopback, Mistral's shapes.

The behaviour is chosen by the request's model, so the official SDK can drive every case:
    fail-429 / fail-spend   429 with Mistral's throttling / spend-limit body and rate-limit headers
    fail-500                500 with an error body
    slow                    answers after `slow_seconds`
    <anything else>         a chat completion (or an SSE stream when "stream": true)
    gated-json              a completion sent only once GATE is set
    gzip-json               the completion gzip-compressed, when the client accepts gzip
A model ending in -latest resolves to -2603. A `gated-stream` (or any stream requested with an
`X-Gate: 1` header, so a priced model can be cut too) sends its first chunk, then waits
for GATE to be set before the rest: a test can hang up mid-stream, or prove the first bytes
reached it before the upstream had finished, without relying on timing.

Billable units, in Mistral's shapes (the SDK's models: OCRResponse, TranscriptionResponse,
SpeechResponse, ConversationResponse, CreateFileResponse):
    chat with `service_tier`     usage.service_tier: "priority" for "auto", "standard" for "standard_only"
    chat with input_audio        usage.prompt_audio_seconds: 10 per audio chunk
    /v1/ocr                      `?pages=N` in the document URL -> N pages, usage_info.pages_processed = N
    /v1/audio/transcriptions     usage.prompt_audio_seconds = body bytes // 1000
    /v1/audio/speech             {"audio_data": base64}; billed per input character, no usage
    /v1/conversations[/{id}]     outputs[] naming the model (and the agent, when started with one)

Every response sent is appended to `SENT` (id, status, usage, model) and every request's
headers and body to `SEEN`: the tests compare the gateway's records with what really happened
here, not with what the gateway says.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import itertools
import threading
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

SENT: list[dict[str, Any]] = []
SEEN: list[dict[str, Any]] = []
STATS = {"streams_cancelled": 0, "streams_finished": 0, "uploads_started": 0, "uploads_finished": 0}
SETTINGS = {"slow_seconds": 3.0, "chunks": 5}
AGENT_ID = "ag_0195a3b2c4d5e6f7a8b9c0d1e2f3a4b5"
AGENT_MODEL = "mistral-small-latest"
STARTED_WITH_AGENT: set[str] = set()
GATE = threading.Event()
_ids = itertools.count(1)

RATELIMIT_HEADERS = {
    "x-ratelimit-limit-tokens-minute": "2000000",
    "x-ratelimit-remaining-tokens-minute": "1500000",
    "x-ratelimit-tokens-query-cost": "1111",
    "x-ratelimit-limit-req-minute": "300",
    "x-ratelimit-remaining-req-minute": "299",
    "x-ratelimit-limit-tokens-month": "1000000000",
}
THROTTLED = {"object": "error", "message": "Rate limit exceeded", "type": "rate_limited", "param": None, "code": "1300"}
SPEND = {
    "object": "error",
    "message": "Organization monthly spend limit reached",
    "type": "rate_limited",
    "param": None,
    "code": "1300",
}
SERVER_ERROR = {"object": "error", "message": "Internal error", "type": "internal_error", "param": None, "code": "3000"}


def resolve(model: str) -> str:
    return model.replace("-latest", "-2603")


def usage_for(body: dict[str, Any]) -> dict[str, Any]:
    """Deterministic usage: prompt = characters of the messages, completion = max_tokens or 87."""
    prompt = sum(len(str(m.get("content", ""))) for m in body.get("messages", [])) or len(str(body.get("input", "")))
    completion = int(body.get("max_tokens") or 87)
    cached = prompt // 2
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    }
    tier = {"auto": "priority", "standard_only": "standard"}.get(body.get("service_tier") or "")
    if tier:
        usage["service_tier"] = tier
    clips = sum(1 for m in body.get("messages", []) for c in _chunks(m) if c.get("type") == "input_audio")
    if clips:
        usage["prompt_audio_seconds"] = 10 * clips
    return usage


def _chunks(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    return [c for c in content if isinstance(c, dict)] if isinstance(content, list) else []


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    SENT.append({"id": body.get("id"), "status": status, "usage": body.get("usage"), "model": body.get("model")})
    return Response(orjson.dumps(body), status, headers=headers, media_type="application/json")


async def chat(request: Request) -> Response:
    raw = await request.body()
    body = orjson.loads(raw)
    SEEN.append({"headers": dict(request.headers), "body": raw, "path": request.url.path})
    model = body["model"]
    if model in ("fail-429", "fail-spend"):
        return _json(429, THROTTLED if model == "fail-429" else SPEND, {**RATELIMIT_HEADERS, "retry-after": "3"})
    if model == "fail-500":
        return _json(500, SERVER_ERROR)
    if model == "slow":
        await asyncio.sleep(SETTINGS["slow_seconds"])
    if model == "gated-json":
        await _gate()
    if body.get("stream"):
        return _stream(body, gated=body["model"] == "gated-stream" or request.headers.get("x-gate") == "1")
    return _completion(request, body)


def _completion(request: Request, body: dict[str, Any]) -> Response:
    model = body["model"]
    rid = f"cmpl-{next(_ids)}"
    message = {"role": "assistant", "content": "Hello from the fake upstream."}
    answer = {
        "id": rid,
        "object": "chat.completion",
        "model": resolve(model),
        "created": 1764000000,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": usage_for(body),
    }
    if model == "gzip-json" and "gzip" in request.headers.get("accept-encoding", ""):
        SENT.append({"id": rid, "status": 200, "usage": answer["usage"], "model": answer["model"]})
        packed = gzip.compress(orjson.dumps(answer))
        return Response(packed, headers={"content-encoding": "gzip"}, media_type="application/json")
    return _json(200, answer, RATELIMIT_HEADERS)


async def _gate() -> None:
    for _ in range(1000):
        if GATE.is_set():
            return
        await asyncio.sleep(0.01)


def _stream(body: dict[str, Any], gated: bool) -> Response:
    rid, model = f"cmpl-{next(_ids)}", resolve(body["model"])
    usage = usage_for(body)
    SENT.append({"id": rid, "status": 200, "usage": usage, "model": model, "stream": True})

    async def events() -> Any:
        try:
            for index in range(int(SETTINGS["chunks"])):
                delta = {"index": 0, "delta": {"content": f"word{index} "}, "finish_reason": None}
                yield _event({"id": rid, "object": "chat.completion.chunk", "model": model, "choices": [delta]})
                if gated and index == 0:
                    await _gate()
            last = {"index": 0, "delta": {"content": ""}, "finish_reason": "stop"}
            yield _event(
                {"id": rid, "object": "chat.completion.chunk", "model": model, "choices": [last], "usage": usage}
            )
            yield b"data: [DONE]\n\n"
            STATS["streams_finished"] += 1
        except (asyncio.CancelledError, GeneratorExit):
            STATS["streams_cancelled"] += 1
            raise

    return StreamingResponse(events(), media_type="text/event-stream", headers=RATELIMIT_HEADERS)


def _event(chunk: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


async def embeddings(request: Request) -> Response:
    body = orjson.loads(await request.body())
    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
    prompt = sum(len(text) for text in inputs)
    data = [{"object": "embedding", "embedding": [0.1, 0.2, 0.3], "index": i} for i in range(len(inputs))]
    answer = {
        "id": f"embd-{next(_ids)}",
        "object": "list",
        "data": data,
        "model": "mistral-embed-2312",
        "usage": {"prompt_tokens": prompt, "total_tokens": prompt, "completion_tokens": 0},
    }
    return _json(200, answer, RATELIMIT_HEADERS)


async def echo(request: Request) -> Response:
    """Returns what arrived: the tests check headers and bytes crossed the gateway untouched."""
    raw = await request.body()
    seen = {
        "method": request.method,
        "path": request.scope["raw_path"].decode(),
        "query": request.url.query,
        "headers": [[k, v] for k, v in request.headers.items()],
        "body": raw.decode("latin-1"),
    }
    return Response(
        orjson.dumps(seen),
        headers={"x-echo": "yes", "connection": "keep-alive, x-private", "x-private": "hop"},
        media_type="application/json",
    )


async def files(request: Request) -> Response:
    """A file upload read as a stream (never held whole): answers its size and sha256."""
    STATS["uploads_started"] += 1
    digest, size = hashlib.sha256(), 0
    async for chunk in request.stream():
        digest.update(chunk)
        size += len(chunk)
    STATS["uploads_finished"] += 1
    answer = {
        "id": f"3f2c1a9e-0000-4000-8000-{next(_ids):012d}",
        "object": "file",
        "bytes": size,
        "created_at": 1764000000,
        "filename": "upload.jsonl",
        "purpose": "batch",
        "sample_type": "batch_request",
        "source": "upload",
        "sha256": digest.hexdigest(),
    }
    return Response(orjson.dumps(answer), media_type="application/json")


async def ocr(request: Request) -> Response:
    body = orjson.loads(await request.body())
    SEEN.append({"headers": dict(request.headers), "body": b"", "path": request.url.path})
    url = str(body.get("document", {}).get("document_url", ""))
    count = int(url.split("pages=")[1]) if "pages=" in url else 1
    pages = [
        {
            "index": i,
            "markdown": f"# Page {i + 1}",
            "images": [],
            "dimensions": {"dpi": 200, "height": 2200, "width": 1700},
        }
        for i in range(count)
    ]
    answer = {
        "pages": pages,
        "model": "mistral-ocr-2512",
        "document_annotation": None,
        "usage_info": {"pages_processed": count, "doc_size_bytes": 1000 * count},
    }
    return _json(200, answer)


async def transcription(request: Request) -> Response:
    raw = await request.body()
    SEEN.append({"headers": dict(request.headers), "body": b"", "path": request.url.path})
    usage = {"prompt_audio_seconds": len(raw) // 1000, "prompt_tokens": 4, "completion_tokens": 12, "total_tokens": 16}
    answer = {"model": "voxtral-mini-2507", "text": "hello world", "language": "en", "segments": [], "usage": usage}
    return _json(200, answer)


async def speech(request: Request) -> Response:
    body = orjson.loads(await request.body())
    SEEN.append({"headers": dict(request.headers), "body": b"", "path": request.url.path})
    audio = base64.b64encode(b"RIFF" + bytes(4 * len(body["input"]))).decode()
    return Response(orjson.dumps({"audio_data": audio}), media_type="application/json")


async def conversations(request: Request) -> Response:
    """A conversation started (with a model or an agent) or appended to: outputs name the model."""
    body = orjson.loads(await request.body())
    SEEN.append({"headers": dict(request.headers), "body": b"", "path": request.url.path})
    conversation = request.path_params.get("conversation_id") or f"conv_0195a3b2c4d5e6f7{next(_ids):08d}"
    agent = body.get("agent_id") or (AGENT_ID if conversation in STARTED_WITH_AGENT else None)
    if body.get("agent_id"):
        STARTED_WITH_AGENT.add(conversation)
    model = resolve(body.get("model") or AGENT_MODEL)
    text = body["inputs"] if isinstance(body["inputs"], str) else orjson.dumps(body["inputs"]).decode()
    if body.get("stream"):
        return _conversation_stream(conversation, model, agent, text)
    output = {
        "object": "entry",
        "type": "message.output",
        "created_at": "2026-11-25T16:52:03.123Z",
        "completed_at": "2026-11-25T16:52:04.000Z",
        "id": f"msg_{next(_ids):08d}",
        "agent_id": agent,
        "model": model,
        "role": "assistant",
        "content": "Hello from the agent.",
    }
    usage = {
        "prompt_tokens": len(text),
        "completion_tokens": 21,
        "total_tokens": len(text) + 21,
        "connector_tokens": None,
        "connectors": None,
    }
    answer = {"object": "conversation.response", "conversation_id": conversation, "outputs": [output], "usage": usage}
    SENT.append({"id": conversation, "status": 200, "usage": usage, "model": model})
    return Response(orjson.dumps(answer), media_type="application/json")


async def models(request: Request) -> Response:
    return Response(
        orjson.dumps({"object": "list", "data": [{"id": "mistral-small-latest", "object": "model"}]}),
        media_type="application/json",
    )


def _conversation_stream(conversation: str, model: str, agent: str | None, text: str) -> Response:
    """Mistral's conversation events: started, message deltas naming model and agent, done with usage."""
    usage = {"prompt_tokens": len(text), "completion_tokens": 2, "total_tokens": len(text) + 2}
    SENT.append({"id": conversation, "status": 200, "usage": usage, "model": model, "stream": True})
    delta = {"type": "message.output.delta", "id": "msg_1", "model": model, "agent_id": agent, "role": "assistant"}
    events = [
        ("conversation.response.started", {"type": "conversation.response.started", "conversation_id": conversation}),
        ("message.output.delta", {**delta, "content": "Bon", "content_index": 0}),
        ("message.output.delta", {**delta, "content": "jour", "content_index": 0}),
        ("conversation.response.done", {"type": "conversation.response.done", "usage": usage}),
    ]
    data = b"".join(f"event: {name}\ndata: ".encode() + orjson.dumps(payload) + b"\n\n" for name, payload in events)
    return Response(data, media_type="text/event-stream")


def reset() -> None:
    SENT.clear()
    SEEN.clear()
    STATS.update(streams_cancelled=0, streams_finished=0, uploads_started=0, uploads_finished=0)
    GATE.clear()


app = Starlette(
    routes=[
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/v1/embeddings", embeddings, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/files", files, methods=["POST"]),
        Route("/v1/ocr", ocr, methods=["POST"]),
        Route("/v1/audio/transcriptions", transcription, methods=["POST"]),
        Route("/v1/audio/speech", speech, methods=["POST"]),
        Route("/v1/conversations", conversations, methods=["POST"]),
        Route("/v1/conversations/{conversation_id}", conversations, methods=["POST"]),
        Route("/echo/{rest:path}", echo, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
    ]
)
