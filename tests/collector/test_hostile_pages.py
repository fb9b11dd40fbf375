"""Hostile pages through httpx.MockTransport: cycling or endless cursors, deep records, far
dates, oversized bodies. A bad record is quarantined with its reason, never a page; a bad page
fails the poll with the cursor where it was; nothing runs forever. The fast (arrow) path and
the careful (per-record) path are fed the same pages and must agree."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from collector._fastpath import table_from_body
from collector._records import RECORD_COLUMNS, careful_parse
from collector._split import decode_page
from collector._usage import parse_page
from collector._window import TimeWindow
from collector.errors import CursorCycleError, PageTooLargeError
from ledger import read_ledger

from .conftest import FakeEndpoint, Fault, make_record

DEEP = 5000


def ids(source) -> list[str]:
    return sorted(read_ledger(source.context.data_dir)["id"].to_pylist())


def quarantined(source) -> list[dict[str, Any]]:
    files = sorted((source.context.data_dir / "quarantine" / "fake").glob("*.jsonl"))
    return [orjson.loads(line) for f in files for line in f.read_bytes().splitlines()]


def page_body(records_json: list[bytes], cursor: str = "c1", has_more: bool = False) -> bytes:
    tail = orjson.dumps({"next_cursor": cursor, "has_more": has_more})[1:]
    return b'{"object": "list", "data": [' + b", ".join(records_json) + b"], " + tail


def with_field(record: dict[str, Any], name: str, raw_json: bytes) -> bytes:
    """A record's JSON with one more field whose value is given as raw JSON text."""
    return orjson.dumps(record)[:-1] + b', "' + name.encode() + b'": ' + raw_json + b"}"


def deep(depth: int = DEEP) -> bytes:
    return b"[" * depth + b"]" * depth


def serving(*bodies: bytes) -> FakeEndpoint:
    """An endpoint whose first responses are the given bodies (then the empty record list)."""
    return FakeEndpoint([], [responding(body) for body in bodies])


def responding(body: bytes) -> Fault:
    """A fault that answers 200 with `body` (a function, so each fault keeps its own body)."""
    return lambda request: httpx.Response(200, content=body)


def careful_route(body: bytes, window: TimeWindow | None = None) -> tuple[list[str], list[str]]:
    """The reference path by hand: decode record by record, validate one by one -> (ids, reasons)."""
    split = decode_page(body, "/test")
    table, rejected = careful_parse(split.records, window)
    return table["id"].to_pylist(), [u.reason for u in split.rejected] + [r.reason for r in rejected]


# -- cursors -----------------------------------------------------------------------------------


def cycling(request: httpx.Request) -> httpx.Response:
    """Cursors None -> a -> b -> a -> ...; one record per page, named after the cursor it came from."""
    after = request.url.params.get("after")
    nxt = {None: "a", "a": "b", "b": "a"}[after]
    record = make_record(0, id=f"from-{after}")
    return httpx.Response(200, json={"object": "list", "data": [record], "next_cursor": nxt, "has_more": True})


def test_cycling_cursors_stop_the_poll_without_moving_the_cursor_into_the_cycle(make_source):
    endpoint = FakeEndpoint([], [cycling] * 50)
    source = make_source(endpoint, page_limit=10)
    with pytest.raises(CursorCycleError, match="repeats a cursor already seen"):
        source.poll()
    assert [c.url.params.get("after") for c in endpoint.calls] == [None, "a", "b"]
    assert source.context.cursors.get("fake") == "b"  # not moved back to "a"
    assert ids(source) == ["from-None", "from-a", "from-b"]


def test_a_cursor_that_goes_back_on_the_last_page_is_a_cycle_too(make_source):
    pages = [page_body([orjson.dumps(make_record(0))], "a", True), page_body([orjson.dumps(make_record(1))], "a0")]
    source = make_source(serving(*pages), page_limit=10)
    source.context.cursors.set("fake", "a0")
    with pytest.raises(CursorCycleError):
        source.poll()
    assert source.context.cursors.get("fake") == "a"


def endless(request: httpx.Request) -> httpx.Response:
    n = int(request.url.params.get("after", "0"))
    record = make_record(n % 3600, id=f"e{n}")
    return httpx.Response(200, json={"object": "list", "data": [record], "next_cursor": str(n + 1), "has_more": True})


@pytest.mark.slow
@pytest.mark.parametrize(("cap", "expected"), [(None, 1000), (25, 25)])
def test_an_endless_source_is_read_at_most_max_pages_per_poll(make_source, cap, expected):
    endpoint = FakeEndpoint([], [endless] * 2000)
    source = make_source(endpoint, page_limit=1, **({"max_pages_per_poll": cap} if cap else {}))
    result = source.poll()
    assert (result.pages, result.records, result.capped) == (expected, expected, True)
    assert source.context.cursors.get("fake") == str(expected)
    assert len(endpoint.calls) == expected
    assert source.poll().pages == expected  # the next poll goes on from there
    assert endpoint.calls[expected].url.params["after"] == str(expected)


# -- deep records ------------------------------------------------------------------------------


def test_a_deep_record_among_valid_ones_is_quarantined_and_the_valid_ones_land(make_source):
    records = [
        orjson.dumps(make_record(0)),
        with_field(make_record(1), "project", deep()),  # a known field 5000 deep: bad
        orjson.dumps(make_record(2)),
        with_field(make_record(3), "unknown_extra", deep()),  # unknown fields are ignored, at any depth
        with_field(make_record(4), "ratelimit", b'{"limit-req-minute": 60, "x": ' + deep() + b"}"),
        orjson.dumps(make_record(5, prompt_tokens=-1)),  # an ordinary bad record on the same page
    ]
    source = make_source(serving(page_body(records)), page_limit=10)
    result = source.poll()
    assert ids(source) == ["r0", "r2", "r3", "r4"]
    assert (result.records, result.quarantined) == (4, 2)
    lines = {line["reason"].split(":")[0]: line for line in quarantined(source)}
    assert set(lines) == {"project", "prompt_tokens"}
    assert "not decodable" in lines["project"]["reason"]
    assert lines["project"]["raw"] == records[1].decode()  # kept whole, as text
    assert source.context.cursors.get("fake") == "c1"
    stored = {r["id"]: r for r in read_ledger(source.context.data_dir).to_pylist()}
    assert stored["r4"]["rl_limit_req_minute"] == 60


def test_a_moderately_deep_rejected_record_is_still_written_to_quarantine(make_source):
    bad = with_field(make_record(1, status_code="200"), "junk", deep(600))  # orjson reads it, cannot write it
    source = make_source(serving(page_body([orjson.dumps(make_record(0)), bad])), page_limit=10)
    assert source.poll().quarantined == 1
    (line,) = quarantined(source)
    assert line["reason"].startswith("status_code") and orjson.loads(line["raw"]) == orjson.loads(bad)


@pytest.mark.parametrize(
    "records",
    [
        [orjson.dumps(make_record(0)), with_field(make_record(1), "unknown_extra", deep())],
        [with_field(make_record(0), "ratelimit", b'{"limit-req-minute": 5, "deep": ' + deep() + b"}")],
        [orjson.dumps(make_record(i, brand_new={"a": [1, {"b": None}]})) for i in range(3)],
    ],
)
def test_fast_and_careful_paths_agree_on_pages_with_deep_unknown_fields(records):
    body = page_body(records)
    fast = table_from_body(body, RECORD_COLUMNS)
    assert fast is not None
    careful_ids, reasons = careful_route(body)
    assert reasons == [] and careful_ids == fast[0]["id"].to_pylist()
    table, rejected = careful_parse(decode_page(body, "/t").records)
    assert table.equals(fast[0]) and rejected == []


@pytest.mark.slow
def test_a_truncated_page_is_still_a_failed_poll_never_half_read(make_source):
    body = page_body([orjson.dumps(make_record(0)), with_field(make_record(1), "x", deep())])[:-40]
    source = make_source(FakeEndpoint([make_record(0)], [lambda r: httpx.Response(200, content=body)]), page_limit=10)
    assert source.poll().records == 1  # the bad body was retried; the retry served the real page
    assert len(source.sleeps) == 1


# -- far dates ---------------------------------------------------------------------------------


def at(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


NOW = datetime.now(UTC)
FAR = [
    "0001-01-01T00:00:00Z",
    "1970-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    at(NOW + timedelta(days=1)),
    "0001-01-01T00:30:00+01:00",
]


def test_far_dates_are_quarantined_naming_the_window_keys(make_source):
    good = [make_record(i, timestamp=at(NOW - timedelta(hours=i + 1))) for i in range(3)]
    bad = [make_record(10 + i, timestamp=ts) for i, ts in enumerate(FAR)]
    source = make_source(FakeEndpoint(good + bad), page_limit=50, config_kw={"max_record_age_days": 400})
    result = source.poll()
    assert (result.records, result.quarantined) == (3, len(FAR))
    assert ids(source) == ["r0", "r1", "r2"]
    for line in quarantined(source):
        assert line["reason"].startswith("timestamp:") and "outside the accepted window" in line["reason"]
        assert "max_record_age_days = 400" in line["reason"] and "max_future_skew_seconds = 300" in line["reason"]
    assert sorted(p.name for p in (source.context.data_dir / "requests").glob("date=*")) == sorted(
        {f"date={(NOW - timedelta(hours=i + 1)).date()}" for i in range(3)}
    )


def test_the_window_is_configurable(make_source):
    old = make_record(0, timestamp="1970-01-01T00:00:00Z")
    soon = make_record(1, timestamp=at(NOW + timedelta(minutes=30)))
    source = make_source(
        FakeEndpoint([old, soon]),
        page_limit=50,
        config_kw={"max_record_age_days": 36_500, "max_future_skew_seconds": 3600},
    )
    assert (source.poll().records, len(quarantined(source))) == (2, 0)


def test_fast_and_careful_paths_agree_on_the_window():
    window = TimeWindow.around(NOW, 400, 300)
    good = [orjson.dumps(make_record(i, timestamp=at(NOW - timedelta(days=i * 100)))) for i in range(4)]
    assert table_from_body(page_body(good), RECORD_COLUMNS, window) is not None
    assert careful_route(page_body(good), window) == (["r0", "r1", "r2", "r3"], [])
    for ts in FAR:
        body = page_body([*good, orjson.dumps(make_record(9, timestamp=ts))])
        assert table_from_body(body, RECORD_COLUMNS, window) is None
        ids_, reasons = careful_route(body, window)
        assert ids_ == ["r0", "r1", "r2", "r3"] and len(reasons) == 1 and "outside" in reasons[0]


# -- oversized bodies --------------------------------------------------------------------------


def test_a_body_over_max_page_bytes_fails_the_poll_and_loses_nothing(make_source):
    records = [make_record(i) for i in range(20)]
    endpoint = FakeEndpoint(records)
    small = make_source(endpoint, page_limit=20, max_page_bytes=2048)
    with pytest.raises(PageTooLargeError, match="max_page_bytes = 2,048.*lower page_limit"):
        small.poll()
    assert len(endpoint.calls) == 1  # not retried within the poll
    assert small.context.cursors.get("fake") is None and not (small.context.data_dir / "requests").exists()
    assert make_source(endpoint, page_limit=20).poll().records == 20  # a later poll with room gets them all


@pytest.mark.slow
def test_a_gzip_bomb_is_bounded_by_its_decoded_size(make_source):
    bomb = gzip.compress(page_body([orjson.dumps(make_record(0))]) + b" " * 5_000_000)
    assert len(bomb) < 20_000
    bombing = lambda r: httpx.Response(200, content=bomb, headers={"Content-Encoding": "gzip"})  # noqa: E731
    source = make_source(FakeEndpoint([], [bombing]), page_limit=10, max_page_bytes=1_000_000)
    with pytest.raises(PageTooLargeError, match="stopped reading"):
        source.poll()


def test_parse_page_refuses_a_cursor_holding_the_token(monkeypatch):
    from foundation.scrub import register_secret

    register_secret("tok-in-cursor-0123456789")
    body = page_body([orjson.dumps(make_record(0))], cursor="c-tok-in-cursor-0123456789")
    with pytest.raises(Exception, match="next_cursor holds the source's token"):
        parse_page(body, None, "fake")
