"""One hour of simulated traffic as numpy columns, a pure function of (seed, hour, rate).

Why per hour and vectorised: the collector backfills a million records at 100k/s, so an
hour (a few thousand requests) is drawn in a handful of numpy calls, and because the hour
alone seeds the generator, a restarted simulator regenerates exactly the same records.

Example:
    >>> cols = generate_hour(seed=1, hour=493_000, rate=6.0)
    >>> bool((np.diff(cols["ts"]) >= 0).all())
    True
"""

from __future__ import annotations

import numpy as np

from . import _catalog as cat
from ._incidents import HOUR_MS, MINUTE_MS, Incidents, Runaway, assign_status, draw_incidents
from ._profile import SPIKE_FACTOR, is_spike_day, load
from ._units import with_units

Columns = dict[str, np.ndarray]

RETRY_SHARE = 0.7
MAX_ATTEMPT = 4
CACHED_SHARE = 0.35
STREAM_SHARE = 0.4
PRIORITY_SHARE = 0.04
BATCH_SHARE = np.array([0.0, 0.0, 0.03, 0.3, 0.0])  # by project
AGENT_SHARE = 0.3
FIM_SHARE = 0.8
SPIKE_KEY = 4  # key_9e0f4c88, data-pipeline
LIMIT_TOKENS = 2_000_000
LIMIT_REQUESTS = 600
ERROR_LATENCY_MS = {400: 60.0, 401: 25.0, 422: 70.0, 429: 30.0, 500: 900.0, 502: 5000.0, 503: 180.0}
BATCH_LATENCY_MS = 25 * 60_000.0
_MEDIAN_LATENCY = np.array([m.latency_ms for m in cat.ALL_MODELS])
_MEDIAN_PROMPT = np.array([m.prompt for m in cat.ALL_MODELS])
_MEDIAN_COMPLETION = np.array([m.completion for m in cat.ALL_MODELS])


def _pick(rng: np.random.Generator, cdf: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw, one row of `cdf` per request."""
    picked: np.ndarray = np.minimum((rng.random(len(cdf))[:, None] > cdf).sum(axis=1), cdf.shape[1] - 1)
    return picked


def _who(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Key, project and model of `n` requests: each key mostly serves its own project."""
    key = rng.choice(len(cat.KEYS), n, p=cat.KEY_WEIGHTS)
    other = rng.integers(0, len(cat.PROJECTS), n)
    project = np.where(rng.random(n) < cat.MAIN_PROJECT_SHARE, cat.KEY_PROJECT[key], other)
    return key, project, _pick(rng, cat.MODEL_CDF[project])


def _endpoint(rng: np.random.Generator, project: np.ndarray, model: np.ndarray) -> np.ndarray:
    draw = rng.random(len(model))
    endpoint = np.zeros(len(model), dtype=np.int64)
    endpoint[(model == cat.CODESTRAL) & (draw < FIM_SHARE)] = cat.ENDPOINTS.index(cat.FIM)
    agentic = (project == cat.SUPPORT) & ((model == cat.MEDIUM) | (model == cat.LARGE))
    endpoint[agentic & (draw < AGENT_SHARE)] = cat.ENDPOINTS.index(cat.AGENTS)
    endpoint[model == cat.EMBED] = cat.ENDPOINTS.index(cat.EMBEDDINGS)
    return endpoint


def _tokens(rng: np.random.Generator, model: np.ndarray, endpoint: np.ndarray) -> Columns:
    """Long-tailed prompt and completion sizes; cached prefixes in whole 64-token blocks."""
    n = len(model)
    prompt = np.maximum(1, (_MEDIAN_PROMPT[model] * rng.lognormal(0, 0.9, n)).astype(np.int64))
    completion = (_MEDIAN_COMPLETION[model] * rng.lognormal(0, 0.8, n)).astype(np.int64)
    chat = endpoint != cat.ENDPOINTS.index(cat.EMBEDDINGS)
    share = rng.uniform(0.3, 0.95, n) * (chat & (rng.random(n) < CACHED_SHARE))
    cached = (prompt * share).astype(np.int64) // 64 * 64
    return {"prompt": prompt, "completion": completion, "cached": cached}


def _requests(rng: np.random.Generator, ts: np.ndarray, who: tuple[np.ndarray, ...]) -> Columns:
    """First attempts at `ts` by (key, project, model), with everything but the outcome."""
    key, project, model = who
    n = len(ts)
    endpoint = _endpoint(rng, project, model)
    batch = (rng.random(n) < BATCH_SHARE[project]) & (endpoint != cat.ENDPOINTS.index(cat.FIM))
    interactive = ~batch & (endpoint != cat.ENDPOINTS.index(cat.EMBEDDINGS))
    cols = {"ts": ts, "key": key, "project": project, "model": model, "endpoint": endpoint}
    cols |= {"batch": batch, "stream": interactive & (rng.random(n) < STREAM_SHARE)}
    cols["priority"] = (project == cat.SUPPORT) & ~batch & (rng.random(n) < PRIORITY_SHARE)
    cols["attempt"] = np.ones(n, dtype=np.int64)
    return cols | _tokens(rng, model, endpoint)


def _first_attempts(rng: np.random.Generator, seed: int, hour: int, rate: float) -> Columns:
    mean = 60.0 * rate * load(hour)
    n = rng.poisson(mean)
    spike = rng.poisson(mean * 0.02 * (SPIKE_FACTOR - 1)) if is_spike_day(seed, hour) else 0
    ts = hour * HOUR_MS + rng.integers(0, HOUR_MS, n + spike)
    key, project, model = _who(rng, n)
    key = np.concatenate([key, np.full(spike, SPIKE_KEY)])
    project = np.concatenate([project, np.full(spike, cat.PIPELINE)])
    model = np.concatenate([model, np.full(spike, cat.MEDIUM)])
    return _requests(rng, ts, (key, project, model))


RUNAWAY_STREAM = 20
"""The runaway's requests are drawn from their own generator, so the hour's usual ones stay as they were."""


def _runaway(seed: int, hour: int, rate: float, runaway: Runaway) -> Columns | None:
    """The extra first attempts of a runaway key in this hour: (factor - 1) x its usual rate."""
    window = runaway.overlap(hour)
    if window is None:
        return None
    rng = np.random.default_rng([seed, hour, RUNAWAY_STREAM])
    share = (window[1] - window[0]) / HOUR_MS
    n = rng.poisson(60.0 * rate * load(hour) * cat.KEY_WEIGHTS[runaway.key] * (runaway.factor - 1) * share)
    key = np.full(n, runaway.key)
    other = rng.integers(0, len(cat.PROJECTS), n)
    project = np.where(rng.random(n) < cat.MAIN_PROJECT_SHARE, cat.KEY_PROJECT[key], other)
    return _requests(rng, rng.integers(window[0], window[1], n), (key, project, _pick(rng, cat.MODEL_CDF[project])))


def _take(cols: Columns, mask: np.ndarray) -> Columns:
    return {name: values[mask] for name, values in cols.items()}


def _join(parts: list[Columns]) -> Columns:
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def _with_retries(rng: np.random.Generator, inc: Incidents, cols: Columns, end_ms: int) -> Columns:
    """Add the client's retries after 429s and 5xx, backing off 2^attempt seconds or so."""
    parts: list[Columns] = []
    current = cols
    while len(current["ts"]) or not parts:  # an hour with no request still has its (empty) columns
        status, capped = assign_status(rng, inc, current["ts"], current["key"], current["model"])
        parts.append(current | {"status": status, "capped": capped})
        retry = (status == 429) | (status >= 500)
        retry &= ~current["batch"] & (current["attempt"] < MAX_ATTEMPT)
        retry &= rng.random(len(status)) < RETRY_SHARE
        current = _take(current, retry)
        backoff = 1000.0 * 2.0 ** current["attempt"] * rng.uniform(0.5, 2.0, len(current["ts"]))
        current["ts"] = current["ts"] + backoff.astype(np.int64)
        current["attempt"] = current["attempt"] + 1
        current = _take(current, current["ts"] < end_ms)
    return _join(parts)


def _outcome(rng: np.random.Generator, cols: Columns) -> None:
    """Zero the tokens a failed call never used and draw every call's latency."""
    status = cols["status"]
    ok = status == 200
    cols["completion"] = np.where(ok, cols["completion"], 0)
    cols["cached"] = np.where(ok, cols["cached"], 0)
    cols["prompt"] = np.where((status == 429) | (status == 401), 0, cols["prompt"])
    median = _MEDIAN_LATENCY[cols["model"]] * (1 + 0.2 * cols["stream"])
    median = np.where(cols["batch"], BATCH_LATENCY_MS, median)
    for code, error_ms in ERROR_LATENCY_MS.items():
        median = np.where(status == code, error_ms, median)
    cols["latency_tenths"] = np.rint(10 * median * rng.lognormal(0, 0.75, len(status))).astype(np.int64)


def _ratelimit(rng: np.random.Generator, inc: Incidents, cols: Columns) -> None:
    """Remaining per-key budget this minute; near zero around a key's throttling burst."""
    order = np.lexsort((cols["ts"], cols["key"]))
    group = cols["key"][order] * 10**8 + cols["ts"][order] // MINUTE_MS
    first = np.r_[True, group[1:] != group[:-1]]
    used = np.cumsum(cols["prompt"][order] + cols["completion"][order])
    start = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
    tokens, requests = np.empty_like(used), np.empty_like(used)
    tokens[order] = used - used[start] + (cols["prompt"] + cols["completion"])[order][start]
    requests[order] = np.arange(len(order)) - start + 1
    window = inc.throttle[cols["key"]]
    near = (cols["ts"] >= window[:, 0] - 2 * MINUTE_MS) & (cols["ts"] < window[:, 1])
    near &= window[:, 1] > window[:, 0]
    squeeze = rng.uniform(0.95, 1.0, len(near))
    cols["rl_tokens"] = np.where(
        near, (LIMIT_TOKENS * (1 - squeeze)).astype(np.int64), np.maximum(0, LIMIT_TOKENS - tokens)
    )
    cols["rl_requests"] = np.where(
        near, (LIMIT_REQUESTS * (1 - squeeze)).astype(np.int64), np.maximum(0, LIMIT_REQUESTS - requests)
    )


def generate_hour(seed: int, hour: int, rate: float, runaway: Runaway | None = None) -> Columns:
    """Every request of absolute hour `hour`, sorted by time, with `minute` and `n` positions."""
    rng = np.random.default_rng([seed, hour])
    inc = draw_incidents(rng, seed, hour, load(hour))
    attempts = _first_attempts(rng, seed, hour, rate)
    extra = _runaway(seed, hour, rate, runaway) if runaway is not None else None
    if extra is not None:
        attempts = _join([attempts, extra])
    cols = _with_retries(rng, inc, attempts, (hour + 1) * HOUR_MS)
    cols = _take(cols, np.argsort(cols["ts"], kind="stable"))
    _outcome(rng, cols)
    _ratelimit(rng, inc, cols)
    cols = with_units(seed, hour, rate, inc, cols)
    minute = cols["ts"] // MINUTE_MS
    first = np.searchsorted(minute, minute, side="left")
    return cols | {"minute": minute, "n": np.arange(len(minute)) - first}
