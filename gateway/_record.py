"""Turn one forwarded exchange into one usage-endpoint record (contract v1).

Why a mutable Exchange: the forwarder learns the facts in stages (request, headers, body,
disconnect) and the record is built once at the end, whatever path the request took. Every
reader here is lenient: a response shape we do not know yields zeros and nulls, never an error.

Example:
    >>> usage_counts({"prompt_tokens": 1024, "completion_tokens": 87,
    ...               "prompt_tokens_details": {"cached_tokens": 640}})
    (1024, 87, 640)
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ._estimate import TOKEN_BILLED, tokens, tokens_for
from ._observe import Observer, generated_bytes
from ._units import NO_FACTS, RequestFacts, facts_of, parse_body, response_units

CLIENT_CLOSED = 499
INTERRUPTED_BEFORE_ANSWER = 502
_SPEND_WORDS = ("spend", "limit reached", "budget")
_FALLBACK_TYPES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    422: "invalid_request",
    429: "rate_limited",
}
_MODEL_PREFIX = re.compile(
    rb'^\s*\{\s*(?:"[a-z_]+"\s*:\s*(?:"[^"\\]*"|[\w.-]+)\s*,\s*)*"model"\s*:\s*"([^"\\]{1,200})"'
)
_STREAM_PREFIX = re.compile(rb'^\s*\{\s*(?:"[a-z_]+"\s*:\s*(?:"[^"\\]*"|[\w.-]+)\s*,\s*)*"stream"\s*:\s*true')
_MULTIPART_MODEL = re.compile(rb'name="model"\r\n(?:[^\r\n]+\r\n)*\r\n([^\r\n"]{1,200})\r\n')
_LEGACY_RATELIMIT = {
    "ratelimitbysize-limit": "limit-tokens-minute",
    "ratelimitbysize-remaining": "remaining-tokens-minute",
    "ratelimitbysize-reset": "reset-tokens-minute",
    "ratelimitbysize-query-cost": "tokens-query-cost",
    "x-ratelimitbysize-limit-minute": "limit-tokens-minute",
    "x-ratelimitbysize-remaining-minute": "remaining-tokens-minute",
    "x-ratelimitbysize-limit-month": "limit-tokens-month",
    "x-ratelimitbysize-remaining-month": "remaining-tokens-month",
}


@dataclass(kw_only=True)
class Exchange:
    """Everything learnt about one request while it is forwarded."""

    method: str
    endpoint: str
    started: float = field(default_factory=time.perf_counter)
    wall: float = field(default_factory=time.time)
    model: str | None = None
    stream: bool = False
    project: str | None = None
    api_key_id: str | None = None
    attempt: int | None = None
    status: int = CLIENT_CLOSED
    response_started: bool = False
    ratelimit: dict[str, int | float] = field(default_factory=dict)
    summary: dict[str, Any] | None = None
    observer: Observer | None = None
    error_type: str | None = None
    cancelled: bool = False
    done: bool = False
    key: int | None = None
    recorded: bool = False
    billable: bool | None = None
    zone: str | None = None
    facts: RequestFacts = NO_FACTS
    request_body: bytes | None = None
    request_size: int = 0


def read_request(body: bytes, content_type: str, whole: bool, template: str) -> RequestFacts:
    """The facts of a request body (see RequestFacts); a multipart upload's `model` field alone.

    Why `whole`: a body too large to hold is streamed on, and only its first bytes are seen;
    then the top-level `"model": "..."` and `"stream": true` are searched for in those bytes.
    """
    if content_type.startswith("multipart/form-data"):
        field = _MULTIPART_MODEL.search(body)
        return RequestFacts(model=field.group(1).decode("utf-8", "replace")) if field else NO_FACTS
    if not body or not ("json" in content_type or body[:1] == b"{"):
        return NO_FACTS
    if not whole:
        model = _MODEL_PREFIX.search(body)
        found = model.group(1).decode() if model else None
        return RequestFacts(model=found, stream=_STREAM_PREFIX.search(body) is not None)
    return facts_of(parse_body(body), template)


def request_fields(body: bytes, content_type: str, whole: bool = True) -> tuple[str | None, bool]:
    """The model and stream flag of a JSON request body; (None, False) for anything else."""
    facts = read_request(body, content_type, whole, "")
    return facts.model, facts.stream


class KeyFingerprints:
    """A salted hash prefix per API key: stable across restarts, useless for recovering the key."""

    def __init__(self, salt: bytes) -> None:
        self.salt = salt
        self.cache: dict[str, str] = {}

    def __call__(self, authorization: str | None) -> str | None:
        """The fingerprint of the key in an Authorization header, however its scheme is spelled.

        The scheme is matched without regard to case and split off at any whitespace (RFC 9110
        section 11.1), so `BEARER sk-x` and `Bearer<TAB>sk-x` are the key of `Bearer sk-x`.
        """
        if not authorization:
            return None
        found = self.cache.get(authorization)
        if found is None:
            parts = authorization.split()
            if not parts:
                return None
            key = " ".join(parts[1:] if len(parts) > 1 and parts[0].casefold() == "bearer" else parts)
            found = "key-" + hmac.new(self.salt, key.encode(), hashlib.sha256).hexdigest()[:16]
            if len(self.cache) > 10_000:
                self.cache.clear()
            self.cache[authorization] = found
        return found


def attempt_from(retry_count: str | None) -> int | None:
    """The client's retry count + 1, when the header holds a non-negative integer."""
    if retry_count is None or not retry_count.strip().isdigit():
        return None
    return int(retry_count) + 1


def ratelimit_from(headers: list[tuple[bytes, bytes]] | tuple[tuple[bytes, bytes], ...]) -> dict[str, int | float]:
    """The rate-limit headers as {name: number}; modern names win over the legacy ones they replace."""
    found: dict[str, int | float] = {}
    legacy: dict[str, int | float] = {}
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1").lower()
        if name.startswith("x-ratelimit-"):
            target, key = found, name[12:]
        elif "ratelimitbysize-" in name:
            target, key = legacy, _LEGACY_RATELIMIT.get(name, name.removeprefix("x-").replace("ratelimit", ""))
        elif name == "retry-after":
            target, key = found, name
        else:
            continue
        number = _number(raw_value)
        if number is not None:
            target[key] = number
    return {**legacy, **found}


def usage_counts(usage: Any) -> tuple[int, int, int]:
    """(prompt, completion, cached) tokens; cached also from the variants seen in the wild."""
    if not isinstance(usage, dict):
        return 0, 0, 0
    prompt, completion = _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))
    details = usage.get("prompt_tokens_details") or usage.get("prompt_token_details")
    cached = _count(details.get("cached_tokens")) if isinstance(details, dict) else 0
    cached = cached or _count(usage.get("num_cached_tokens"))
    return prompt, completion, min(cached, prompt)


def error_fields(status: int, body: dict[str, Any] | None) -> tuple[str | None, bool | None]:
    """(error_type, spend_limit_reached) for an error status; (None, None) for a success."""
    if status < 400:
        return None, None
    body = body or {}
    nested = body.get("error")
    inner: dict[str, Any] = nested if isinstance(nested, dict) else body
    kind = inner.get("type")
    if not isinstance(kind, str) or not kind:
        kind = _FALLBACK_TYPES.get(status, "server_error" if status >= 500 else f"http_{status}")
    if status != 429:
        return kind, None
    message = str(inner.get("message", "")).lower()
    return kind, any(word in message for word in _SPEND_WORDS)


def build_record(ex: Exchange, now: float | None = None) -> dict[str, Any]:
    """The contract v1 record of a finished exchange (or of one cut short: what was observed so far)."""
    if ex.summary is None and ex.observer is not None:
        ex.summary = ex.observer.result()
    summary = ex.summary or {}
    prompt, completion, cached = usage_counts(summary.get("usage"))
    estimated = _estimate(ex, summary)
    if estimated is not None:
        prompt, completion = estimated
    error_type, spend = error_fields(ex.status, summary)
    units = response_units(summary)
    output_model = units.pop("output_model", None)
    resolved = summary.get("model") if isinstance(summary.get("model"), str) else output_model
    latency = round(((now or time.perf_counter()) - ex.started) * 1000, 3)
    record = _base(ex, summary, resolved, ex.status, ex.error_type or error_type, (prompt, completion, cached), latency)
    _optional(
        record,
        resolved_model=resolved,
        attempt=ex.attempt,
        ratelimit=ex.ratelimit or None,
        spend_limit_reached=spend,
        cancelled=ex.cancelled or None,
        tokens_estimated=estimated is not None or None,
    )
    _optional(record, **_billing(ex, units))
    return record


def _base(
    ex: Exchange,
    summary: dict[str, Any],
    resolved: str | None,
    status: int | None,
    error_type: str | None,
    tokens: tuple[int, int, int],
    latency_ms: float | None,
) -> dict[str, Any]:
    """The contract-v1 fields every record has, finished or interrupted."""
    prompt, completion, cached = tokens
    return {
        "id": _record_id(summary, ex),
        "timestamp": _timestamp(ex.wall),
        "model": ex.model or resolved or "unknown",
        "endpoint": ex.endpoint,
        "method": ex.method,
        "api_key_id": ex.api_key_id,
        "project": ex.project,
        "status_code": status,
        "error_type": error_type,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "cached_tokens": cached,
        "latency_ms": latency_ms,
        "stream": ex.stream,
    }


def interrupted_record(ex: Exchange, partial: dict[str, Any] | None = None) -> dict[str, Any]:
    """The record of an exchange cut by a crash: what was known when it was last noted.

    Status is the one the client got, or 502 when nothing was sent yet; error_type
    `interrupted`, `interrupted: true`, tokens as far as seen (usually 0), latency unknown (null).
    """
    summary = partial or {}
    prompt, completion, cached = usage_counts(summary.get("usage"))
    resolved = summary.get("model") if isinstance(summary.get("model"), str) else None
    status = ex.status if ex.response_started else INTERRUPTED_BEFORE_ANSWER
    record = _base(ex, summary, resolved, status, "interrupted", (prompt, completion, cached), None)
    record["interrupted"] = True
    agent = ex.facts.agent_id or summary.get("agent_id")
    _optional(
        record,
        resolved_model=resolved,
        attempt=ex.attempt,
        ratelimit=ex.ratelimit or None,
        api_zone=ex.zone,
        billable=ex.billable,
        agent_id=agent,
    )
    return record


def _billing(ex: Exchange, units: dict[str, Any]) -> dict[str, Any]:
    """The billing fields: quantities as stated, zone, tier, billable flag, agent."""
    succeeded = 200 <= ex.status < 300
    tier = units.pop("service_tier", None) or ("standard" if ex.facts.standard_only and succeeded else None)
    return {
        **units,
        "annotated_pages": units.get("pages") if ex.facts.annotated else None,
        "characters": ex.facts.characters if succeeded else None,
        "api_zone": ex.zone,
        "service_tier": tier,
        "billable": ex.billable,
        "agent_id": ex.facts.agent_id or units.get("agent_id"),
    }


def _estimate(ex: Exchange, summary: dict[str, Any]) -> tuple[int, int] | None:
    """(prompt, completion) estimated for a token-billed stream that ended without its usage.

    A stream the client closed (or the upstream broke) after Mistral had the prompt is billed
    for the prompt and what was generated; the usage chunk never came, so count them. A body
    too large to hold (not kept, to bound memory) counts whole.
    """
    if not ex.stream or isinstance(summary.get("usage"), dict) or ex.endpoint not in TOKEN_BILLED:
        return None
    if ex.status not in (200, CLIENT_CLOSED) or not (ex.cancelled or ex.error_type):
        return None
    prompt, completion = tokens_for(ex.request_body or b"", generated_bytes(ex.observer))
    return (prompt if ex.request_body is not None else tokens(ex.request_size)), completion


def _timestamp(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _optional(record: dict[str, Any], **values: Any) -> None:
    record.update((k, v) for k, v in values.items() if v is not None)


def _record_id(summary: dict[str, Any], ex: Exchange) -> str:
    """Mistral's id for a completion or embedding; ours otherwise (a model listing's `id` is not unique)."""
    rid = summary.get("id")
    billed = "usage" in summary or str(summary.get("object", "")).startswith("chat.completion") or ex.stream
    if isinstance(rid, str) and rid and billed:
        return rid
    return "gw-" + uuid.uuid4().hex


def _count(value: Any) -> int:
    return value if type(value) is int and value > 0 else 0


def _number(raw: bytes) -> int | float | None:
    text = raw.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None
