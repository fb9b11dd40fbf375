"""The one scrubber: configured tokens and credential-looking text, in every file the collector writes."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import orjson
import pytest

from collector._context import Context
from collector._http import RetryPolicy
from collector._records import Rejected
from collector._state import Quarantine
from collector.providers import FACTORIES
from foundation.config import Config, SourceConfig
from foundation.scrub import register_secret, scrub, scrubbed_json
from tests.billing import payloads

SECRET = "adm-echo-7a6b5c4d3e2f"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ('{"echo": "Authorization: Bearer abcdefgh12345678"}', '{"echo": "Authorization: Bearer ***"}'),
        ('headers: {"x-api-key": "k-0123456789abcdef"}', 'headers: {"x-api-key": "***"}'),
        ("try sk-ant-api03-0123456789abcdefghij", "try ***"),
        ('{"message": "{\\"api_key\\": \\"zzzzzzzzzzzz\\"}"}', '{"message": "{\\"api_key\\": \\"***\\"}"}'),
        ("password=hunter2hunter2&x=1", "password=***&x=1"),
        ('{"prompt_tokens": 123456789, "token_env": "GATEWAY_USAGE_TOKEN"}', None),
        ('{"api_key_id": "key_0123456789abcdef", "cursor": "djE6Mjk5MzE3NTQ6MA"}', None),
    ],
)
def test_credential_looking_text_is_masked_and_ordinary_fields_are_not(text, kept):
    assert scrub(text) == (text if kept is None else kept)


def test_registered_secrets_are_masked_everywhere_in_state_json():
    register_secret("tok-state-0123456789")
    assert b"tok-state" not in scrubbed_json({"last_error": "HTTP 400: echo tok-state-0123456789", "n": 1})


def test_quarantine_lines_are_scrubbed(tmp_path):
    register_secret("tok-quarantine-0123456789")
    raw = {"id": "x", "project": "tok-quarantine-0123456789", "note": "Bearer zyxwvutsrq987654"}
    path = Quarantine(tmp_path).put("s", "c", [Rejected("bad", raw)])
    assert path is not None
    line = orjson.loads(path.read_bytes())
    assert line["raw"] == {"id": "x", "project": "***", "note": "Bearer ***"}


def test_a_provider_echoing_its_key_in_a_body_leaves_it_nowhere_under_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ECHO_ADMIN_KEY", SECRET)
    usage = orjson.loads(orjson.dumps(payloads.ADMIN_USAGE_EUR).replace(b"mistral-small-2603", SECRET.encode()))
    bodies = {
        "/v1/admin/usage": usage,
        "/v1/admin/spend-limit": dict(payloads.SPEND_LIMIT, note=SECRET),
        "/v1/admin/rate-limit": payloads.RATE_LIMIT,
    }
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json=bodies[r.url.path]))
    source = SourceConfig(
        name="adm",
        kind="mistral_admin",
        url="http://provider.test",
        token_env="ECHO_ADMIN_KEY",
        max_requests_per_second=1e6,
    )
    context = Context.build(Config(data_dir=tmp_path / "data", sources=(source,)))
    impl = FACTORIES["mistral_admin"](
        source=source,
        context=context,
        transport=transport,
        policy=RetryPolicy(max_retries=0),
        clock=lambda: datetime(2026, 5, 14, 9, tzinfo=UTC),
    )
    assert impl.poll().records > 0
    written = [p for p in (tmp_path / "data").rglob("*") if p.is_file()]
    assert any("billing" in str(p) for p in written)
    assert [str(p) for p in written if SECRET.encode() in p.read_bytes()] == []
