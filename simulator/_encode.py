"""Turn an hour's columns into contract-v1 records, and spoil every Nth one on request.

Why spoil deterministically: the collector's quarantine tests need known bad records at
known positions, and a restarted simulator must spoil the same ones. A record's position
(its epoch minute and index in that minute) decides, so no counter spans runs.

Example:
    >>> bad_kind(minute=29_500_000, n=3, every=10)
    'negative_tokens'
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _catalog as cat
from ._generate import LIMIT_REQUESTS, LIMIT_TOKENS, Columns

BAD_KINDS = ("missing_id", "negative_tokens", "bad_timestamp", "wrong_type")
ERROR_TYPES = {400: "invalid_request_error", 401: "unauthorized", 422: "invalid_request_error",
               429: "rate_limited", 500: "server_error", 502: "server_error", 503: "server_error"}  # fmt: skip
_STRIDE = 1_000_003
_EMBEDDINGS = cat.ENDPOINTS.index(cat.EMBEDDINGS)


def bad_kind(minute: int, n: int, every: int) -> str | None:
    """Which way the record at (minute, n) is spoiled, or None; one in `every` is."""
    if every <= 0:
        return None
    position = minute * _STRIDE + n
    if position % every:
        return None
    return BAD_KINDS[(position // every) % len(BAD_KINDS)]


def _spoil(rec: dict[str, Any], kind: str) -> None:
    if kind == "missing_id":
        del rec["id"]
    elif kind == "negative_tokens":
        rec["completion_tokens"] = -1 - rec["completion_tokens"]
    elif kind == "bad_timestamp":
        rec["timestamp"] = rec["timestamp"].replace("T", " at ")[:-1] + " Paris time"
    else:
        rec["status_code"] = str(rec["status_code"])


def _ratelimit(tokens: int, requests: int) -> dict[str, int]:
    return {"limit-tokens-minute": LIMIT_TOKENS, "remaining-tokens-minute": tokens,
            "limit-req-minute": LIMIT_REQUESTS, "remaining-req-minute": requests}  # fmt: skip


def _record(row: tuple[Any, ...], resolved: tuple[str, ...]) -> dict[str, Any]:
    stamp, minute, n, key, project, model, endpoint, status, capped = row[:9]
    prompt, completion, cached, latency, stream, batch, priority, attempt, tok, req = row[9:]
    rec: dict[str, Any] = {
        "id": f"sim-{minute}-{n}", "timestamp": stamp + "Z", "model": cat.MODEL_NAMES[model],
        "resolved_model": resolved[model], "endpoint": cat.ENDPOINTS[endpoint],
        "api_key_id": cat.KEY_IDS[key], "project": cat.PROJECTS[project],
        "status_code": status, "error_type": ERROR_TYPES.get(status),
        "prompt_tokens": prompt, "completion_tokens": completion, "cached_tokens": cached,
        "latency_ms": latency, "stream": stream, "batch": batch,
        "service_tier": "priority" if priority else "standard", "attempt": attempt,
    }  # fmt: skip
    if status == 429:
        rec["spend_limit_reached"] = capped
    elif status == 200 and endpoint != _EMBEDDINGS and not batch:
        rec["ratelimit"] = _ratelimit(tok, req)
    rec["simulated"] = True
    return rec


_ORDER = ("minute", "n", "key", "project", "model", "endpoint", "status", "capped", "prompt",
          "completion", "cached", "latency", "stream", "batch", "priority", "attempt",
          "rl_tokens", "rl_requests")  # fmt: skip


def to_records(cols: Columns, bad_every: int = 0) -> list[dict[str, Any]]:
    """The contract-v1 records of one generated hour, in cursor order."""
    if not len(cols["ts"]):
        return []
    resolved = tuple(m.resolved_at(int(cols["ts"][0])) for m in cat.MODELS)
    stamps = np.datetime_as_string(cols["ts"].astype("datetime64[ms]"), unit="ms").tolist()
    rows = zip(stamps, *(cols[name].tolist() for name in _ORDER), strict=True)
    records = [_record(row, resolved) for row in rows]
    if bad_every > 0:
        for rec, minute, n in zip(records, cols["minute"].tolist(), cols["n"].tolist(), strict=True):
            kind = bad_kind(minute, n, bad_every)
            if kind:
                _spoil(rec, kind)
    return records
