"""Endpoint templates and the billable flag: the record's `endpoint` stays a small set.

Why: the raw path carries ids (`/v1/conversations/conv_0a1b...`, `/v1/files/<uuid>`), so the
endpoint column grew one value per conversation or file. A path is matched against Mistral's
known routes (those of the official SDK), literal segments first; an id becomes `{id}`. A path
no route knows keeps its word-like segments and has every id-looking one (a digit, a colon, a
dot, or over 40 characters) replaced, so unknown routes stay bounded too.

Billable: POST to an inference route is billed; files, models, batch jobs, fine-tuning jobs,
agent management and every read or delete are not (`billable: false`); for the few routes whose
billing the gateway cannot see (a library document's processing, realtime sessions) and for
unknown routes the flag is left out (unknown, never a guess).

Example:
    >>> endpoint_template("/v1/conversations/conv_0195a3b2c4d5")
    '/v1/conversations/{id}'
    >>> billable("POST", "/v1/conversations/{id}"), billable("GET", "/v1/files/{id}")
    (True, False)
"""

from __future__ import annotations

import re
from typing import Any

ID = "{id}"
_END = ""
_KNOWN = """
/v1/chat/completions /v1/fim/completions /v1/agents/completions /v1/embeddings /v1/moderations
/v1/chat/moderations /v1/classifications /v1/chat/classifications /v1/ocr /v1/responses
/v1/responses/input_tokens /v1/audio/transcriptions /v1/audio/speech
/v1/conversations /v1/conversations/{id} /v1/conversations/{id}/history
/v1/conversations/{id}/messages /v1/conversations/{id}/restart
/v1/agents /v1/agents/pages /v1/agents/{id} /v1/agents/{id}/aliases /v1/agents/{id}/version
/v1/agents/{id}/versions /v1/agents/{id}/versions/{id}
/v1/audio/agents /v1/audio/agents/{id} /v1/audio/agents/{id}/sessions /v1/audio/agents/{id}/versions
/v1/audio/sessions /v1/audio/sessions/{id} /v1/audio/voices /v1/audio/voices/{id}
/v1/audio/voices/{id}/sample /v2/audio/voices
/v1/files /v1/files/{id} /v1/files/{id}/content /v1/files/{id}/url
/v1/models /v1/models/{id} /v1/fine_tuning/models/{id} /v1/fine_tuning/models/{id}/archive
/v1/fine_tuning/jobs /v1/fine_tuning/jobs/{id} /v1/fine_tuning/jobs/{id}/cancel
/v1/fine_tuning/jobs/{id}/start
/v1/batch/jobs /v1/batch/jobs/{id} /v1/batch/jobs/{id}/cancel
/v1/libraries /v1/libraries/{id} /v1/libraries/{id}/share /v1/libraries/{id}/documents
/v1/libraries/{id}/documents/{id} /v1/libraries/{id}/documents/{id}/extracted-text-signed-url
/v1/libraries/{id}/documents/{id}/reprocess /v1/libraries/{id}/documents/{id}/signed-url
/v1/libraries/{id}/documents/{id}/status /v1/libraries/{id}/documents/{id}/text_content
/v1/connectors /v1/connectors/{id} /v1/connectors/{id}/tools /v1/connectors/{id}/tools/{id}/call
/v1/workflows /v1/workflows/{id} /v1/workflows/{id}/execute /v1/workflows/executions/{id}
/v1/users/me /v1/whoami /v2/prompts /v2/prompts/{id} /v2/skills /v2/skills/{id}
"""
_BILLED = frozenset(
    """
/v1/chat/completions /v1/fim/completions /v1/agents/completions /v1/embeddings /v1/moderations
/v1/chat/moderations /v1/classifications /v1/chat/classifications /v1/ocr /v1/responses
/v1/audio/transcriptions /v1/audio/speech /v1/conversations /v1/conversations/{id}
/v1/conversations/{id}/restart
""".split()
)
_UNSEEN = frozenset(
    """
/v1/libraries/{id}/documents /v1/libraries/{id}/documents/{id}/reprocess /v1/audio/sessions
/v1/audio/agents/{id}/sessions /v1/connectors/{id}/tools/{id}/call /v1/workflows/{id}/execute
""".split()
)
_READS = frozenset(("GET", "HEAD", "OPTIONS", "DELETE"))
_WORD = re.compile(r"[A-Za-z_-]{1,40}|v\d")
_MAX_SEGMENTS = 8
_CACHE_SIZE = 4096


def _trie(templates: list[str]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for template in templates:
        node = root
        for segment in template.strip("/").split("/"):
            node = node.setdefault(segment, {})
        node[_END] = {"template": template}
    return root


_TEMPLATES = frozenset(_KNOWN.split())
_ROUTES = _trie(sorted(_TEMPLATES))
_cache: dict[str, str] = {}


def endpoint_template(path: str) -> str:
    """The route template of a request path: ids replaced by `{id}` (cached, it runs per request)."""
    found = _cache.get(path)
    if found is None:
        segments = path.strip("/").split("/")
        found = _match(_ROUTES, segments, 0) or _generic(segments)
        if len(_cache) >= _CACHE_SIZE:
            _cache.clear()
        _cache[path] = found
    return found


def billable(method: str, template: str) -> bool | None:
    """True for a billed inference call, False for a free one, None when the gateway cannot tell."""
    if method in _READS:
        return False if template in _TEMPLATES else None
    if template in _BILLED:
        return method == "POST"
    if template in _UNSEEN or template not in _TEMPLATES:
        return None
    return False


def _match(node: dict[str, Any], segments: list[str], index: int) -> str | None:
    if index == len(segments):
        end = node.get(_END)
        return end["template"] if end else None
    literal = node.get(segments[index])
    if literal is not None and segments[index] not in (ID, _END):
        found = _match(literal, segments, index + 1)
        if found is not None:
            return found
    placeholder = node.get(ID)
    return _match(placeholder, segments, index + 1) if placeholder is not None and segments[index] else None


def _generic(segments: list[str]) -> str:
    kept = [s if not s or _WORD.fullmatch(s) else ID for s in segments[:_MAX_SEGMENTS]]
    return "/" + "/".join(kept) + ("/..." if len(segments) > _MAX_SEGMENTS else "")
