"""The usage-endpoint source against httpx.MockTransport: paging, retries, bad input."""

from __future__ import annotations

import httpx
import orjson
import pytest

from collector.errors import SourceAuthError
from ledger import read_ledger

from .conftest import FakeEndpoint, make_record


def ids(source) -> list[str]:
    return sorted(read_ledger(source.context.data_dir)["id"].to_pylist())


@pytest.mark.slow
def test_pages_until_has_more_is_false(make_source):
    endpoint = FakeEndpoint([make_record(i) for i in range(10)])
    source = make_source(endpoint, page_limit=3)
    result = source.poll()
    assert result.records == 10 and result.pages == 4
    assert ids(source) == sorted(f"r{i}" for i in range(10))
    assert [c.url.params.get("after") for c in endpoint.calls] == [None, "3", "6", "9"]
    assert source.context.cursors.get("fake") == "10"


def test_second_poll_resumes_from_cursor_and_adds_nothing(make_source):
    endpoint = FakeEndpoint([make_record(i) for i in range(5)])
    source = make_source(endpoint, page_limit=10)
    source.poll()
    endpoint.records.append(make_record(5))
    assert source.poll().records == 1
    assert endpoint.calls[-1].url.params["after"] == "5"
    assert len(ids(source)) == 6


@pytest.mark.slow
def test_replayed_page_is_not_duplicated(make_source):
    endpoint = FakeEndpoint([make_record(i) for i in range(6)])
    source = make_source(endpoint, page_limit=4)
    source.poll()
    source.context.cursors.set("fake", "2")  # as if the cursor write was lost in a crash
    assert source.poll().records == 0
    assert ids(source) == sorted(f"r{i}" for i in range(6))


def test_duplicate_ids_inside_one_page_are_kept_once(make_source):
    endpoint = FakeEndpoint([make_record(1), make_record(1), make_record(2)])
    source = make_source(endpoint, page_limit=10)
    assert source.poll().records == 2


def test_retries_429_and_5xx_honouring_retry_after(make_source):
    faults = [
        lambda r: httpx.Response(429, headers={"Retry-After": "7"}, json={"type": "rate_limited"}),
        lambda r: httpx.Response(503),
        lambda r: None,
    ]
    source = make_source(FakeEndpoint([make_record(0)], faults), page_limit=10)
    assert source.poll().records == 1
    assert source.sleeps == [7.0, 0.5 * 0.5 * 2**1]  # Retry-After, then full jitter with rng=0.5


def test_retry_after_is_capped(make_source):
    faults = [lambda r: httpx.Response(503, headers={"Retry-After": "999999"})]
    source = make_source(FakeEndpoint([make_record(0)], faults), page_limit=10)
    source.poll()
    assert source.sleeps == [source.policy.max_retry_after]


def test_connect_errors_are_retried(make_source):
    def refuse(request):
        raise httpx.ConnectError("connection refused", request=request)

    source = make_source(FakeEndpoint([make_record(0)], [refuse, refuse]), page_limit=10)
    assert source.poll().records == 1
    assert len(source.sleeps) == 2


def test_failed_poll_leaves_cursor_and_ledger_as_they_were(make_source):
    endpoint = FakeEndpoint([make_record(i) for i in range(4)], [lambda r: None] + [lambda r: httpx.Response(500)] * 5)
    source = make_source(endpoint, page_limit=2)
    with pytest.raises(Exception, match="HTTP 500"):
        source.poll()
    assert source.context.cursors.get("fake") == "2"
    assert ids(source) == ["r0", "r1"]
    assert source.poll().records == 2


@pytest.mark.parametrize("body", [b"<html>oops", b'{"object": "list", "data": [{"id": "r0"', b"[1, 2]"])
def test_non_json_or_truncated_body_is_a_failed_poll_then_retried(make_source, body):
    faults = [lambda r: httpx.Response(200, content=body)]
    source = make_source(FakeEndpoint([make_record(0)], faults), page_limit=10)
    assert source.poll().records == 1
    assert len(source.sleeps) == 1


def test_401_names_the_token_env_var(make_source, monkeypatch):
    monkeypatch.setenv("USAGE_TOKEN", "s3cret-token-value")
    source = make_source(FakeEndpoint([], [lambda r: httpx.Response(401)]), token_env="USAGE_TOKEN")
    with pytest.raises(SourceAuthError, match="USAGE_TOKEN") as info:
        source.poll()
    assert "s3cret" not in str(info.value)


@pytest.mark.slow
def test_token_is_sent_as_bearer_header_not_in_url(make_source, monkeypatch):
    monkeypatch.setenv("USAGE_TOKEN", "s3cret-token-value")
    endpoint = FakeEndpoint([make_record(0)])
    make_source(endpoint, token_env="USAGE_TOKEN").poll()
    assert endpoint.calls[0].headers["authorization"] == "Bearer s3cret-token-value"
    assert "s3cret" not in str(endpoint.calls[0].url)


BAD = [
    ({"timestamp": "2026-11-20T10:00:00Z"}, "id"),
    (make_record(1, prompt_tokens=-5), "prompt_tokens"),
    (make_record(2, timestamp="yesterday"), "timestamp"),
    (make_record(3, timestamp="2026-11-20T10:00:00"), "UTC offset"),
    (make_record(4, status_code="200"), "status_code"),
    (make_record(5, cached_tokens=2000), "cached_tokens"),
    ("not an object", "JSON object"),
]


def test_bad_records_are_quarantined_with_reason_and_the_poll_goes_on(make_source):
    good = [make_record(100), make_record(101)]
    source = make_source(FakeEndpoint([b for b, _ in BAD] + good), page_limit=50)
    result = source.poll()
    assert (result.records, result.quarantined) == (2, len(BAD))
    files = list((source.context.data_dir / "quarantine" / "fake").glob("*.jsonl"))
    lines = [orjson.loads(line) for f in files for line in f.read_bytes().splitlines()]
    assert len(lines) == len(BAD)
    for line, (raw, reason_part) in zip(lines, BAD, strict=True):
        assert reason_part in line["reason"] and line["raw"] == raw


def test_unknown_extra_fields_are_ignored(make_source):
    source = make_source(FakeEndpoint([make_record(0, shiny_new_field={"x": 1})]), page_limit=10)
    assert source.poll().records == 1


def test_has_more_without_moving_cursor_stops_the_poll(make_source):
    stuck = lambda r: httpx.Response(200, json={"data": [], "next_cursor": None, "has_more": True})  # noqa: E731
    source = make_source(FakeEndpoint([], [stuck]), page_limit=10)
    with pytest.raises(Exception, match="did not move"):
        source.poll()


def test_a_cursor_moved_by_another_process_during_a_poll_is_left_alone(make_source, caplog):
    from collector._state import CursorStore

    records = [make_record(i) for i in range(12)]
    holder: list = []

    def other_process_moves_it(request: httpx.Request) -> None:
        CursorStore(holder[0].context.data_dir).set("fake", "9")  # another poller got as far as 9

    source = make_source(FakeEndpoint(records, faults=[lambda r: None, other_process_moves_it]), page_limit=3)
    holder.append(source)
    result = source.poll()
    assert result.cursor == "9" and source.context.cursors.get("fake") == "9"
    assert '"cursor_moved"' in caplog.text or any(r.msg == "cursor_moved" for r in caplog.records)
    source.poll()  # the next poll continues from where the other process left the cursor
    assert source.context.cursors.get("fake") == "12"
    assert len(ids(source)) == len(set(ids(source)))
