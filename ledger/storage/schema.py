"""The ledger's one schema: every reader and writer imports it from here.

Why one constant: the collector writes it, the dashboard and the alerts engine read it, and
parquet files written months apart must stay readable together. New columns are only ever
appended, and only as nullable, so an old file simply reads them as null.
"""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")

SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("id", pa.string(), nullable=False),
        pa.field("timestamp", TS, nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("resolved_model", pa.string()),
        pa.field("priced_model", pa.string()),
        pa.field("project", pa.string()),
        pa.field("api_key_id", pa.string()),
        pa.field("endpoint", pa.string()),
        pa.field("status_code", pa.int32(), nullable=False),
        pa.field("error_type", pa.string()),
        pa.field("prompt_tokens", pa.int64(), nullable=False),
        pa.field("completion_tokens", pa.int64(), nullable=False),
        pa.field("cached_tokens", pa.int64(), nullable=False),
        pa.field("latency_ms", pa.float64()),
        pa.field("stream", pa.bool_()),
        pa.field("batch", pa.bool_()),
        pa.field("service_tier", pa.string()),
        pa.field("attempt", pa.int32()),
        pa.field("spend_limit_reached", pa.bool_()),
        pa.field("rl_limit_tokens_minute", pa.int64()),
        pa.field("rl_remaining_tokens_minute", pa.int64()),
        pa.field("rl_limit_req_minute", pa.int64()),
        pa.field("rl_remaining_req_minute", pa.int64()),
        pa.field("request_count", pa.int64(), nullable=False),
        pa.field("aggregated", pa.bool_(), nullable=False),
        pa.field("simulated", pa.bool_(), nullable=False),
        pa.field("cost", pa.float64()),
        pa.field("currency", pa.string(), nullable=False),
        pa.field("price_version", pa.string()),
        pa.field("ingested_at", TS, nullable=False),
        pa.field("pages", pa.int64()),
        pa.field("annotated_pages", pa.int64()),
        pa.field("audio_seconds", pa.float64()),
        pa.field("characters", pa.int64()),
        pa.field("api_zone", pa.string()),
        pa.field("billable", pa.bool_()),
        pa.field("tokens_estimated", pa.bool_()),
        pa.field("agent_id", pa.string()),
    ]
)

COLUMNS: tuple[str, ...] = tuple(SCHEMA.names)

# Columns a record may carry in from its source; the rest are derived by the ledger.
DERIVED = frozenset({"priced_model", "cost", "currency", "price_version", "ingested_at"})

PARTITION = "date"
"""Hive partition key: the UTC date of `timestamp`, as `date=YYYY-MM-DD` folders."""
