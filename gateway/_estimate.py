"""Token estimates for a call whose usage never arrived (a stream the client closed early).

Why estimate: Mistral sends `usage` in a stream's last chunk, so a stream cut short has none,
yet Mistral bills its prompt and what it generated; recording 0 would hide that spend. The
record gets an estimate and `tokens_estimated: true`.

Why bytes, not Mistral's tokenizer: `mistral-common` (its Tekken tokenizer ships inside the
package) would pin numpy below the version the project runs on (<2.4; the venv has 2.4.6),
adds ~160 MiB and ~1 s of loading to the gateway, and costs 120-330 us per 2 KB prompt
(this estimate: ~5 us). Measured with it on prose, French, code, JSON and Chinese, UTF-8
bytes per token were 4.99, 4.62, 2.52, 2.46 and 4.40; BYTES_PER_TOKEN = 4 is within a
factor of 1.6 of each, and rounds up.

Example:
    >>> tokens_for(b'{"messages": [{"role": "user", "content": "Hello there"}]}', b"")
    (4, 0)
"""

from __future__ import annotations

from typing import Any

from ._units import parse_body

BYTES_PER_TOKEN = 4
TOKEN_BILLED = frozenset(
    (
        "/v1/chat/completions",
        "/v1/fim/completions",
        "/v1/agents/completions",
        "/v1/responses",
        "/v1/conversations",
        "/v1/conversations/{id}",
        "/v1/conversations/{id}/restart",
    )
)
_PROMPT_KEYS = ("messages", "inputs", "input", "instructions", "prompt", "suffix", "tools")
_MAX_DEPTH = 32


def tokens(nbytes: int) -> int:
    """Estimated tokens of `nbytes` of UTF-8 text, rounded up."""
    return -(-nbytes // BYTES_PER_TOKEN)


def tokens_for(request_body: bytes, generated: bytes | int) -> tuple[int, int]:
    """(prompt, completion) estimates: the request's text and what the stream had generated."""
    done = generated if isinstance(generated, int) else len(generated)
    return tokens(prompt_bytes(request_body)), tokens(done)


def prompt_bytes(request_body: bytes) -> int:
    """UTF-8 bytes of the prompt's text: every string under the prompt keys but chunk types and inline files.

    A body that is not JSON (or was too large to hold) counts whole: an overestimate beats a 0.
    """
    value = parse_body(request_body) if request_body else None
    if not isinstance(value, dict):
        return len(request_body)
    return sum(text_bytes(value.get(key), 0) for key in _PROMPT_KEYS)


def request_tokens(request_body: bytes) -> tuple[int, int | None]:
    """(prompt estimate, the output tokens the request allows or None): what a spend limit reserves.

    The allowance is `max_tokens` (`max_output_tokens` on /v1/responses) when it is a whole number.
    """
    value = parse_body(request_body) if request_body else None
    if not isinstance(value, dict):
        return tokens(len(request_body)), None
    prompt = tokens(sum(text_bytes(value.get(key), 0) for key in _PROMPT_KEYS))
    asked = value.get("max_tokens", value.get("max_output_tokens"))
    whole = isinstance(asked, int) and not isinstance(asked, bool) and asked >= 0
    return prompt, asked if whole else None


def text_bytes(value: Any, depth: int) -> int:
    if isinstance(value, str):
        return 0 if value.startswith("data:") else len(value.encode())
    if depth > _MAX_DEPTH:
        return 0
    if isinstance(value, list):
        return sum(text_bytes(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return sum(text_bytes(item, depth + 1) for key, item in value.items() if key != "type")
    return 0
