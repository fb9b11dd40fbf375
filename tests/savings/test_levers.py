"""Each Savings lever against values computed by hand from a seeded ledger and prices.csv.

The expected figures are written from the rows below and the price rows read with `csv` (not
through PriceBook), so a wrong filter, a wrong price or a wrong formula each show up.
"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from ledger.pricing.prices import PRICES_CSV
from ledger.queries import Filters
from ledger.queries import savings as sv
from tests.support.alerts import rows

AT = datetime(2026, 11, 20, 10, tzinfo=UTC)
WINDOW = Filters.for_dates(date(2026, 11, 1), date(2026, 11, 30), "UTC")
CHAT, EMBED, SPEECH = "/v1/chat/completions", "/v1/embeddings", "/v1/audio/speech"
LARGE, MEDIUM, EMBED_MODEL = "mistral-large-2512", "mistral-medium-2508", "mistral-embed-2312"
LEDGER: list[dict[str, Any]] = [
    # name: (the row), what it is
    {"id": "large-a", "priced_model": LARGE, "prompt_tokens": 1_000_000, "cached_tokens": 100_000,
     "completion_tokens": 200_000, "cost": 3.0, "project": "search", "stream": False},
    {"id": "large-cancelled", "priced_model": LARGE, "prompt_tokens": 500_000, "cached_tokens": 400_000,
     "completion_tokens": 0, "cost": 1.2, "project": "search", "stream": True, "tokens_estimated": True,
     "status_code": 499},
    {"id": "medium-priority", "priced_model": MEDIUM, "prompt_tokens": 100_000, "cached_tokens": 0,
     "completion_tokens": 10_000, "cost": 1.75, "project": "support", "stream": True, "service_tier": "priority"},
    {"id": "medium-eu", "priced_model": MEDIUM, "prompt_tokens": 50_000, "cached_tokens": 0,
     "completion_tokens": 0, "cost": 1.1, "project": "support", "stream": True, "api_zone": "eu"},
    {"id": "failed", "priced_model": MEDIUM, "prompt_tokens": 10_000, "cached_tokens": 0, "completion_tokens": 0,
     "cost": 0.4, "project": "support", "stream": True, "status_code": 500, "attempt": 1},
    {"id": "retry-ok", "priced_model": MEDIUM, "prompt_tokens": 10_000, "cached_tokens": 0,
     "completion_tokens": 0, "cost": 0.6, "project": "support", "stream": True, "attempt": 2},
    {"id": "retry-failed", "priced_model": MEDIUM, "prompt_tokens": 10_000, "cached_tokens": 0,
     "completion_tokens": 0, "cost": 0.2, "project": "support", "stream": True, "status_code": 503, "attempt": 3},
    {"id": "already-batch", "priced_model": MEDIUM, "prompt_tokens": 0, "cached_tokens": 0,
     "completion_tokens": 0, "cost": 0.5, "project": "nightly", "stream": False, "batch": True},
    {"id": "nightly", "priced_model": MEDIUM, "prompt_tokens": 0, "cached_tokens": 0, "completion_tokens": 0,
     "cost": 2.0, "project": "nightly", "stream": False},
    {"id": "embed", "model": "mistral-embed", "priced_model": EMBED_MODEL, "endpoint": EMBED,
     "prompt_tokens": 500_000, "cached_tokens": 0, "completion_tokens": 0, "cost": 0.05, "project": "search",
     "stream": False},
    {"id": "speech", "priced_model": "voxtral-mini-tts-2603", "endpoint": SPEECH, "prompt_tokens": 0,
     "cached_tokens": 0, "completion_tokens": 0, "cost": 0.3, "project": "search", "stream": False},
    {"id": "unpriced", "priced_model": None, "prompt_tokens": 900_000, "cached_tokens": 0,
     "completion_tokens": 0, "cost": None, "project": "search", "stream": False},
    {"id": "october", "priced_model": LARGE, "prompt_tokens": 9_000_000, "cached_tokens": 0,
     "completion_tokens": 0, "cost": 9.0, "project": "search", "stream": False,
     "timestamp": datetime(2026, 10, 31, 23, tzinfo=UTC)},  # outside the window
]  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("savings") / "data"
    records = [
        {"timestamp": AT, "endpoint": CHAT, "currency": "USD", "model": str(r.get("priced_model")), **r} for r in LEDGER
    ]
    rows(folder, records)
    return folder


def price(model: str, day: date = date(2026, 11, 30)) -> tuple[float, float, float]:
    """(input, cached input, output) per 1M tokens in USD on `day`, read from prices.csv with csv."""
    with PRICES_CSV.open() as f:
        found = [
            r
            for r in csv.DictReader(f)
            if r["model"] == model
            and r["currency"] == "USD"
            and r["effective_from"] <= day.isoformat()
            and (r["unit"] or "1M_tokens") == "1M_tokens"
        ]
    row = max(found, key=lambda r: r["effective_from"])
    return float(row["input_per_1m"]), float(row["cached_input_per_1m"]), float(row["output_per_1m"])


@pytest.mark.slow
def test_caching_per_model(data):
    df = sv.caching(data, WINDOW, target=0.5).set_index("model")
    large_in, large_cached, _ = price(LARGE)
    prompt, cached = 1_000_000 + 500_000, 100_000 + 400_000  # large-a and large-cancelled
    assert df.loc[LARGE, "prompt_tokens"] == prompt and df.loc[LARGE, "cached_tokens"] == cached
    assert df.loc[LARGE, "cached_share"] == pytest.approx(cached / prompt)
    assert df.loc[LARGE, "saving"] == pytest.approx((0.5 * prompt - cached) * (large_in - large_cached) / 1e6)
    medium_in, medium_cached, _ = price(MEDIUM)
    medium_prompt = 100_000 + 50_000 + 3 * 10_000  # nothing cached; the batch and nightly rows have no tokens
    assert df.loc[MEDIUM, "saving"] == pytest.approx(0.5 * medium_prompt * (medium_in - medium_cached) / 1e6)
    assert EMBED_MODEL not in df.index  # embeddings are not a chat endpoint: no prompt cache
    at_20 = sv.caching(data, WINDOW, target=0.2).set_index("model")
    assert at_20.loc[LARGE, "saving"] == 0  # already above 20%: nothing to gain


def test_batch_upper_bound_per_project_and_endpoint(data):
    df = sv.batch(data, WINDOW, offline_projects=("nightly",))
    got = {(r.project, r.endpoint): (r.spend, r.saving, r.offline) for r in df.itertuples()}
    assert got == {
        ("nightly", CHAT): (pytest.approx(2.0), pytest.approx(1.0), True),  # not the batch row (already batch)
        ("search", CHAT): (pytest.approx(3.0), pytest.approx(1.5), False),  # large-a (large-cancelled streamed)
        ("search", EMBED): (pytest.approx(0.05), pytest.approx(0.025), False),  # speech: no Batch API
    }
    assert list(df["project"])[0] == "nightly"  # offline projects first


def test_premiums_paid(data):
    df = sv.premiums(data, WINDOW).set_index("kind")
    assert df.loc["priority tier", "premium"] == pytest.approx(1.75 - 1.75 / 1.75)
    assert df.loc["regional endpoint (eu)", "premium"] == pytest.approx(1.1 - 1.1 / 1.1)
    assert df.loc["regional endpoint (us)", "premium"] == 0


@pytest.mark.slow
def test_errors_retries_and_cancelled_streams(data):
    df = sv.failures(data, WINDOW).set_index("kind")
    assert df.loc["Billed failed requests", "spend"] == pytest.approx(0.4 + 0.2)  # failed, retry-failed
    assert df.loc["Billed retries", "spend"] == pytest.approx(0.6 + 0.2)  # retry-ok, retry-failed
    assert df.loc["Billed failed requests", "requests"] == 2
    assert sv.cancelled_streams(data, WINDOW) == (1, pytest.approx(1.2))


def test_right_sizing_on_the_next_cheaper_model(data):
    df = sv.right_sizing(data, WINDOW).set_index("model")
    # mistral-medium-3-5 costs more than mistral-large-2512: the step down is mistral-small-2603
    assert df.loc[LARGE, "cheaper"] == "mistral-small-2603"
    (li, lc, lo), (si, sc, so) = price(LARGE), price("mistral-small-2603")
    uncached, cached, out = 1_500_000 - 500_000, 500_000, 200_000
    own, small = (uncached * li + cached * lc + out * lo) / 1e6, (uncached * si + cached * sc + out * so) / 1e6
    assert df.loc[LARGE, "list_cost"] == pytest.approx(own)
    assert df.loc[LARGE, "saving"] == pytest.approx(own - small)
    assert df.loc[MEDIUM, "cheaper"] == "mistral-small-2603"


@pytest.mark.slow
def test_the_rows_behind_a_lever_are_the_ones_it_sums(data):
    assert sorted(sv.lever_rows(data, WINDOW, "retries")["id"]) == ["retry-failed", "retry-ok"]
    assert sorted(sv.lever_rows(data, WINDOW, "cancelled")["id"]) == ["large-cancelled"]
    assert sorted(sv.lever_rows(data, WINDOW, "batch")["id"]) == ["embed", "large-a", "nightly"]
