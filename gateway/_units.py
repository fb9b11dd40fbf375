"""The billable units of a call beyond tokens: pages, audio seconds, characters, zone, tier, agent.

Why here: Mistral bills OCR per page (`usage_info.pages_processed`), audio per second of input
(`usage.prompt_audio_seconds`), text to speech per input character, a regional endpoint
(api.eu / api.us) and the priority tier at a premium. The record carries each quantity as the
response (or, for TTS, the request) states it, so the ledger can price it; a field the call
does not state is left out, never set to 0.

Example:
    >>> response_units({"usage_info": {"pages_processed": 3}, "model": "mistral-ocr-2505"})
    {'pages': 3}
    >>> zone_for("https://api.eu.mistral.ai")
    'eu'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

ZONES = ("global", "eu", "us")
TIERS = ("standard", "priority")
SPEECH = "/v1/audio/speech"
OCR = "/v1/ocr"
_ANNOTATIONS = ("document_annotation_format", "bbox_annotation_format")


@dataclass(frozen=True, kw_only=True)
class RequestFacts:
    """What a request body tells the record: model, stream flag, agent, TTS characters, tier asked,
    and whether an OCR call asked for annotations (its pages are then billed as annotated)."""

    model: str | None = None
    stream: bool = False
    agent_id: str | None = None
    characters: int | None = None
    standard_only: bool = False
    annotated: bool = False


NO_FACTS = RequestFacts()


def facts_of(value: Any, template: str) -> RequestFacts:
    """The facts of a parsed JSON request body (anything not a JSON object tells nothing)."""
    if not isinstance(value, dict):
        return NO_FACTS
    model, agent, text = value.get("model"), value.get("agent_id"), value.get("input")
    return RequestFacts(
        model=model if isinstance(model, str) and model else None,
        stream=value.get("stream") is True,
        agent_id=agent if isinstance(agent, str) and agent else None,
        characters=len(text) if template == SPEECH and isinstance(text, str) else None,
        standard_only=value.get("service_tier") == "standard_only",
        annotated=template == OCR and any(value.get(key) for key in _ANNOTATIONS),
    )


def parse_body(body: bytes) -> Any:
    """The JSON value of a request body, or None when it is not JSON."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def response_units(summary: dict[str, Any]) -> dict[str, Any]:
    """pages, audio_seconds, service_tier, and a conversation's model and agent_id, as stated."""
    units: dict[str, Any] = {}
    info = summary.get("usage_info")
    if isinstance(info, dict) and _whole(info.get("pages_processed")):
        units["pages"] = info["pages_processed"]
    usage = summary.get("usage")
    if isinstance(usage, dict):
        seconds = usage.get("prompt_audio_seconds")
        if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds > 0:
            units["audio_seconds"] = seconds
        if usage.get("service_tier") in TIERS:
            units["service_tier"] = usage["service_tier"]
    outputs = summary.get("outputs")
    if isinstance(outputs, list):
        units.update(_from_outputs(outputs))
    if isinstance(summary.get("agent_id"), str) and summary["agent_id"]:
        units.setdefault("agent_id", summary["agent_id"])
    return units


def _from_outputs(outputs: list[Any]) -> dict[str, str]:
    """A conversation's model and agent: the first output entry that names them."""
    found: dict[str, str] = {}
    for entry in outputs:
        if not isinstance(entry, dict):
            continue
        for key, name in (("model", "output_model"), ("agent_id", "agent_id")):
            value = entry.get(key)
            if name not in found and isinstance(value, str) and value:
                found[name] = value
    return found


def zone_for(upstream_url: str, setting: str = "auto") -> str:
    """The API zone of the upstream: `auto` reads it from the host (api.eu.mistral.ai -> eu)."""
    if setting != "auto":
        return setting
    labels = (urlsplit(upstream_url).hostname or "").lower().split(".")
    return next((label for label in labels if label in ("eu", "us")), "global")


def _whole(value: Any) -> bool:
    return type(value) is int and value >= 0
