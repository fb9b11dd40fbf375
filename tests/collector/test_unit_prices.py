"""Every billed unit priced right (issue 11): dated cases worked out by hand from Mistral's docs.

Each case is one contract-v1 record fed through the collector (a usage source over
httpx.MockTransport: the page goes through the fast path, then `price_rows` and the ledger),
and the ledger's `cost` is compared with the arithmetic written beside it. Prices come from
docs/prices.md, not from the shipped CSV, so a wrong row fails here.

Units: tokens per 1M (cached input at its own rate), OCR pages per 1,000 (annotated pages at
their own rate), audio per minute (chat audio and transcription differ), TTS per 1M
characters. Multipliers: the cache discount is in the base price, then the tier (batch x0.5;
else priority x1.75), then the regional zone (eu/us x1.1). `billable: false` costs 0.0.
"""

from __future__ import annotations

from typing import Any, NamedTuple, TypedDict

import pytest

from collector._records import careful_parse
from ledger import PriceBook, price_rows, read_ledger

from .conftest import FakeEndpoint

M = 1_000_000
LARGE = "mistral-large-2512"  # USD 0.5 in / 1.5 out (cached 0.05); EUR 0.44 / 1.3
TRANSCRIBE = "/v1/audio/transcriptions"


class Case(NamedTuple):
    why: str
    model: str
    timestamp: str
    cost: float | None
    fields: dict[str, Any]
    currency: str = "USD"


def case(why: str, model: str, timestamp: str, cost: float | None, currency: str = "USD", **fields: Any) -> Case:
    return Case(why, model, timestamp, cost, fields, currency)


class Tokens(TypedDict):
    """The token fields of a record; typed by key so `**tokens()` never lands on `currency`."""

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int


def tokens(prompt: int = M, completion: int = M, cached: int = 0) -> Tokens:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "cached_tokens": cached}


CACHED = tokens(M, 0, 400_000)  # large-2512: 0.6 x 0.5 + 0.4 x 0.05 = 0.30 + 0.02 = 0.32
JUNE = "2026-06-01T12:00:00Z"

CASES = [
    # tokens and every multiplier on mistral-large-2512 (USD 0.5 + 1.5 = 2.0 for 1M in + 1M out)
    case("list", LARGE, JUNE, 2.0, **tokens()),  # 0.5 + 1.5
    case("cached", LARGE, JUNE, 0.32, **CACHED),  # 0.6 x 0.5 + 0.4 x 0.05
    case("batch", LARGE, JUNE, 1.0, batch=True, **tokens()),  # 2.0 x 0.5
    case("priority", LARGE, JUNE, 3.5, service_tier="priority", **tokens()),  # 2.0 x 1.75
    case("standard tier", LARGE, JUNE, 2.0, service_tier="standard", **tokens()),  # 2.0
    case("cached+priority", LARGE, JUNE, 0.56, service_tier="priority", **CACHED),  # 0.32 x 1.75
    case("zone eu", LARGE, JUNE, 2.2, api_zone="eu", **tokens()),  # 2.0 x 1.1
    case("zone us", LARGE, JUNE, 2.2, api_zone="us", **tokens()),  # 2.0 x 1.1
    case("zone global", LARGE, JUNE, 2.0, api_zone="global", **tokens()),  # 2.0
    case("cached+priority+eu", LARGE, JUNE, 0.616, service_tier="priority", api_zone="eu", **CACHED),  # 0.32x1.75x1.1
    case("cached+batch+us", LARGE, JUNE, 0.176, batch=True, api_zone="us", **CACHED),  # 0.32 x 0.5 x 1.1
    case(
        "cached+batch+priority+zone: batch is its own tier",
        LARGE,
        JUNE,
        0.176,
        batch=True,
        service_tier="priority",
        api_zone="eu",
        **CACHED,
    ),  # 0.32 x 0.5 x 1.1 (no x1.75 on batch)
    case(
        "EUR priority+eu", LARGE, JUNE, 3.3495, "EUR", service_tier="priority", api_zone="eu", **tokens()
    ),  # (0.44 + 1.3) x 1.75 x 1.1 = 1.74 x 1.925
    # OCR per 1,000 pages: 2505 $1 / $3 annotated; 2512 $2 / $3; 4-0 and 4-1 $4 / $5; EUR 2512 1.75 / 2.63
    case("ocr alias before 2505", "mistral-ocr-latest", "2025-05-21T23:59:59Z", None, pages=10),  # 2503: no price
    case("ocr alias on 2505", "mistral-ocr-latest", "2025-05-22T00:00:00Z", 1.0, pages=1000),  # 1000/1000 x 1
    case("ocr day before 2512", "mistral-ocr-latest", "2025-12-17T23:59:59Z", 0.5, pages=500),  # 0.5 x 1
    case("ocr alias on 2512", "mistral-ocr-latest", "2025-12-18T00:00:00Z", 1.0, pages=500),  # 0.5 x 2
    case("ocr annotated", "mistral-ocr-2512", JUNE, 2.4, pages=1000, annotated_pages=400),  # 0.6x2 + 0.4x3
    case("ocr day before 4-0", "mistral-ocr-latest", "2026-06-22T23:59:59Z", 2.0, pages=1000),  # 1 x 2
    case("ocr alias on 4-0", "mistral-ocr-latest", "2026-06-23T00:00:00Z", 4.0, pages=1000),  # 1 x 4
    case(
        "ocr all annotated", "mistral-ocr-latest", "2026-07-15T23:59:59Z", 1.0, pages=200, annotated_pages=200
    ),  # 4-0: 0.2 x 5
    case("ocr 4-1 batch", "mistral-ocr-latest", "2026-07-16T00:00:00Z", 0.5, pages=250, batch=True),  # 0.25x4x0.5
    case("ocr EUR annotated", "mistral-ocr-2512", JUNE, 2.63, "EUR", pages=1000, annotated_pages=1000),  # 1 x 2.63
    case(
        "ocr priority+eu",
        "mistral-ocr-4-0",
        "2026-07-01T00:00:00Z",
        0.77,
        pages=100,
        service_tier="priority",
        api_zone="eu",
    ),  # 0.1 x 4 x 1.75 x 1.1
    case("ocr zero pages", "mistral-ocr-2512", JUNE, 0.0, pages=0),
    case("ocr tokens are not billed", "mistral-ocr-2512", JUNE, 0.02, pages=10, prompt_tokens=5000),  # 0.01 x 2
    # audio per minute: chat audio (voxtral-small 0.004, voxtral-mini 0.001) and transcription
    case(
        "voxtral chat audio, old output price",
        "voxtral-small-latest",
        "2026-08-10T23:59:59Z",
        0.406,
        audio_seconds=90,
        **tokens(),
    ),  # 1.5 min x 0.004 + 0.1 + 0.3
    case(
        "voxtral chat audio, new output price",
        "voxtral-small-latest",
        "2026-08-11T00:00:00Z",
        0.506,
        audio_seconds=90,
        **tokens(),
    ),  # 1.5 min x 0.004 + 0.1 + 0.4
    case("voxtral-mini chat audio", "voxtral-mini-latest", JUNE, 0.01, audio_seconds=600),  # 10 min x 0.001
    case(
        "voxtral-mini transcription", "voxtral-mini-2507", JUNE, 0.02, audio_seconds=600, endpoint=TRANSCRIBE
    ),  # 10 min x 0.002
    case(
        "transcription with the response's token usage",
        "voxtral-mini-2507",
        JUNE,
        0.02,
        audio_seconds=600,
        endpoint=TRANSCRIBE,
        **tokens(),
    ),  # 10 min x 0.002; a transcription is billed per minute only, never per token
    case(
        "transcribe 2602 on release day",
        "voxtral-mini-2602",
        "2026-02-04T00:00:00Z",
        0.006,
        audio_seconds=120,
        endpoint=TRANSCRIBE,
    ),  # 2 min x 0.003
    case(
        "transcribe 2602 day before release",
        "voxtral-mini-2602",
        "2026-02-03T23:59:59Z",
        None,
        audio_seconds=120,
        endpoint=TRANSCRIBE,
    ),
    case(
        "realtime transcription",
        "voxtral-mini-transcribe-realtime-latest",
        "2026-03-01T00:00:00Z",
        0.003,
        audio_seconds=30,
        endpoint=TRANSCRIBE,
    ),  # 0.5 min x 0.006
    case(
        "transcription EUR", "voxtral-mini-2602", JUNE, 0.0026, "EUR", audio_seconds=60, endpoint=TRANSCRIBE
    ),  # 1 min x 0.0026
    case(
        "audio on a model with no minute price", "mistral-small-2603", JUNE, None, audio_seconds=60, **tokens()
    ),  # a billed quantity with no price: unknown, not the token cost
    # text to speech per 1M characters: $16, EUR 10
    case("tts", "voxtral-mini-tts-2603", JUNE, 4.0, characters=250_000),  # 0.25 x 16
    case("tts alias day before", "voxtral-mini-tts-latest", "2026-06-07T23:59:59Z", None, characters=1000),
    case("tts alias first day", "voxtral-mini-tts-latest", "2026-06-08T00:00:00Z", 16.0, characters=M),  # 1 x 16
    case("tts EUR us", "voxtral-mini-tts-2603", JUNE, 11.0, "EUR", characters=M, api_zone="us"),  # 1 x 10 x 1.1
    case("tts before release", "voxtral-mini-tts-2603", "2026-03-22T23:59:59Z", None, characters=1000),
    case("tts launch name", "voxtral-tts-2603", "2026-03-23T00:00:00Z", 8.0, characters=M // 2),  # 0.5 x 16
    case("tts launch name, day before", "voxtral-tts-2603", "2026-03-22T23:59:59Z", None, characters=1000),
    # mistral-large-4-0: launch 0.68 / 2.09 (cached 0.07) until 2026-10-19, list 1.36 / 4.18 (cached 0.14) after
    case(
        "large 4 launch, cached+priority+eu",
        "mistral-large-4",
        "2026-10-10T12:00:00Z",
        0.8393,
        service_tier="priority",
        api_zone="eu",
        **tokens(M, 0, 400_000),
    ),  # (0.6 x 0.68 + 0.4 x 0.07) x 1.75 x 1.1 = 0.436 x 1.925
    case("large 4 list, batch", "mistral-large-4-0", "2026-10-25T12:00:00Z", 2.77, batch=True, **tokens()),  # 5.54/2
    case(
        "large 4 list, cached", "mistral-large-4-0", "2026-10-20T00:00:00Z", 0.872, **tokens(M, 0, 400_000)
    ),  # 0.6x1.36 + 0.4x0.14
    # retired on 2026-09-30 (announced 2026-09-29): the days it served keep their price
    case("ocr 4-0 on its last day", "mistral-ocr-4-0", "2026-09-30T23:59:59Z", 4.5, pages=1000, annotated_pages=500),
    # free periods and the end of a launch offer, with multipliers (free stays 0)
    case(
        "free launch, priority", "devstral-2512", "2026-01-26T23:59:59Z", 0.0, service_tier="priority", **tokens()
    ),  # 0 x 1.75
    case(
        "launch offer ended, eu", "devstral-2512", "2026-01-27T00:00:00Z", 2.64, api_zone="eu", **tokens()
    ),  # (0.4 + 2) x 1.1
    case("free until 03-11", "labs-devstral-small-2512", "2026-03-10T23:59:59Z", 0.0, **tokens()),
    case(
        "paid from 03-11, batch", "labs-devstral-small-2512", "2026-03-11T00:00:00Z", 0.2, batch=True, **tokens()
    ),  # (0.1 + 0.3) x 0.5
    # alias boundaries (the day before and the day of)
    case("large-latest on 2411", "mistral-large-latest", "2025-08-26T23:59:59Z", 8.0, **tokens()),  # 2 + 6
    case("large-latest on medium-2508", "mistral-large-latest", "2025-08-27T00:00:00Z", 2.4, **tokens()),  # 0.4+2
    case("medium-latest still 2508", "mistral-medium-latest", "2026-06-15T23:59:59Z", 2.4, **tokens()),  # 0.4 + 2
    case("medium-latest on 3-5", "mistral-medium-latest", "2026-06-16T00:00:00Z", 9.0, **tokens()),  # 1.5 + 7.5
    # unknown models stay null; calls Mistral does not bill cost 0.0 whatever their model
    case("unknown model", "ft:mistral-small-2603:acme:7f3a", JUNE, None, **tokens()),
    case("unknown model, not billable", "unknown", JUNE, 0.0, endpoint="/v1/files", billable=False),
    case("priced model, not billable", LARGE, JUNE, 0.0, billable=False, **tokens()),
    case(
        "batch job status, not billable",
        "unknown",
        JUNE,
        0.0,
        endpoint="/v1/batch/jobs/j1",
        billable=False,
        api_zone="eu",
    ),
    case("billable true is the default", LARGE, JUNE, 2.0, billable=True, **tokens()),
    case("old record: no new fields", LARGE, JUNE, 2.0, **tokens()),  # contract v1 as before
]


def record(i: int, c: Case) -> dict[str, Any]:
    base = {
        "id": f"u{i}",
        "timestamp": c.timestamp,
        "model": c.model,
        "endpoint": "/v1/chat/completions",
        "status_code": 200,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "cached_tokens": 0,
    }
    return base | c.fields


def test_there_are_at_least_forty_cases():
    assert len(CASES) >= 40


@pytest.mark.slow
@pytest.mark.parametrize("currency", ["USD", "EUR"])
def test_every_case_through_the_collector_costs_what_the_docs_say(make_source, currency):
    cases = [(i, c) for i, c in enumerate(CASES) if c.currency == currency]
    records = [record(i, c) for i, c in cases]
    source = make_source(FakeEndpoint(records), page_limit=100, config_kw={"currency": currency})
    assert source.poll().quarantined == 0
    stored = {row["id"]: row for row in read_ledger(source.context.config.data_dir).to_pylist()}
    assert len(stored) == len(records)
    for i, c in cases:
        got = stored[f"u{i}"]["cost"]
        assert (got is None) == (c.cost is None), c.why
        if c.cost is not None:
            assert got == pytest.approx(c.cost, rel=1e-9, abs=1e-12), c.why


@pytest.mark.parametrize("currency", ["USD", "EUR"])
def test_the_careful_path_prices_every_case_the_same(currency):
    chosen = [(i, c) for i, c in enumerate(CASES) if c.currency == currency]
    table, rejected = careful_parse([record(i, c) for i, c in chosen])
    assert rejected == []
    costs = price_rows(table, "s", PriceBook.load(), currency)["cost"].to_pylist()
    for got, (_, c) in zip(costs, chosen, strict=True):
        assert (got is None) == (c.cost is None), c.why
        assert got is None or got == pytest.approx(c.cost, rel=1e-9, abs=1e-12), c.why
