"""The simulated workload: deterministic, realistic in the ways the dashboards rely on, valid.

Expected values come from outside the generator: the alias history from ledger/pricing/aliases.csv,
record validity from the collector's own validator, the JSON encoding from a naive dict
builder written here.
"""

from __future__ import annotations

import csv
import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import orjson
import pytest

from collector._records import BadRecord, validate
from simulator import BAD_KINDS, FINE_TUNED, bad_kind, generate_records
from simulator._encode import encode_hour
from simulator._generate import generate_hour

ROOT = Path(__file__).resolve().parent.parent
END = datetime(2026, 11, 25, tzinfo=UTC)
MONTH_START = END - timedelta(days=30)
SEED = 5
ZONE = ZoneInfo("Europe/Paris")


@pytest.fixture(scope="module")
def month() -> list[dict]:
    """30 whole days at 3 requests/minute: about 130k records."""
    return generate_records(SEED, MONTH_START, END, rate=3.0)


def test_same_seed_gives_the_same_records_and_another_seed_does_not() -> None:
    start, end = datetime(2026, 11, 20, 8, 30, tzinfo=UTC), datetime(2026, 11, 20, 11, tzinfo=UTC)
    first = generate_records(1, start, end, rate=6.0)
    assert len(first) > 500
    assert generate_records(1, start, end, rate=6.0) == first
    other = generate_records(2, start, end, rate=6.0)
    assert other != first
    assert {r["id"] for r in other} != {r["id"] for r in first}


@pytest.mark.slow
def test_a_range_is_the_union_of_its_parts() -> None:
    """Records depend on their absolute hour only, not on where a run started."""
    start, middle, end = (datetime(2026, 11, 20, h, m, tzinfo=UTC) for h, m in ((9, 0), (10, 17), (12, 0)))
    whole = generate_records(3, start, end, rate=8.0)
    assert generate_records(3, start, middle, rate=8.0) + generate_records(3, middle, end, rate=8.0) == whole


@pytest.mark.slow
def test_ids_are_unique_and_timestamps_ordered_and_in_range(month: list[dict]) -> None:
    ids = [r["id"] for r in month]
    assert len(ids) == len(set(ids))
    stamps = [datetime.fromisoformat(r["timestamp"]) for r in month]
    assert stamps == sorted(stamps)
    assert MONTH_START <= stamps[0] and stamps[-1] < END
    for rec, stamp in zip(month[:2000], stamps, strict=False):
        minute, n = rec["id"].split("-")[1:]
        assert int(minute) == int(stamp.timestamp()) // 60
        assert rec["timestamp"].endswith("Z") and len(rec["timestamp"]) == 24


@pytest.mark.slow
def test_every_record_passes_the_collectors_validator(month: list[dict]) -> None:
    for rec in month:
        validate(rec)
    assert all(rec["simulated"] is True for rec in month)


@pytest.mark.slow
def test_mix_of_models_projects_keys_and_endpoints(month: list[dict]) -> None:
    models = Counter(r["model"] for r in month)
    assert len(models) >= 8
    for name in (
        "mistral-small-latest",
        "mistral-large-latest",
        "codestral-latest",
        "mistral-embed",
        "devstral-latest",
        "magistral-medium-latest",
        "ministral-8b-latest",
    ):
        assert models[name] > 0, name
    assert 0.002 < models[FINE_TUNED] / len(month) < 0.01
    assert len({r["project"] for r in month}) >= 4 and None in {r["project"] for r in month}
    keys = Counter(r["api_key_id"] for r in month)
    assert len(keys) >= 6 and all(k.startswith("key_") and len(k) == 12 for k in keys)
    endpoints = Counter(r["endpoint"] for r in month)
    assert set(endpoints) == {
        "/v1/chat/completions",
        "/v1/fim/completions",
        "/v1/embeddings",
        "/v1/agents/completions",
        "/v1/ocr",
        "/v1/audio/transcriptions",
        "/v1/audio/speech",
        "/v1/files",
        "/v1/models",
        "/v1/batch/jobs",
        "/v1/fine_tuning/jobs",
    }
    assert endpoints.most_common(1)[0][0] == "/v1/chat/completions"
    assert {r["model"] for r in month if r["endpoint"] == "/v1/fim/completions"} == {"codestral-latest"}


@pytest.mark.slow
def test_each_key_mostly_serves_one_project(month: list[dict]) -> None:
    by_key: dict[str, Counter] = {}
    for r in month:
        by_key.setdefault(r["api_key_id"], Counter())[r["project"]] += 1
    for key, projects in by_key.items():
        assert projects.most_common(1)[0][1] / projects.total() > 0.85, key


@pytest.mark.slow
def test_tokens_are_long_tailed_and_cached_in_64_blocks(month: list[dict]) -> None:
    ok = [r for r in month if r["status_code"] == 200]
    prompts = [r["prompt_tokens"] for r in ok]
    assert max(prompts) > 8 * statistics.median(prompts)
    cached = [r for r in ok if r["cached_tokens"]]
    assert 0.15 < len(cached) / len(ok) < 0.5
    assert all(r["cached_tokens"] % 64 == 0 and r["cached_tokens"] <= r["prompt_tokens"] for r in month)
    assert all(r["completion_tokens"] == 0 for r in month if r["endpoint"] == "/v1/embeddings")


@pytest.mark.slow
def test_errors_throttling_spend_cap_outages_and_retries(month: list[dict]) -> None:
    statuses = Counter(r["status_code"] for r in month)
    assert {400, 401, 422, 429} <= set(statuses) and {500, 502, 503} & set(statuses)
    throttled = [r for r in month if r["status_code"] == 429]
    assert {r["spend_limit_reached"] for r in throttled} == {True, False}
    assert all(r["error_type"] == "rate_limited" for r in throttled)
    assert all(r["error_type"] == "server_error" for r in month if r["status_code"] >= 500)
    for r in month:
        if r["status_code"] != 200:
            assert r["completion_tokens"] == 0 and r["error_type"]
        if r["status_code"] in (401, 429):
            assert r["prompt_tokens"] == 0
    assert max(r["attempt"] for r in month) >= 3
    assert Counter(r["attempt"] > 1 for r in month)[True] > 50


def test_errors_come_in_bursts(month: list[dict]) -> None:
    """Most throttled records share their minute with other throttled records of the same key."""
    per_minute = Counter((r["id"].split("-")[1], r["api_key_id"]) for r in month if r["status_code"] == 429)
    clustered = sum(c for c in per_minute.values() if c > 1)
    assert clustered > 0.5 * per_minute.total()


@pytest.mark.slow
def test_working_hours_are_busier_than_nights_and_weekends(month: list[dict]) -> None:
    paris_hours: Counter[str] = Counter()
    for r in month:
        stamp = datetime.fromisoformat(r["timestamp"]).astimezone(ZONE)
        kind = "day" if 10 <= stamp.hour < 17 else "night" if stamp.hour < 6 else "other"
        paris_hours["weekend" if stamp.weekday() >= 5 else kind] += 1
    # per hour of each kind: the 30 days from Monday 26 October hold 22 weekdays and 8 weekend days
    assert paris_hours["day"] / (22 * 7) > 3 * paris_hours["weekend"] / (8 * 24)
    assert paris_hours["day"] / (22 * 7) > 8 * paris_hours["night"] / (22 * 6)


def test_mean_rate_over_the_month_is_close_to_the_rate(month: list[dict]) -> None:
    first_attempts = sum(1 for r in month if r["attempt"] == 1)
    assert first_attempts / (30 * 1440) == pytest.approx(3.0, rel=0.15)


def test_one_spike_day_for_one_project_and_model(month: list[dict]) -> None:
    per_day = Counter(
        r["timestamp"][:10] for r in month if r["project"] == "data-pipeline" and r["model"] == "mistral-medium-latest"
    )
    counts = sorted(per_day.values())
    assert counts[-1] > 3 * statistics.median(counts)
    assert counts[-2] < 2 * statistics.median(counts)


@pytest.mark.slow
def test_ratelimit_headers_on_interactive_successes(month: list[dict]) -> None:
    with_rl = [r for r in month if "ratelimit" in r]
    assert all(r["status_code"] == 200 and r["endpoint"] != "/v1/embeddings" and not r["batch"] for r in with_rl)
    remaining = [r["ratelimit"]["remaining-tokens-minute"] for r in with_rl]
    assert all(0 <= v <= r["ratelimit"]["limit-tokens-minute"] for v, r in zip(remaining, with_rl, strict=True))
    assert min(remaining) < 0.1 * with_rl[0]["ratelimit"]["limit-tokens-minute"]


@pytest.mark.slow
def test_streaming_batch_tier_and_latency_tail(month: list[dict]) -> None:
    chat = [r for r in month if r["endpoint"] == "/v1/chat/completions" and not r["batch"]]
    assert 0.3 < sum(r["stream"] for r in chat) / len(chat) < 0.5
    batch = [r for r in month if r["batch"]]
    assert 0.005 < len(batch) / len(month) < 0.1
    interactive = [r["latency_ms"] for r in month if not r["batch"] and r["status_code"] == 200]
    assert np.percentile(interactive, 99) > 5000
    assert statistics.median(r["latency_ms"] for r in batch) > 10 * statistics.median(interactive)
    assert Counter(r["service_tier"] for r in month).most_common(1)[0][0] == "standard"


def _alias_table() -> dict[str, list[tuple[str, str]]]:
    table: dict[str, list[tuple[str, str]]] = {}
    with open(ROOT / "ledger" / "pricing" / "aliases.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            table.setdefault(row["alias"], []).append((row["effective_from"], row["model"]))
    return table


@pytest.mark.slow
def test_resolved_model_follows_the_alias_history_across_a_switch() -> None:
    """mistral-small-latest moved from 2506 to 2603 on 2026-03-16: records on both sides agree."""
    records = generate_records(9, datetime(2026, 3, 15, tzinfo=UTC), datetime(2026, 3, 17, tzinfo=UTC), rate=4.0)
    aliases = _alias_table()
    for r in records:
        day = r["timestamp"][:10]
        history = sorted(aliases.get(r["model"], []))
        expected = [model for since, model in history if since <= day][-1] if history else r["model"]
        assert r["resolved_model"] == expected, r
    small = {(r["timestamp"][:10], r["resolved_model"]) for r in records if r["model"] == "mistral-small-latest"}
    assert small == {("2026-03-15", "mistral-small-2506"), ("2026-03-16", "mistral-small-2603")}


def _naive_record(cols: dict, i: int) -> dict:
    """An independent, slow rendering of row i, to check the vectorised encoder against."""
    from simulator import _catalog as cat

    status, model = int(cols["status"][i]), int(cols["model"][i])
    stamp = datetime.fromtimestamp(int(cols["ts"][i]) / 1000, UTC)
    rec = {
        "id": f"sim-{cols['minute'][i]}-{cols['n'][i]}",
        "timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z",
        "model": cat.MODEL_NAMES[model],
        "resolved_model": cat.ALL_MODELS[model].resolved_at(int(cols["ts"][i])),
        "endpoint": cat.ENDPOINTS[cols["endpoint"][i]],
        "api_key_id": cat.KEY_IDS[cols["key"][i]],
        "project": cat.PROJECTS[cols["project"][i]],
        "status_code": status,
        "error_type": {200: None, 429: "rate_limited", 401: "unauthorized"}.get(
            status, "server_error" if status >= 500 else "invalid_request_error"
        ),
        "prompt_tokens": int(cols["prompt"][i]),
        "completion_tokens": int(cols["completion"][i]),
        "cached_tokens": int(cols["cached"][i]),
        "latency_ms": int(cols["latency_tenths"][i]) / 10,
        "stream": bool(cols["stream"][i]),
        "batch": bool(cols["batch"][i]),
        "service_tier": "priority" if cols["priority"][i] else "standard",
        "attempt": int(cols["attempt"][i]),
        "api_zone": ("global", "eu", "us")[cols["zone"][i]],
        "simulated": True,
    }
    if status == 429:
        rec["spend_limit_reached"] = bool(cols["capped"][i])
    if rec["endpoint"] == "/v1/ocr":
        rec["pages"] = int(cols["pages"][i])
    if cols["annotated"][i]:
        rec["annotated_pages"] = int(cols["annotated"][i])
    if cols["audio_tenths"][i]:
        rec["audio_seconds"] = int(cols["audio_tenths"][i]) / 10
    if rec["endpoint"] == "/v1/audio/speech":
        rec["characters"] = int(cols["characters"][i])
    if not cols["billable"][i]:
        rec["billable"] = False
    return rec


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["2026-11-24T02:00Z", "2026-11-24T14:00Z", "2026-11-22T15:00Z"])
def test_vectorised_encoder_matches_a_naive_one(moment: str) -> None:
    """A night, a busy weekday afternoon, a Sunday."""
    cols = generate_hour(SEED, int(datetime.fromisoformat(moment).timestamp()) // 3600, 20.0)
    blob, starts = encode_hour(cols)
    parsed = orjson.loads(b"[" + blob[:-1] + b"]")
    assert len(parsed) == len(cols["ts"]) == len(starts) - 1 > 0
    for i, rec in enumerate(parsed):
        rec.pop("ratelimit", None)
        assert rec == _naive_record(cols, i)
        assert orjson.loads(blob[starts[i] : starts[i + 1] - 1])["timestamp"] == parsed[i]["timestamp"]


@pytest.mark.slow
def test_bad_every_spoils_one_in_n_in_all_four_ways() -> None:
    start, end = datetime(2026, 11, 23, 9, tzinfo=UTC), datetime(2026, 11, 23, 17, tzinfo=UTC)
    clean = generate_records(4, start, end, rate=10.0)
    spoiled = generate_records(4, start, end, rate=10.0, bad_every=50)
    assert len(clean) == len(spoiled)
    reasons: Counter[str] = Counter()
    for good, bad in zip(clean, spoiled, strict=True):
        minute, n = map(int, good["id"].split("-")[1:])
        kind = bad_kind(minute, n, 50)
        if kind is None:
            assert bad == good
            continue
        reasons[kind] += 1
        with pytest.raises(BadRecord):
            validate(bad)
    assert set(reasons) == set(BAD_KINDS)
    assert reasons.total() == pytest.approx(len(clean) / 50, rel=0.2)


@pytest.mark.slow
def test_bad_kinds_break_the_record_in_the_named_way() -> None:
    start, end = datetime(2026, 11, 23, 9, tzinfo=UTC), datetime(2026, 11, 23, 12, tzinfo=UTC)
    clean = generate_records(4, start, end, rate=10.0)
    seen = set()
    for good, bad in zip(clean, generate_records(4, start, end, rate=10.0, bad_every=7), strict=True):
        minute, n = map(int, good["id"].split("-")[1:])
        kind = bad_kind(minute, n, 7)
        seen.add(kind)
        if kind == "missing_id":
            assert bad | {"id": good["id"]} == good and "id" not in bad
        elif kind == "negative_tokens":
            assert bad["completion_tokens"] == -1 - good["completion_tokens"]
        elif kind == "wrong_type":
            assert bad["status_code"] == str(good["status_code"])
        elif kind == "bad_timestamp":
            with pytest.raises(ValueError):
                datetime.fromisoformat(bad["timestamp"])
    assert seen == {None, *BAD_KINDS}


def test_naive_datetimes_are_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="tzinfo=UTC"):
        generate_records(1, datetime(2026, 11, 1), datetime(2026, 11, 2), rate=1.0)


@pytest.mark.slow
def test_billed_units_zones_and_unbilled_calls_in_realistic_shares(month: list[dict]) -> None:
    """OCR pages, audio minutes, TTS characters and unbilled calls appear, each as documented."""
    n = len(month)
    by_endpoint = Counter(r["endpoint"] for r in month)
    assert 0.01 < by_endpoint["/v1/ocr"] / n < 0.03
    assert 0.006 < by_endpoint["/v1/audio/transcriptions"] / n < 0.02
    assert 0.003 < by_endpoint["/v1/audio/speech"] / n < 0.01
    unbilled = [r for r in month if r.get("billable") is False]
    assert 0.02 < len(unbilled) / n < 0.04
    assert {r["endpoint"] for r in unbilled} == {"/v1/files", "/v1/models", "/v1/batch/jobs", "/v1/fine_tuning/jobs"}
    ocr_ok = [r for r in month if r["endpoint"] == "/v1/ocr" and r["status_code"] == 200]
    assert all(r["pages"] >= 1 and r.get("annotated_pages", 0) in (0, r["pages"]) for r in ocr_ok)
    assert 0.15 < sum("annotated_pages" in r for r in ocr_ok) / len(ocr_ok) < 0.35
    assert all(r["pages"] == 0 for r in month if r["endpoint"] == "/v1/ocr" and r["status_code"] != 200)
    voxtral = [r for r in month if r["model"] == "voxtral-small-latest" and r["status_code"] == 200]
    assert 0.5 < sum("audio_seconds" in r for r in voxtral) / len(voxtral) < 0.7
    assert all(
        r["audio_seconds"] > 0 for r in month if r["endpoint"] == "/v1/audio/transcriptions" and r["status_code"] == 200
    )
    assert all(r["characters"] >= 1 for r in month if r["endpoint"] == "/v1/audio/speech" and r["status_code"] == 200)
    zones = Counter(r["api_zone"] for r in month)
    assert set(zones) == {"global", "eu", "us"} and zones.most_common(1)[0][0] == "global"
    assert all(r["api_zone"] == "global" for r in month if r["batch"] or r["endpoint"] == "/v1/agents/completions")


@pytest.mark.slow
def test_the_demo_shows_ocr_and_audio_spend_and_no_unbilled_call_is_unpriced(month: list[dict]) -> None:
    from collector._records import parse_records
    from ledger import PriceBook, price_rows

    table, rejected = parse_records(month)
    assert rejected == []
    rows = price_rows(table, "sim", PriceBook.load(), "USD").to_pylist()
    spend: defaultdict[str, float] = defaultdict(float)
    for r in rows:
        spend[r["endpoint"]] += r["cost"] or 0.0
    assert spend["/v1/ocr"] > 0 and spend["/v1/audio/transcriptions"] > 0 and spend["/v1/audio/speech"] > 0
    chat_audio = sum(r["cost"] for r in rows if r["audio_seconds"] and r["endpoint"] == "/v1/chat/completions")
    assert chat_audio > 0
    unbilled = [r for r in rows if r["billable"] is False]
    assert unbilled and all(r["cost"] == 0.0 for r in unbilled)
    unpriced = {r["model"] for r in rows if r["cost"] is None}
    assert unpriced == {FINE_TUNED}  # only the fine-tune has no price; every unit model is priced


def test_an_hour_with_no_request_is_empty_not_an_error():
    """A quiet hour (a low rate at night) drew no request, and the retries' join raised IndexError (fails on the
    previous code); it is an hour of empty columns."""
    from simulator._generate import generate_hour

    quiet = [generate_hour(seed=3, hour=hour, rate=1e-6) for hour in range(493_000, 493_024)]
    assert all(len(cols["ts"]) == 0 for cols in quiet)
