"""What is billed per page, per audio minute, per character, or not at all, in one hour.

Why a random stream of its own (seeded by seed and hour, like the rest): the token traffic of
an hour stays exactly what it was, and these calls are added beside it. Shares of all calls:
OCR 2% (a few pages each, a quarter with annotations, some in batch), transcription 1.2%
(minutes of audio), text to speech 0.6% (about a thousand characters), calls Mistral does not
bill (files, models, batch-job status, fine-tuning jobs) 3%; and 60% of voxtral chat calls
carry audio. Zones follow the key (`_catalog.KEY_ZONE`).

Example:
    >>> from simulator._generate import generate_hour
    >>> cols = generate_hour(seed=1, hour=493_000, rate=6.0)
    >>> int(cols["pages"][cols["model"] == cat.OCR_MODEL].sum()) > 0     # model codes index cat.MODEL_NAMES
    True
"""

from __future__ import annotations

import numpy as np

from . import _catalog as cat
from ._incidents import HOUR_MS, Incidents, assign_status
from ._profile import load

Columns = dict[str, np.ndarray]

STREAM = 0x0417
SHARES = ((cat.OCR_MODEL, 0.02), (cat.TRANSCRIBE_MODEL, 0.012), (cat.TTS_MODEL, 0.006), (cat.UNBILLED_MODEL, 0.03))
_FIRST = cat.OCR_MODEL
ENDPOINT = np.array([cat.ENDPOINTS.index(e) for e in (cat.OCR, cat.TRANSCRIPTIONS, cat.SPEECH, cat.UNBILLED[0])])
"""By unit model (index - OCR_MODEL); an unbilled call then picks one of the UNBILLED endpoints."""
HOST = np.array([cat.MODEL_NAMES.index("pixtral-large-latest"), cat.VOXTRAL, cat.VOXTRAL, 0])
"""Whose outage windows a unit call shares (the incidents are drawn per token model)."""
OCR_BATCH_SHARE = 0.15
ANNOTATED_SHARE = 0.25
CHAT_AUDIO_SHARE = 0.6
MEDIAN_PAGES, MEDIAN_AUDIO_S, MEDIAN_CHAT_AUDIO_S, MEDIAN_CHARACTERS = 6.0, 150.0, 45.0, 900.0
UNIT_COLUMNS = ("pages", "annotated", "audio_tenths", "characters", "zone", "billable")
_LATENCY = np.array([m.latency_ms for m in cat.ALL_MODELS])


def _endpoints(rng: np.random.Generator, model: np.ndarray) -> np.ndarray:
    unbilled = ENDPOINT[-1] + rng.integers(0, len(cat.UNBILLED), len(model))
    endpoints: np.ndarray = np.where(model == cat.UNBILLED_MODEL, unbilled, ENDPOINT[model - _FIRST])
    return endpoints


def _calls(rng: np.random.Generator, inc: Incidents, hour: int, rate: float) -> Columns:
    """The hour's unit calls, with their outcome, in the token traffic's columns."""
    mean = 60.0 * rate * load(hour)
    model = np.concatenate([np.full(rng.poisson(mean * share), index) for index, share in SHARES]).astype(np.int64)
    n = len(model)
    ts = hour * HOUR_MS + rng.integers(0, HOUR_MS, n)
    key = rng.choice(len(cat.KEYS), n, p=cat.KEY_WEIGHTS)
    ocr = model == cat.OCR_MODEL
    batch = ocr & (rng.random(n) < OCR_BATCH_SHARE)
    status, capped = assign_status(rng, inc, ts, key, HOST[model - _FIRST])
    ok = status == 200
    pages = np.where(ocr, np.maximum(1, (MEDIAN_PAGES * rng.lognormal(0, 1.0, n)).astype(np.int64)), 0) * ok
    audio = (MEDIAN_AUDIO_S * 10 * rng.lognormal(0, 0.9, n)).astype(np.int64) * ok
    characters = np.maximum(1, (MEDIAN_CHARACTERS * rng.lognormal(0, 0.8, n)).astype(np.int64)) * ok
    latency = _LATENCY[model] * rng.lognormal(0, 0.6, n)
    zero = np.zeros(n, dtype=np.int64)
    return {
        "ts": ts,
        "key": key,
        "project": cat.KEY_PROJECT[key],
        "model": model,
        "endpoint": _endpoints(rng, model),
        "batch": batch,
        "stream": np.zeros(n, dtype=bool),
        "priority": np.zeros(n, dtype=bool),
        "attempt": np.ones(n, dtype=np.int64),
        "prompt": zero,
        "completion": zero,
        "cached": zero,
        "status": status,
        "capped": capped,
        "rl_tokens": zero,
        "rl_requests": zero,
        "latency_tenths": np.rint(10 * np.where(batch, 25 * 60_000.0, latency)).astype(np.int64),
        "pages": pages,
        "annotated": pages * (rng.random(n) < ANNOTATED_SHARE),
        "audio_tenths": audio * (model == cat.TRANSCRIBE_MODEL),
        "characters": characters * (model == cat.TTS_MODEL),
        "billable": model != cat.UNBILLED_MODEL,
    }


def _chat_audio(rng: np.random.Generator, cols: Columns) -> Columns:
    """Zero quantities on token calls, and audio on most successful voxtral chat calls."""
    n = len(cols["ts"])
    zero = np.zeros(n, dtype=np.int64)
    speaks = (cols["model"] == cat.VOXTRAL) & (cols["status"] == 200) & (rng.random(n) < CHAT_AUDIO_SHARE)
    audio = (MEDIAN_CHAT_AUDIO_S * 10 * rng.lognormal(0, 0.8, n)).astype(np.int64) * speaks
    return cols | {
        "pages": zero,
        "annotated": zero,
        "audio_tenths": audio,
        "characters": zero,
        "billable": np.ones(n, dtype=bool),
    }


def with_units(seed: int, hour: int, rate: float, inc: Incidents, cols: Columns) -> Columns:
    """Token traffic plus the hour's unit calls, sorted by time, each with its zone."""
    rng = np.random.default_rng([seed, hour, STREAM])
    parts = [_chat_audio(rng, cols), _calls(rng, inc, hour, rate)]
    merged = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    merged = {name: values[np.argsort(merged["ts"], kind="stable")] for name, values in merged.items()}
    regional_ok = ~merged["batch"] & (merged["endpoint"] != cat.ENDPOINTS.index(cat.AGENTS))
    merged["zone"] = np.where(regional_ok, cat.KEY_ZONE[merged["key"]], 0)
    return merged
