"""End to end with the official mistralai SDK as the client, the gateway as a subprocess and
the fake upstream on loopback: the usage endpoint must serve exactly those requests.

Expected values come from what the SDK received and what the fake upstream logged as sent,
never from the gateway's own output.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, TypedDict

import fake_upstream
import pytest
from mistralai.client import Mistral
from mistralai.client.errors import MistralError
from mistralai.client.models import ChatCompletionResponse, CompletionEvent, EmbeddingResponse, UserMessageTypedDict

from tests.gateway.harness import SALT, Gateway

API_KEY = "sk-test-0123456789abcdef"
PROJECT = "sdk-e2e"


class Exchanges(TypedDict):
    """What the SDK got back from each of the four calls, and the records the gateway served."""

    plain: ChatCompletionResponse
    events: list[CompletionEvent]
    embedded: EmbeddingResponse
    throttled: MistralError
    records: list[dict[str, Any]]


def fingerprint(key: str) -> str:
    return "key-" + hmac.new(SALT.encode(), key.encode(), hashlib.sha256).hexdigest()[:16]


@pytest.fixture(scope="module")
def exchanges(gateway: Gateway) -> Exchanges:
    """Drive the gateway with the SDK once; every test checks a part of the outcome."""
    client = Mistral(api_key=API_KEY, server_url=gateway.url)
    tag = {"X-Project": PROJECT}
    messages: list[UserMessageTypedDict] = [{"role": "user", "content": "What is the capital of France?"}]
    plain = client.chat.complete(model="mistral-small-latest", messages=messages, max_tokens=40, http_headers=tag)
    events = list(client.chat.stream(model="mistral-large-latest", messages=messages, http_headers=tag))
    embedded = client.embeddings.create(model="mistral-embed", inputs=["one", "three"], http_headers=tag)
    with pytest.raises(MistralError) as throttled:
        client.chat.complete(model="fail-429", messages=messages, http_headers=tag)
    records = gateway.wait_records(4, lambda r: r["project"] == PROJECT)
    return {"plain": plain, "events": events, "embedded": embedded, "throttled": throttled.value, "records": records}


def by_model(exchanges: Exchanges, model: str) -> dict[str, Any]:
    found = [r for r in exchanges["records"] if r["model"] == model]
    assert len(found) == 1, f"expected one record for {model}, got {found}"
    return found[0]


@pytest.mark.slow
def test_exactly_the_four_requests_are_served(exchanges: Exchanges) -> None:
    models = sorted(r["model"] for r in exchanges["records"])
    assert models == ["fail-429", "mistral-embed", "mistral-large-latest", "mistral-small-latest"]
    assert len({r["id"] for r in exchanges["records"]}) == 4


def test_plain_completion_record_matches_what_the_sdk_got(exchanges: Exchanges) -> None:
    plain = exchanges["plain"]
    record = by_model(exchanges, "mistral-small-latest")
    assert record["id"] == plain.id
    assert record["resolved_model"] == plain.model == "mistral-small-2603"
    assert record["prompt_tokens"] == plain.usage.prompt_tokens == len("What is the capital of France?")
    assert record["completion_tokens"] == plain.usage.completion_tokens == 40
    assert record["cached_tokens"] == len("What is the capital of France?") // 2
    assert (record["status_code"], record["error_type"], record["stream"]) == (200, None, False)
    assert record["endpoint"] == "/v1/chat/completions"
    assert record["api_key_id"] == fingerprint(API_KEY)
    assert record["ratelimit"]["limit-tokens-minute"] == 2_000_000
    assert record["ratelimit"]["remaining-req-minute"] == 299


def as_text(content: object) -> str:
    """A streamed delta's content: the fake sends plain strings (the SDK's type also allows chunk lists)."""
    assert content is None or isinstance(content, str), content
    return content or ""


def test_stream_record_reads_usage_from_the_final_chunk(exchanges: Exchanges) -> None:
    events = exchanges["events"]
    final_usage = [e.data.usage for e in events if e.data.usage is not None]
    assert len(final_usage) == 1
    text = "".join(as_text(e.data.choices[0].delta.content) for e in events if e.data.choices)
    assert text == "".join(f"word{i} " for i in range(int(fake_upstream.SETTINGS["chunks"])))
    record = by_model(exchanges, "mistral-large-latest")
    assert record["id"] == events[0].data.id
    assert record["stream"] is True and record["status_code"] == 200
    assert record["resolved_model"] == "mistral-large-2603"
    assert (record["prompt_tokens"], record["completion_tokens"]) == (
        final_usage[0].prompt_tokens,
        final_usage[0].completion_tokens,
    )
    assert "cancelled" not in record


def test_embeddings_record_has_no_completion_tokens(exchanges: Exchanges) -> None:
    embedded = exchanges["embedded"]
    record = by_model(exchanges, "mistral-embed")
    assert record["endpoint"] == "/v1/embeddings"
    assert record["id"] == embedded.id
    assert record["prompt_tokens"] == len("one") + len("three")
    assert record["completion_tokens"] == 0 and record["cached_tokens"] == 0
    assert record["resolved_model"] == "mistral-embed-2312"


def test_throttled_call_reaches_the_sdk_unchanged_and_is_classified(exchanges: Exchanges) -> None:
    error = exchanges["throttled"]
    assert error.status_code == 429
    assert '"type":"rate_limited"' in error.body.replace(" ", "")
    assert error.headers["retry-after"] == "3"
    record = by_model(exchanges, "fail-429")
    assert (record["status_code"], record["error_type"], record["spend_limit_reached"]) == (429, "rate_limited", False)
    assert record["ratelimit"]["retry-after"] == 3
    assert record["id"].startswith("gw-")
    assert record["prompt_tokens"] == record["completion_tokens"] == 0


def test_upstream_sent_exactly_what_was_recorded(exchanges: Exchanges) -> None:
    sent = {s["id"] for s in fake_upstream.SENT if s["id"]}
    recorded = {r["id"] for r in exchanges["records"] if not r["id"].startswith("gw-")}
    assert recorded <= sent and len(recorded) == 3


@pytest.mark.slow
def test_project_header_and_key_stay_out_of_the_way(exchanges: Exchanges, gateway: Gateway) -> None:
    assert all("x-project" not in seen["headers"] for seen in fake_upstream.SEEN)
    assert all(seen["headers"].get("authorization") == f"Bearer {API_KEY}" for seen in fake_upstream.SEEN)
    stored = b"".join(p.read_bytes() for p in gateway.db_path.parent.glob("buffer.sqlite3*"))
    assert API_KEY.encode() not in stored and SALT.encode() not in stored
    assert fingerprint(API_KEY).encode() in stored
