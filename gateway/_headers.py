"""Header handling for the forwarder: what goes upstream, what comes back, what is recorded.

Why a proxy rewrites headers at all: hop-by-hop headers (RFC 9110 section 7.6.1) describe
one connection and must not be forwarded, nor any header the `Connection` header names.
Three more are ours: the project header is stripped (it is for the ledger, not for Mistral),
Host and Content-Length are recomputed by the HTTP client, and Accept-Encoding is narrowed to
the codings the gateway can read back, so it can always read the usage out of a response.

Example:
    >>> headers, seen = upstream_headers([(b"x-project", b"web"), (b"accept", b"*/*")], b"x-project", ())
    >>> headers, seen.project
    ([('accept', '*/*')], 'web')
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"proxy-connection",
        b"keep-alive",
        b"te",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-authenticate",
        b"proxy-authorization",
    }
)
_RECOMPUTED = frozenset({b"host", b"content-length"})
READABLE_CODINGS = frozenset({"gzip", "deflate", "identity"})

RawHeaders = Iterable[tuple[bytes, bytes]]


@dataclass(kw_only=True)
class RequestHeaders:
    """What the record needs from the client's headers."""

    project: str | None = None
    authorization: str | None = None
    retry_count: str | None = None
    content_type: str = ""
    content_length: int | None = None


def connection_tokens(headers: RawHeaders) -> frozenset[bytes]:
    """The hop-by-hop set for this message: the fixed list plus what `Connection` names."""
    named = [
        tok.strip().lower() for name, value in headers if name.lower() == b"connection" for tok in value.split(b",")
    ]
    return HOP_BY_HOP.union(named) if named else HOP_BY_HOP


def upstream_headers(
    raw: list[tuple[bytes, bytes]], project_header: bytes, retry_headers: tuple[bytes, ...]
) -> tuple[list[tuple[str, str]], RequestHeaders]:
    """The headers to send upstream (as str pairs) and what the record needs from them."""
    drop = connection_tokens(raw) | _RECOMPUTED | {project_header}
    seen = RequestHeaders()
    out: list[tuple[str, str]] = []
    for name, value in raw:
        lower = name.lower()
        if lower == project_header:
            seen.project = _text(value).strip() or None
        elif lower == b"authorization":
            seen.authorization = value.decode("latin-1")
        elif lower == b"content-type":
            seen.content_type = value.decode("latin-1").lower()
        elif lower in retry_headers:
            seen.retry_count = value.decode("latin-1")
        elif lower == b"content-length" and value.strip().isdigit():
            seen.content_length = int(value)
        if lower in drop:
            continue
        text = value.decode("latin-1")
        out.append((name.decode("latin-1"), _readable_codings(text) if lower == b"accept-encoding" else text))
    return out, seen


def _text(value: bytes) -> str:
    """A header value as text: UTF-8 when it is (a client's non-ASCII project name), else Latin-1."""
    try:
        return value.decode()
    except UnicodeDecodeError:
        return value.decode("latin-1")


def downstream_headers(raw: RawHeaders) -> list[tuple[bytes, bytes]]:
    """The upstream response's headers minus this hop's own."""
    pairs = list(raw)
    drop = connection_tokens(pairs)
    return [(name, value) for name, value in pairs if name.lower() not in drop]


def _readable_codings(value: str) -> str:
    kept = [part for part in value.split(",") if part.split(";")[0].strip().lower() in READABLE_CODINGS]
    return ",".join(kept).strip() or "identity"
