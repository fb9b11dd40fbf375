"""The fast (arrow) and careful (per-record) validators must agree on every page."""

from __future__ import annotations

import orjson
import pytest

from collector._fastpath import table_from_body, table_from_records
from collector._records import RECORD_COLUMNS, careful_parse

from .conftest import make_record

VALID = [
    make_record(0),
    make_record(1, resolved_model="mistral-small-2603", stream=True, batch=False, service_tier="priority", attempt=2,
                ratelimit={"limit-tokens-minute": 2000000, "remaining-tokens-minute": 1500, "other-header": 3}),
    make_record(2, project=None, error_type="rate_limited", status_code=429, prompt_tokens=0, completion_tokens=0,
                spend_limit_reached=True, simulated=True, latency_ms=12),
    make_record(3, brand_new_field={"nested": [1, 2]}, timestamp="2026-11-20T11:00:00+01:00"),
    {k: v for k, v in make_record(4).items() if k not in ("latency_ms", "cached_tokens", "project")},
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
    "a string",
    None,
    [1, 2],
]


def test_valid_pages_give_the_same_table_on_every_path():
    careful, rejected = careful_parse(VALID)
    assert rejected == []
    from_records = table_from_records(VALID, RECORD_COLUMNS)
    from_body = table_from_body(orjson.dumps({"object": "list", "data": VALID, "next_cursor": "c", "has_more": True}),
                                RECORD_COLUMNS)
    assert from_records is not None and from_body is not None
    assert from_records.equals(careful)
    assert from_body[0].equals(careful)
    assert from_body[1:] == ("c", True)


@pytest.mark.parametrize("bad", INVALID, ids=[str(i) for i in range(len(INVALID))])
def test_one_invalid_record_sends_the_page_to_the_careful_path(bad):
    page = [*VALID, bad]
    assert table_from_records(page, RECORD_COLUMNS) is None
    body = orjson.dumps({"object": "list", "data": page, "next_cursor": "c", "has_more": False})
    assert table_from_body(body, RECORD_COLUMNS) is None
    table, rejected = careful_parse(page)
    assert table.num_rows == len(VALID)
    assert [r.raw for r in rejected] == [bad]
