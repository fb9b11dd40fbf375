"""Read what the record needs out of a response body while it is forwarded, never holding it.

Why observers: the bytes go to the client as they arrive; a copy passes through an observer
that keeps only what the record needs. For JSON that is the body (up to a cap: a completion is
kilobytes); for server-sent events it is the first chunk (id, model), the last one carrying
`usage`, and a count of the text generated (for a stream cut before its usage). A compressed
body is inflated for the observer only; the client gets it untouched.

Example:
    >>> seen = observer_for("text/event-stream", "")
    >>> seen.feed(b'data: {"id": "c1", "model": "m"}\\n\\ndata: {"usage": {"prompt_tokens": 3}}\\n\\n')
    >>> seen.result()
    {'id': 'c1', 'model': 'm', 'usage': {'prompt_tokens': 3}}
"""

from __future__ import annotations

import re
import zlib
from typing import Any, Protocol

import orjson

from ._estimate import text_bytes

JSON_CAP = 16 * 1024 * 1024
LINE_CAP = 1024 * 1024
TAIL = 64 * 1024
_TEXT = re.compile(rb'"(?:content|text|arguments)"\s*:\s*"((?:[^"\\]|\\.)*)"')
_TAIL_FIELDS = re.compile(rb'"(model|usage_info)"\s*:\s*("[^"\\]{1,200}"|\{[^{}]{0,2000}\})')


class Observer(Protocol):
    def feed(self, data: bytes) -> None: ...

    def result(self) -> dict[str, Any] | None: ...


class JsonObserver:
    """Keeps a JSON body up to JSON_CAP bytes and parses it once at the end.

    A larger body (an OCR answer with page images) keeps only its last TAIL bytes, where
    Mistral puts `model` and `usage_info`; those two are read from it.
    """

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.tail = b""

    def feed(self, data: bytes) -> None:
        self.size += len(data)
        if self.size <= JSON_CAP:
            self.parts.append(data)
            return
        if self.parts:
            self.tail, self.parts = b"".join(self.parts)[-TAIL:], []
        self.tail = (self.tail + data)[-TAIL:]

    def result(self) -> dict[str, Any] | None:
        if self.size > JSON_CAP:
            return _from_tail(self.tail)
        return _as_object(b"".join(self.parts))


class SseObserver:
    """Parses every `data:` line, keeping only what a record needs.

    Kept: the first chunk's id, object and model; the first model and agent_id any chunk names
    (a conversation names them after its `conversation.response.started` event); the last
    usage; an error; and `generated`, the UTF-8 bytes of text generated so far, which is all
    there is to count when the client closes the stream before its usage arrives.
    """

    def __init__(self) -> None:
        self.pending = b""
        self.summary: dict[str, Any] = {}
        self.first = True
        self.generated = 0

    def feed(self, data: bytes) -> None:
        lines = (self.pending + data).split(b"\n")
        self.pending = lines.pop()
        if len(self.pending) > LINE_CAP:
            self.pending = b""
        for line in lines:
            if line.startswith(b"data:"):
                self._data(line[5:].strip())

    def _data(self, payload: bytes) -> None:
        if payload == b"[DONE]":
            return
        if self._plain(payload):
            self.generated += sum(len(text) for text in _TEXT.findall(payload))
            return
        chunk = _as_object(payload)
        if chunk is None:
            return
        summary = self.summary
        if self.first:
            self.first = False
            summary.update((k, chunk[k]) for k in ("id", "object", "model") if k in chunk)
        for key in ("model", "agent_id"):
            if key not in summary and isinstance(chunk.get(key), str):
                summary[key] = chunk[key]
        if isinstance(chunk.get("usage"), dict):
            summary["usage"] = chunk["usage"]
        if chunk.get("object") == "error" or isinstance(chunk.get("error"), dict):
            summary["error"] = chunk.get("error", chunk)
        self.generated += _generated(chunk)

    def _plain(self, payload: bytes) -> bool:
        """A delta with nothing to keep but its text: counted by a regex instead of a parse (3x cheaper)."""
        if self.first or "model" not in self.summary or b'"usage"' in payload or b'"error"' in payload:
            return False
        return "agent_id" in self.summary or b'"agent_id"' not in payload

    def result(self) -> dict[str, Any] | None:
        if self.pending:
            self.feed(b"\n")
        return self.summary or None


class Inflating:
    """Feeds the inflated copy of a gzip or deflate body to another observer."""

    def __init__(self, inner: Observer) -> None:
        self.inner = inner
        self.inflater: Any = zlib.decompressobj(zlib.MAX_WBITS | 32)

    def feed(self, data: bytes) -> None:
        if self.inflater is None:
            return
        try:
            self.inner.feed(self.inflater.decompress(data))
        except zlib.error:
            self.inflater = None

    def result(self) -> dict[str, Any] | None:
        return self.inner.result() if self.inflater is not None else None


def observer_for(content_type: str, content_encoding: str) -> Observer | None:
    """The observer for a response, or None when it is neither JSON nor SSE, or unreadable."""
    kind = content_type.split(";")[0].strip().lower()
    inner: Observer
    if kind == "text/event-stream":
        inner = SseObserver()
    elif kind == "application/json" or kind.endswith("+json"):
        inner = JsonObserver()
    else:
        return None
    coding = content_encoding.strip().lower()
    if coding in ("", "identity"):
        return inner
    return Inflating(inner) if coding in ("gzip", "deflate") else None


def _from_tail(tail: bytes) -> dict[str, Any] | None:
    """`model` and `usage_info` of a body too large to keep, from its last bytes (the last of each wins)."""
    found: dict[str, Any] = {}
    for match in _TAIL_FIELDS.finditer(tail):
        try:
            found[match.group(1).decode()] = orjson.loads(match.group(2))
        except orjson.JSONDecodeError:
            continue
    return found or None


def _as_object(data: bytes) -> dict[str, Any] | None:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _generated(chunk: dict[str, Any]) -> int:
    """Bytes of text a chunk adds: a chat delta's content and tool arguments, a conversation delta's."""
    choices = chunk.get("choices")
    if isinstance(choices, list):
        deltas = [c["delta"] for c in choices if isinstance(c, dict) and isinstance(c.get("delta"), dict)]
        return sum(text_bytes(d.get("content"), 0) + text_bytes(d.get("tool_calls"), 0) for d in deltas)
    return text_bytes(chunk.get("content"), 0) + text_bytes(chunk.get("arguments"), 0)


def generated_bytes(observer: Observer | None) -> int:
    """How many bytes of text a stream's observer saw generated (0 for other bodies)."""
    inner = observer.inner if isinstance(observer, Inflating) else observer
    return inner.generated if isinstance(inner, SseObserver) else 0


def seen_so_far(observer: Observer | None) -> dict[str, Any] | None:
    """What a stream's observer has read so far (id, model, usage if seen); None for other bodies."""
    inner = observer.inner if isinstance(observer, Inflating) else observer
    return dict(inner.summary) if isinstance(inner, SseObserver) else None
