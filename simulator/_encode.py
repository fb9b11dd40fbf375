"""Turn an hour's columns into contract-v1 JSON records, spoiling one in N on request.

Why spoil by position: the collector's quarantine tests need known bad records, and a
restarted simulator must spoil the same ones, so a record's position (epoch minute, index in
that minute) decides, never a counter that would reset with the process.

Example:
    >>> [bad_kind(minute=29_500_000, n=n, every=10) for n in (0, 3, 10)]
    ['missing_id', None, 'negative_tokens']
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import orjson

from . import _catalog as cat
from ._generate import LIMIT_REQUESTS, LIMIT_TOKENS, Columns
from ._incidents import MINUTE_MS
from ._rows import Rows

BAD_KINDS = ("missing_id", "negative_tokens", "bad_timestamp", "wrong_type")
MISSING_ID, NEGATIVE_TOKENS, BAD_TIMESTAMP, WRONG_TYPE = range(len(BAD_KINDS))
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "unauthorized",
    422: "invalid_request_error",
    429: "rate_limited",
    500: "server_error",
    502: "server_error",
    503: "server_error",
}
_STRIDE = 1_000_003
_ERROR_JSON = [b"null", *(orjson.dumps(kind) for kind in ERROR_TYPES.values())]
_ERROR_INDEX = np.zeros(600, dtype=np.int64)
_ERROR_INDEX[list(ERROR_TYPES)] = np.arange(1, len(ERROR_TYPES) + 1)
_BOOL = (b"false", b"true")
_EMBEDDINGS = cat.ENDPOINTS.index(cat.EMBEDDINGS)
_OCR, _SPEECH = cat.ENDPOINTS.index(cat.OCR), cat.ENDPOINTS.index(cat.SPEECH)
_ZONES = [b',"api_zone":' + orjson.dumps(zone) for zone in cat.ZONES]


def _json(values: tuple[str | None, ...]) -> list[bytes]:
    return [orjson.dumps(v) for v in values]


_MODELS, _ENDPOINTS, _KEYS, _PROJECTS = map(_json, (cat.MODEL_NAMES, cat.ENDPOINTS, cat.KEY_IDS, cat.PROJECTS))


def bad_kinds(minute: np.ndarray, n: np.ndarray, every: int) -> np.ndarray:
    """Per record, the index into BAD_KINDS of how it is spoiled, or -1 (one in `every` is)."""
    position = minute.astype(np.int64) * _STRIDE + n
    if every <= 0:
        return np.full(len(position), -1)
    return np.where(position % every == 0, position // every % len(BAD_KINDS), -1)


def bad_kind(minute: int, n: int, every: int) -> str | None:
    """How the record at (minute, n) is spoiled with `--bad-every every`, or None."""
    kind = int(bad_kinds(np.array([minute]), np.array([n]), every)[0])
    return BAD_KINDS[kind] if kind >= 0 else None


def _identity(rows: Rows, cols: Columns, spoil: np.ndarray) -> None:
    """`{"id":...,"timestamp":...,"model":...` up to the project."""
    hour_start = datetime.fromtimestamp(int(cols["ts"][0]) // 3_600_000 * 3600, UTC)
    prefixes = (hour_start.strftime("%Y-%m-%dT%H:").encode(), hour_start.strftime("%d/%m/%Y %Hh").encode())
    resolved = _json(tuple(m.resolved_at(int(cols["ts"][0])) for m in cat.ALL_MODELS))
    has_id = spoil != MISSING_ID
    rows.text(b"{")
    rows.text(b'"id":"sim-', has_id)
    rows.number(cols["minute"], has_id)
    rows.text(b"-", has_id)
    rows.number(cols["n"], has_id)
    rows.text(b'",', has_id)
    rows.text(b'"timestamp":"')
    rows.table(prefixes, (spoil == BAD_TIMESTAMP).astype(np.int64))
    rows.number(cols["ts"] // MINUTE_MS % 60, pad=2)
    rows.text(b":")
    rows.number(cols["ts"] // 1000 % 60, pad=2)
    rows.text(b".")
    rows.number(cols["ts"] % 1000, pad=3)
    rows.text(b'Z","model":')
    rows.table(_MODELS, cols["model"])
    rows.text(b',"resolved_model":')
    rows.table(resolved, cols["model"])
    rows.text(b',"endpoint":')
    rows.table(_ENDPOINTS, cols["endpoint"])
    rows.text(b',"api_key_id":')
    rows.table(_KEYS, cols["key"])
    rows.text(b',"project":')
    rows.table(_PROJECTS, cols["project"])


def _usage(rows: Rows, cols: Columns, spoil: np.ndarray) -> None:
    """`,"status_code":...` up to the attempt; a wrong type is a quoted status code."""
    quoted = spoil == WRONG_TYPE
    negative = spoil == NEGATIVE_TOKENS
    rows.text(b',"status_code":')
    rows.text(b'"', quoted)
    rows.number(cols["status"])
    rows.text(b'"', quoted)
    rows.text(b',"error_type":')
    rows.table(_ERROR_JSON, _ERROR_INDEX[cols["status"]])
    rows.text(b',"prompt_tokens":')
    rows.number(cols["prompt"])
    rows.text(b',"completion_tokens":')
    rows.text(b"-", negative)
    rows.number(cols["completion"] + negative)
    rows.text(b',"cached_tokens":')
    rows.number(cols["cached"])
    rows.text(b',"latency_ms":')
    rows.number(cols["latency_tenths"] // 10)
    rows.text(b".")
    rows.number(cols["latency_tenths"] % 10)
    for name in ("stream", "batch"):
        rows.text(f',"{name}":'.encode())
        rows.table(_BOOL, cols[name].astype(np.int64))
    rows.text(b',"service_tier":')
    rows.table((b'"standard"', b'"priority"'), cols["priority"].astype(np.int64))
    rows.text(b',"attempt":')
    rows.number(cols["attempt"])


def _extras(rows: Rows, cols: Columns) -> None:
    """Optional fields: the spend-cap flag on 429s, rate-limit headers on interactive successes."""
    throttled = cols["status"] == 429
    rows.text(b',"spend_limit_reached":', throttled)
    rows.table(_BOOL, cols["capped"].astype(np.int64), throttled)
    limited = (cols["status"] == 200) & (cols["endpoint"] != _EMBEDDINGS) & ~cols["batch"]
    limited &= cols["endpoint"] < len(cat.TOKEN_ENDPOINTS)
    rows.text(f',"ratelimit":{{"limit-tokens-minute":{LIMIT_TOKENS},"remaining-tokens-minute":'.encode(), limited)
    rows.number(cols["rl_tokens"], limited)
    rows.text(f',"limit-req-minute":{LIMIT_REQUESTS},"remaining-req-minute":'.encode(), limited)
    rows.number(cols["rl_requests"], limited)
    rows.text(b"}", limited)
    _quantities(rows, cols)
    rows.text(b',"simulated":true},')


def _units(cols: Columns, i: int) -> bytes:
    """One record's billed quantities as JSON members (`,"pages":3`...), for the few that have any."""
    parts = []
    if cols["endpoint"][i] == _OCR:
        parts.append(b',"pages":%d' % cols["pages"][i])
    if cols["annotated"][i]:
        parts.append(b',"annotated_pages":%d' % cols["annotated"][i])
    if cols["audio_tenths"][i]:
        parts.append(b',"audio_seconds":%d.%d' % divmod(int(cols["audio_tenths"][i]), 10))
    if cols["endpoint"][i] == _SPEECH:
        parts.append(b',"characters":%d' % cols["characters"][i])
    if not cols["billable"][i]:
        parts.append(b',"billable":false')
    return b"".join(parts)


def _quantities(rows: Rows, cols: Columns) -> None:
    """The zone on every record; billed units (OCR pages, audio, characters) and `billable: false` on
    the few records that have them, rendered one by one: as columns they would widen every row.
    """
    rows.table(_ZONES, cols["zone"])
    has = (cols["endpoint"] == _OCR) | (cols["endpoint"] == _SPEECH) | (cols["audio_tenths"] > 0) | ~cols["billable"]
    some = np.flatnonzero(has)
    if len(some):
        index = np.zeros(len(has), dtype=np.int64)
        index[some] = np.arange(1, len(some) + 1)
        rows.table([b"", *(_units(cols, int(i)) for i in some)], index)


def encode_hour(cols: Columns, bad_every: int = 0) -> tuple[bytes, np.ndarray]:
    """One hour's records as `{...},{...},` (each ends in a comma), and where each starts."""
    rows = Rows(len(cols["ts"]))
    if rows.n:
        spoil = bad_kinds(cols["minute"], cols["n"], bad_every)
        _identity(rows, cols, spoil)
        _usage(rows, cols, spoil)
        _extras(rows, cols)
    return rows.build()
