"""Decode a page that the JSON decoder refuses as a whole, one record at a time.

Why: orjson stops at 1024 levels of nesting, at invalid UTF-8, at NaN; one such record used
to make the whole page unreadable, so the poll failed on it forever while the source purged
older data. This module finds the page's structure with a small tokenizer (strings are
matched by one regular expression, so a page costs a few hundred thousand matches, without
recursion at any depth), then decodes each record on its own. A record that still does not
decode keeps its known fields (unknown ones are ignored, as the contract says, at any depth);
a known field that does not decode rejects the record with that field's name. A truncated body
(unbalanced brackets) is still a bad page: it is retried, never half-read.

Example:
    >>> deep = b"[" * 5000 + b"]" * 5000
    >>> body = b'{"data": [{"id": "a"}, {"id": "b", "x": ' + deep + b'}], "has_more": false}'
    >>> decode_page(body, "/v1/usage/requests")
    SplitPage(records=[{'id': 'a'}, {'id': 'b'}], rejected=[], next_cursor=None, has_more=False)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from ._fastpath import RATELIMIT_FIELDS, RECORD
from .errors import BadPageError

_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},:]|"', re.DOTALL)
_QUOTE, _COLON, _COMMA = 0x22, 0x3A, 0x2C
Shape = dict[str, "Shape | None"]
RECORD_SHAPE: Shape = {name: None for name in RECORD.names} | {"ratelimit": dict.fromkeys(RATELIMIT_FIELDS)}


class _Broken(ValueError):
    """The text is not well-formed at the structural level."""


@dataclass
class Undecodable:
    """A record that could not be decoded: why, and its text."""

    reason: str
    text: str


@dataclass(kw_only=True)
class SplitPage:
    records: list[Any] = field(default_factory=list)
    rejected: list[Undecodable] = field(default_factory=list)
    next_cursor: Any = None
    has_more: Any = None


def _children(buf: bytes, start: int, end: int) -> list[tuple[bytes | None, int, int]]:
    """The direct members of the object or array `buf[start:end]` (brackets included).

    Each is (key text or None, value start, value end); raises _Broken if brackets do not balance.
    """
    is_object = buf[start] == ord("{")
    out: list[tuple[bytes | None, int, int]] = []
    depth, key, item = 0, None, start + 1
    for match in _TOKENS.finditer(buf, start + 1, end - 1):
        char = buf[match.start()]
        if char == _QUOTE:
            if match.end() - match.start() == 1:
                raise _Broken("unterminated string")
            if depth == 0 and is_object and key is None:
                key = buf[match.start() : match.end()]
        elif char in b"[{":
            depth += 1
        elif char in b"]}":
            depth -= 1
            if depth < 0:
                raise _Broken("a closing bracket too many")
        elif depth == 0 and char == _COLON:
            item = match.end()
        elif depth == 0 and char == _COMMA:
            out.append((key, item, match.start()))
            key, item = None, match.end()
    if depth:
        raise _Broken("unbalanced brackets (truncated?)")
    if out or buf[item : end - 1].strip():
        out.append((key, item, end - 1))
    return out


def _span(buf: bytes, start: int, end: int) -> tuple[int, int]:
    """`buf[start:end]` without surrounding whitespace, as (start, end)."""
    while start < end and buf[start] in b" \t\r\n":
        start += 1
    while end > start and buf[end - 1] in b" \t\r\n":
        end -= 1
    return start, end


def _is(buf: bytes, start: int, end: int, opener: bytes, closer: bytes) -> bool:
    return end - start >= 2 and buf[start : start + 1] == opener and buf[end - 1 : end] == closer


def _key(text: bytes | None) -> str | None:
    try:
        value = orjson.loads(text) if text else None
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, str) else None


def _salvage(buf: bytes, start: int, end: int, shape: Shape) -> dict[str, Any]:
    """The known members of an object that does not decode as a whole; _Broken names the field."""
    out: dict[str, Any] = {}
    for key, s, e in _children(buf, start, end):
        name = _key(key)
        if name is None or name not in shape:
            continue
        s, e = _span(buf, s, e)
        try:
            out[name] = orjson.loads(buf[s:e])
        except orjson.JSONDecodeError as exc:
            inner = shape[name]
            if inner is None or not _is(buf, s, e, b"{", b"}"):
                raise _Broken(f"{name}: not decodable JSON ({str(exc).split(':')[0]})") from None
            out[name] = _salvage(buf, s, e, inner)
    return out


def _record(buf: bytes, start: int, end: int, page: SplitPage) -> None:
    start, end = _span(buf, start, end)
    try:
        page.records.append(orjson.loads(buf[start:end]))
        return
    except orjson.JSONDecodeError as exc:
        reason = f"record: not decodable JSON ({str(exc).split(':')[0]})"
    try:
        if _is(buf, start, end, b"{", b"}"):
            page.records.append(_salvage(buf, start, end, RECORD_SHAPE))
            return
    except _Broken as exc:
        reason = str(exc)
    page.rejected.append(Undecodable(reason, buf[start:end].decode("utf-8", errors="replace")))


def decode_page(body: bytes, path: str) -> SplitPage:
    """A page body record by record, or BadPageError if its envelope is broken."""
    start, end = _span(body, 0, len(body))
    page = SplitPage()
    try:
        if not _is(body, start, end, b"{", b"}"):
            raise _Broken("not a JSON object")
        data = None
        for key, s, e in _children(body, start, end):
            name = _key(key)
            s, e = _span(body, s, e)
            if name == "data":
                data = (s, e)
            elif name in ("next_cursor", "has_more"):
                setattr(page, name, orjson.loads(body[s:e]))
        if data is None or not _is(body, *data, b"[", b"]"):
            raise _Broken("no 'data' list")
        for _key_text, s, e in _children(body, *data):
            _record(body, s, e, page)
    except (_Broken, orjson.JSONDecodeError) as exc:
        raise BadPageError(f"{path}: body is not a contract page ({exc}); is the url right?") from None
    return page
