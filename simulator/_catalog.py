"""Who calls which model, through which endpoint: the fixed cast of the simulated organisation.

Why constants rather than seeded choices: the dashboards and the tests want to recognise the
same projects, keys and models whatever the seed; the seed only moves the traffic around.
Alias dates follow ledger/pricing/aliases.csv so that `resolved_model` agrees with the price book.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

CHAT = "/v1/chat/completions"
FIM = "/v1/fim/completions"
EMBEDDINGS = "/v1/embeddings"
AGENTS = "/v1/agents/completions"
OCR = "/v1/ocr"
TRANSCRIPTIONS = "/v1/audio/transcriptions"
SPEECH = "/v1/audio/speech"
UNBILLED = ("/v1/files", "/v1/models", "/v1/batch/jobs", "/v1/fine_tuning/jobs")
"""Calls Mistral does not charge for: recorded with `billable: false`."""
TOKEN_ENDPOINTS = (CHAT, FIM, EMBEDDINGS, AGENTS)
ENDPOINTS = (*TOKEN_ENDPOINTS, OCR, TRANSCRIPTIONS, SPEECH, *UNBILLED)


@dataclass(frozen=True)
class Model:
    """A model name as clients send it, with what it resolves to and how it behaves."""

    name: str
    aliases: tuple[tuple[str, str], ...]  # (ISO date from, concrete model), oldest first
    latency_ms: float  # median of a successful call
    prompt: float  # median prompt tokens
    completion: float  # median completion tokens (0: embeddings)

    def resolved_at(self, epoch_ms: int) -> str:
        """The concrete model this name pointed to at `epoch_ms` (itself if not an alias)."""
        day = datetime.fromtimestamp(epoch_ms / 1000, UTC).date().isoformat()
        current = self.name
        for since, target in self.aliases:
            if since <= day:
                current = target
        return current


FINE_TUNED = "ft:mistral-small-2603:acme:7f3a"

MODELS: tuple[Model, ...] = (
    Model(
        "mistral-small-latest",
        (("2025-06-23", "mistral-small-2506"), ("2026-03-16", "mistral-small-2603")),
        700,
        900,
        220,
    ),
    Model("mistral-small-2603", (), 700, 1200, 260),
    Model(
        "mistral-medium-latest",
        (("2025-08-12", "mistral-medium-2508"), ("2026-06-16", "mistral-medium-3-5")),
        1500,
        1600,
        380,
    ),
    Model("mistral-large-latest", (("2025-12-02", "mistral-large-2512"),), 2400, 2200, 520),
    Model("codestral-latest", (("2025-07-30", "codestral-2508"),), 300, 1400, 60),
    Model("ministral-8b-latest", (("2025-12-02", "ministral-8b-2512"),), 350, 500, 120),
    Model("magistral-medium-latest", (("2025-09-18", "magistral-medium-2509"),), 7000, 1200, 1800),
    Model("mistral-embed", (("2023-12-11", "mistral-embed-2312"),), 120, 350, 0),
    Model("devstral-latest", (("2025-12-09", "devstral-2512"),), 3200, 6000, 700),
    Model("pixtral-large-latest", (("2024-11-18", "pixtral-large-2411"),), 2600, 2800, 300),
    Model("voxtral-small-latest", (("2025-07-15", "voxtral-small-2507"),), 1800, 3000, 250),
    Model(FINE_TUNED, (), 650, 800, 180),
)
UNIT_MODELS: tuple[Model, ...] = (
    Model(
        "mistral-ocr-latest",
        (
            ("2025-03-17", "mistral-ocr-2503"),
            ("2025-05-22", "mistral-ocr-2505"),
            ("2025-12-18", "mistral-ocr-2512"),
            ("2026-06-23", "mistral-ocr-4-0"),
            ("2026-07-16", "mistral-ocr-4-1"),
        ),
        3500,
        0,
        0,
    ),
    Model("voxtral-mini-2602", (), 2500, 0, 0),
    Model("voxtral-mini-tts-2603", (), 1200, 0, 0),
    Model("unknown", (), 90, 0, 0),
)
"""Models billed per page, per audio minute, per character, or not at all (the gateway names a
call without a model `unknown`). They are drawn apart from the token mix, in `_units`."""
ALL_MODELS = MODELS + UNIT_MODELS
MODEL_NAMES = tuple(m.name for m in ALL_MODELS)
OCR_MODEL, TRANSCRIBE_MODEL, TTS_MODEL, UNBILLED_MODEL = range(len(MODELS), len(ALL_MODELS))
VOXTRAL = MODEL_NAMES.index("voxtral-small-latest")
EMBED = MODEL_NAMES.index("mistral-embed")
CODESTRAL = MODEL_NAMES.index("codestral-latest")
MEDIUM = MODEL_NAMES.index("mistral-medium-latest")
LARGE = MODEL_NAMES.index("mistral-large-latest")

PROJECTS: tuple[str | None, ...] = ("support-bot", "code-assistant", "rag-search", "data-pipeline", None)
SUPPORT, CODE, RAG, PIPELINE, UNTAGGED = range(len(PROJECTS))

# (fingerprint, share of all traffic, the project it mostly serves)
KEYS: tuple[tuple[str, float, int], ...] = (
    ("key_3f9a1c2e", 0.26, SUPPORT),
    ("key_8b41d07f", 0.06, SUPPORT),
    ("key_c2e95a13", 0.22, CODE),
    ("key_51d7be60", 0.20, RAG),
    ("key_9e0f4c88", 0.12, PIPELINE),
    ("key_a73b2d19", 0.09, UNTAGGED),
    ("key_0d6e8f25", 0.05, UNTAGGED),
)
KEY_IDS = tuple(k[0] for k in KEYS)
KEY_WEIGHTS = np.array([k[1] for k in KEYS]) / sum(k[1] for k in KEYS)
KEY_PROJECT = np.array([k[2] for k in KEYS])
ZONES = ("global", "eu", "us")
KEY_ZONE = np.array([0, 0, 0, 1, 0, 0, 2])
"""The rag-search key calls api.eu.mistral.ai, one untagged key api.us (x1.1 each); batch and
agents calls go to the global endpoint (regional endpoints do not serve them)."""
MAIN_PROJECT_SHARE = 0.93

# Rows: projects; columns: MODELS. Every row gives the fine-tuned model ~0.5%.
_MIX = np.array(
    [
        # small  s2603  medium large  codest min8b  magist embed  devstr pixtr  voxtr  ft
        [0.40, 0.05, 0.20, 0.08, 0.00, 0.17, 0.02, 0.00, 0.00, 0.03, 0.05, 0.005],
        [0.05, 0.00, 0.08, 0.04, 0.50, 0.00, 0.03, 0.05, 0.25, 0.00, 0.00, 0.005],
        [0.15, 0.10, 0.05, 0.12, 0.00, 0.03, 0.02, 0.50, 0.00, 0.03, 0.00, 0.005],
        [0.10, 0.35, 0.15, 0.05, 0.00, 0.10, 0.00, 0.10, 0.00, 0.10, 0.05, 0.005],
        [0.20, 0.05, 0.15, 0.15, 0.05, 0.05, 0.15, 0.05, 0.05, 0.05, 0.05, 0.005],
    ]
)
MODEL_CDF = np.cumsum(_MIX / _MIX.sum(axis=1, keepdims=True), axis=1)
