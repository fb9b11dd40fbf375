"""A seeded synthetic ledger in the real schema, for tests and benchmarks.

Why synthetic and seeded: dashboard and alert tests need a ledger whose every figure can be
recomputed independently (plain pyarrow over the same files), and the benchmark needs 10M+
rows without a provider. Same seed, same rows, byte for byte.

The workload has a daily and weekly rhythm (weekends are quieter), a mix of priced models,
`-latest` aliases and one unpriced fine-tune, 429s from throttling and from the spend cap,
5xx errors, client retries, rate-limit headers on the gateway source, batch requests and a
few aggregated rows from a provider usage API.

Example:
    >>> files = build_ledger(Path("data"), n_records=5_000, days=14, seed=7, end=datetime(2026, 11, 25, tzinfo=UTC))
    >>> len(files), files[0].parent.name, files[-1].parent.name
    (14, 'date=2026-11-12', 'date=2026-11-25')
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ledger.pricing.prices import PriceBook
from ledger.storage.schema import SCHEMA
from ledger.storage.store import write_rows

MODELS = (
    "mistral-small-latest",
    "mistral-large-latest",
    "codestral-latest",
    "ministral-8b-2512",
    "mistral-embed",
    "acme-finetune-1",
)
MODEL_WEIGHTS = (0.42, 0.18, 0.16, 0.13, 0.09, 0.02)
UNPRICED_MODEL = "acme-finetune-1"
PROJECTS = ("search", "support-bot", "code-assist", "analytics", "internal-tools")
_KEY_TAILS = ("a1f3", "b7c2", "c9d0", "d4e8", "e2f6", "f0a9", "a8b1", "b3c5")
API_KEYS = tuple(f"key_{i:02d}{tail}" for i, tail in enumerate(_KEY_TAILS))
SOURCES = ("simulator", "gateway")
AGGREGATED_SOURCE = "usage_api"
_HOUR_SHAPE = np.array([2, 1, 1, 1, 1, 2, 4, 7, 10, 12, 12, 11, 10, 11, 12, 12, 11, 9, 7, 5, 4, 3, 3, 2], float)
_ERRORS = (  # status, error_type, probability
    (429, "rate_limited", 0.030),
    (429, "spend_limit_reached", 0.004),
    (500, "server_error", 0.006),
    (503, "service_unavailable", 0.004),
    (400, "invalid_request_error", 0.005),
)


def build_ledger(
    data_dir: Path,
    n_records: int = 100_000,
    days: int = 30,
    seed: int = 0,
    end: datetime | None = None,
    aggregated_per_day: int = 4,
) -> list[Path]:
    """Write about `n_records` per-request rows over the `days` UTC days ending at `end`.

    `end` defaults to now (UTC); rows are never later than it. Each UTC day becomes one file,
    written in chunks so 100M rows fit in memory. Returns the files written.
    """
    if n_records < 0 or days < 1:
        raise ValueError(f"build_ledger: n_records={n_records}, days={days}; use n_records >= 0 and days >= 1")
    end = (end or datetime.now(UTC)).astimezone(UTC)
    first = end.date() - timedelta(days=days - 1)
    per_day = _rows_per_day(n_records, first, days)
    rng = np.random.default_rng(seed)
    book = PriceBook.load()
    written: list[Path] = []
    offset = 0
    for index, count in enumerate(per_day):
        day = first + timedelta(days=index)
        table = _day_table(rng, book, day, int(count), offset, end, aggregated_per_day)
        offset += int(count)
        if table.num_rows:
            written.extend(write_rows(Path(data_dir), table))
    return written


def _rows_per_day(n_records: int, first: date, days: int) -> np.ndarray:
    weights = np.array([0.45 if (first + timedelta(days=i)).weekday() >= 5 else 1.0 for i in range(days)])
    counts = np.floor(n_records * weights / weights.sum()).astype(np.int64)
    counts[-1] += n_records - counts.sum()
    return counts


def _day_table(
    rng: np.random.Generator, book: PriceBook, day: date, n: int, offset: int, end: datetime, n_aggregated: int
) -> pa.Table:
    start_us = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1_000_000)
    limit_us = int(end.timestamp() * 1_000_000)
    hours = rng.choice(24, size=n, p=_HOUR_SHAPE / _HOUR_SHAPE.sum())
    ts = start_us + hours * 3_600_000_000 + rng.integers(0, 3_600_000_000, size=n)
    keep = ts <= limit_us
    columns = _request_columns(rng, n, offset)
    table = _to_table(columns, ts).filter(pa.array(keep))
    if n_aggregated and start_us <= limit_us:
        last_us = min(limit_us, start_us + 86_399_000_000)
        table = pa.concat_tables([table, _aggregated_rows(rng, day, n_aggregated, last_us)])
    priced_model, cost = book.cost_columns(table, "USD")
    table = table.set_column(table.schema.get_field_index("priced_model"), "priced_model", priced_model)
    table = table.set_column(table.schema.get_field_index("cost"), "cost", cost)
    versions = pa.array([book.version] * table.num_rows, pa.string())
    table = table.set_column(table.schema.get_field_index("price_version"), "price_version", versions)
    return table.cast(SCHEMA)


def _request_columns(rng: np.random.Generator, n: int, offset: int) -> dict[str, np.ndarray]:
    model = np.array(MODELS, dtype=object)[rng.choice(len(MODELS), size=n, p=MODEL_WEIGHTS)]
    key_index = rng.integers(0, len(API_KEYS), size=n)
    status, error_type = _statuses(rng, n)
    ok = status < 400
    prompt = np.where(ok | (status >= 500), rng.lognormal(6.5, 1.0, size=n).astype(np.int64), 0)
    embed, code, large = model == "mistral-embed", model == "codestral-latest", model == "mistral-large-latest"
    completion = np.where(ok & ~embed, rng.lognormal(5.5, 0.9, size=n).astype(np.int64), 0)
    source = np.array(SOURCES, dtype=object)[(rng.random(n) < 0.3).astype(int)]
    gateway = source == "gateway"
    rl_limit = np.where(gateway, 2_000_000, 0)
    return {
        "id": np.arange(offset, offset + n),
        "source": source,
        "model": model,
        "project": np.array((*PROJECTS, *PROJECTS[:2], None), dtype=object)[key_index],
        "api_key_id": np.array(API_KEYS, dtype=object)[key_index],
        "endpoint": np.where(embed, "/v1/embeddings", np.where(code, "/v1/fim/completions", "/v1/chat/completions")),
        "status_code": status,
        "error_type": error_type,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "cached_tokens": (prompt * rng.choice([0.0, 0.0, 0.3, 0.6], size=n)).astype(np.int64),
        "latency_ms": np.where(rng.random(n) < 0.01, np.nan, rng.lognormal(6.3, 0.6, size=n) * np.where(large, 2, 1)),
        "stream": rng.random(n) < 0.4,
        "batch": rng.random(n) < 0.02,
        "attempt": np.where(rng.random(n) < 0.05, rng.integers(2, 4, size=n), 1),
        "spend_limit_reached": error_type == "spend_limit_reached",
        "gateway": gateway,
        "rl_limit": rl_limit,
        "rl_remaining": (rl_limit * (1 - rng.beta(2, 9, size=n))).astype(np.int64),
    }


def _statuses(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    draw = rng.random(n)
    status = np.full(n, 200, dtype=np.int32)
    error_type = np.full(n, None, dtype=object)
    floor = 0.0
    for code, kind, p in _ERRORS:
        hit = (draw >= floor) & (draw < floor + p)
        status[hit], error_type[hit] = code, kind
        floor += p
    return status, error_type


def _to_table(c: dict[str, np.ndarray], ts: np.ndarray) -> pa.Table:
    n = len(ts)
    gateway = pa.array(c["gateway"])
    ts_array = pa.array(ts, pa.timestamp("us", tz="UTC"))
    ingested = pa.array(ts + 30_000_000, pa.timestamp("us", tz="UTC"))
    data = {
        "source": pa.array(c["source"], pa.string()),
        "id": pc.cast(pa.array(c["id"]), pa.string()),
        "timestamp": ts_array,
        "model": pa.array(c["model"], pa.string()),
        "project": pa.array(c["project"], pa.string()),
        "api_key_id": pa.array(c["api_key_id"], pa.string()),
        "endpoint": pa.array(c["endpoint"], pa.string()),
        "status_code": pa.array(c["status_code"], pa.int32()),
        "error_type": pa.array(c["error_type"], pa.string()),
        "prompt_tokens": pa.array(c["prompt_tokens"], pa.int64()),
        "completion_tokens": pa.array(c["completion_tokens"], pa.int64()),
        "cached_tokens": pa.array(c["cached_tokens"], pa.int64()),
        "latency_ms": pa.array(c["latency_ms"], pa.float64(), from_pandas=True),
        "stream": pa.array(c["stream"]),
        "batch": pa.array(c["batch"]),
        "service_tier": pa.array(np.full(n, "standard", dtype=object), pa.string()),
        "attempt": pa.array(c["attempt"], pa.int32()),
        "spend_limit_reached": pa.array(c["spend_limit_reached"]),
        "request_count": pa.array(np.ones(n, dtype=np.int64)),
        "aggregated": pa.array(np.zeros(n, dtype=bool)),
        "simulated": pc.invert(gateway),
        "ingested_at": ingested,
    }
    for name, values in (("tokens", c["rl_limit"]), ("req", c["rl_limit"] // 1000)):
        data[f"rl_limit_{name}_minute"] = pa.array(values, pa.int64(), mask=~c["gateway"])
    data["rl_remaining_tokens_minute"] = pa.array(c["rl_remaining"], pa.int64(), mask=~c["gateway"])
    data["rl_remaining_req_minute"] = pa.array(c["rl_remaining"] // 1000, pa.int64(), mask=~c["gateway"])
    return _complete(data, n)


def _aggregated_rows(rng: np.random.Generator, day: date, n: int, ts_us: int) -> pa.Table:
    counts = rng.integers(10, 60, size=n)
    data = {
        "source": pa.array([AGGREGATED_SOURCE] * n, pa.string()),
        "id": pa.array([f"agg-{day.isoformat()}-{i}" for i in range(n)], pa.string()),
        "timestamp": pa.array(np.full(n, ts_us), pa.timestamp("us", tz="UTC")),
        "model": pa.array([MODELS[i % 4] for i in range(n)], pa.string()),
        "project": pa.array([PROJECTS[i % len(PROJECTS)] for i in range(n)], pa.string()),
        "endpoint": pa.array(["/v1/chat/completions"] * n, pa.string()),
        "status_code": pa.array(np.full(n, 200), pa.int32()),
        "prompt_tokens": pa.array(counts * 700, pa.int64()),
        "completion_tokens": pa.array(counts * 250, pa.int64()),
        "cached_tokens": pa.array(np.zeros(n, dtype=np.int64)),
        "request_count": pa.array(counts, pa.int64()),
        "aggregated": pa.array(np.ones(n, dtype=bool)),
        "simulated": pa.array(np.zeros(n, dtype=bool)),
        "ingested_at": pa.array(np.full(n, ts_us), pa.timestamp("us", tz="UTC")),
    }
    return _complete(data, n)


def _complete(data: dict[str, pa.Array], n: int) -> pa.Table:
    """Fill the columns not given (nulls; USD currency) and order them as SCHEMA."""
    data.setdefault("currency", pa.array(["USD"] * n, pa.string()))
    arrays = [data.get(f.name, pa.nulls(n, f.type)) for f in SCHEMA]
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def priced_batch(start: int, n: int, day: str = "2026-11-01", source: str = "s") -> pa.Table:
    """`n` contract records r<start>.. on one UTC day, validated and priced into SCHEMA rows."""
    from collector._records import parse_records
    from ledger.storage.ingest import price_rows

    records = [
        {
            "id": f"r{i}",
            "timestamp": f"{day}T{i % 24:02d}:00:00Z",
            "model": "mistral-small-2603",
            "status_code": 200,
            "prompt_tokens": 10,
            "completion_tokens": 1,
        }
        for i in range(start, start + n)
    ]
    rows, _ = parse_records(records)
    return price_rows(rows, source, PriceBook.load(), "USD")
