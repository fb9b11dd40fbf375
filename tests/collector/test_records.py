"""The fast (arrow) and careful (per-record) validators must agree on every page."""

from __future__ import annotations

import orjson
import pytest

from collector._fastpath import table_from_body, table_from_records
from collector._records import RECORD_COLUMNS, careful_parse

from .conftest import make_record

VALID = [
    make_record(0),
    make_record(
        1,
        resolved_model="mistral-small-2603",
        stream=True,
        batch=False,
        service_tier="priority",
        attempt=2,
        ratelimit={"limit-tokens-minute": 2000000, "remaining-tokens-minute": 1500, "other-header": 3},
    ),
    make_record(
        2,
        project=None,
        error_type="rate_limited",
        status_code=429,
        prompt_tokens=0,
        completion_tokens=0,
        spend_limit_reached=True,
        simulated=True,
        latency_ms=12,
    ),
    make_record(3, brand_new_field={"nested": [1, 2]}, timestamp="2026-11-20T11:00:00+01:00"),
    {k: v for k, v in make_record(4).items() if k not in ("latency_ms", "cached_tokens", "project")},
    make_record(
        5,
        model="mistral-ocr-latest",
        endpoint="/v1/ocr",
        prompt_tokens=0,
        completion_tokens=0,
        pages=12,
        annotated_pages=3,
        api_zone="eu",
        billable=True,
        tokens_estimated=False,
        agent_id="ag_1",
    ),
    make_record(6, model="voxtral-small-latest", audio_seconds=90, api_zone="global"),
    make_record(
        7,
        model="voxtral-mini-tts-latest",
        endpoint="/v1/audio/speech",
        characters=400,
        audio_seconds=12.5,
        pages=None,
        billable=False,
        tokens_estimated=True,
        api_zone=None,
        agent_id=None,
    ),
    make_record(8, endpoint="/v1/files", billable=False, pages=0, annotated_pages=0, characters=0, audio_seconds=0),
]

INVALID = [
    {**make_record(10), "id": None},
    {**make_record(11), "id": ""},
    {**make_record(12), "id": 12},
    {k: v for k, v in make_record(13).items() if k != "model"},
    make_record(14, status_code=700),
    make_record(15, status_code="200"),
    make_record(16, prompt_tokens=-1),
    make_record(17, prompt_tokens=1.5),
    make_record(18, cached_tokens=5000),
    make_record(19, latency_ms=-3),
    make_record(20, attempt=0),
    make_record(21, stream="yes"),
    make_record(22, timestamp="2026-11-20T10:00:00"),
    make_record(23, timestamp="not a date"),
    make_record(24, timestamp=1732550110),
    make_record(25, ratelimit="lots"),
    make_record(26, pages=-1),
    make_record(27, pages=1.5),
    make_record(28, pages="3"),
    make_record(29, pages=2, annotated_pages=5),
    make_record(30, annotated_pages=1),
    make_record(31, audio_seconds=-1),
    make_record(32, audio_seconds="60"),
    make_record(33, audio_seconds=True),
    make_record(34, characters=-5),
    make_record(35, characters=2.5),
    make_record(36, api_zone="asia"),
    make_record(37, api_zone="EU"),
    make_record(38, billable="no"),
    make_record(39, tokens_estimated=1),
    make_record(40, agent_id=5),
    make_record(41, pages=True),
    make_record(42, latency_ms=True),
    "a string",
    None,
    [1, 2],
]


def test_valid_pages_give_the_same_table_on_every_path():
    careful, rejected = careful_parse(VALID)
    assert rejected == []
    from_records = table_from_records(VALID, RECORD_COLUMNS)
    from_body = table_from_body(
        orjson.dumps({"object": "list", "data": VALID, "next_cursor": "c", "has_more": True}), RECORD_COLUMNS
    )
    assert from_records is not None and from_body is not None
    assert from_records.equals(careful)
    assert from_body[0].equals(careful)
    assert from_body[1:] == ("c", True)


@pytest.mark.slow
@pytest.mark.parametrize("bad", INVALID, ids=[str(i) for i in range(len(INVALID))])
def test_one_invalid_record_sends_the_page_to_the_careful_path(bad):
    page = [*VALID, bad]
    assert table_from_records(page, RECORD_COLUMNS) is None
    body = orjson.dumps({"object": "list", "data": page, "next_cursor": "c", "has_more": False})
    assert table_from_body(body, RECORD_COLUMNS) is None
    table, rejected = careful_parse(page)
    assert table.num_rows == len(VALID)
    assert [r.raw for r in rejected] == [bad]


def test_billed_quantities_and_new_optional_fields_land_in_their_columns():
    table, rejected = careful_parse(VALID)
    assert rejected == []
    rows = {row["id"]: row for row in table.to_pylist()}
    ocr, audio, tts, files = rows["r5"], rows["r6"], rows["r7"], rows["r8"]
    assert (ocr["pages"], ocr["annotated_pages"], ocr["api_zone"], ocr["agent_id"]) == (12, 3, "eu", "ag_1")
    assert (ocr["billable"], ocr["tokens_estimated"]) == (True, False)
    assert audio["audio_seconds"] == 90.0 and audio["api_zone"] == "global"
    assert (tts["characters"], tts["audio_seconds"]) == (400, 12.5)
    assert (tts["billable"], tts["tokens_estimated"]) == (False, True)
    assert files["billable"] is False and files["pages"] == 0
    old = rows["r0"]  # a record without the new fields stays valid, its new columns null
    assert all(
        old[k] is None
        for k in (
            "pages",
            "annotated_pages",
            "audio_seconds",
            "characters",
            "api_zone",
            "billable",
            "tokens_estimated",
            "agent_id",
        )
    )


@pytest.mark.parametrize(
    "bad, reason",
    [
        (make_record(1, pages=2, annotated_pages=5), "annotated_pages: 5 exceeds pages 2"),
        (make_record(1, api_zone="asia"), "api_zone: must be one of global, eu, us or null, got 'asia'"),
        (make_record(1, audio_seconds="60"), "audio_seconds: must be a non-negative number or null, got '60'"),
        (make_record(1, characters=-5), "characters: must be a non-negative integer or null, got -5"),
    ],
)
def test_a_bad_billed_quantity_is_quarantined_with_a_reason_naming_it(bad, reason):
    _, rejected = careful_parse([bad])
    assert [r.reason for r in rejected] == [reason]


def test_an_infinite_audio_duration_goes_to_the_careful_path():
    record = orjson.dumps(make_record(1))[:-1] + b',"audio_seconds":1e999}'
    body = b'{"object":"list","data":[' + record + b'],"has_more":false}'
    assert table_from_body(body, RECORD_COLUMNS) is None
    assert len(careful_parse([orjson.loads(body.replace(b"1e999", b"1e300"))["data"][0]])[1]) == 0
