"""GET /v1/usage/requests: the usage endpoint contract v1, served from the buffer.

Why the cursor is the row sequence as a decimal string: it is increasing, survives restarts
and retention (AUTOINCREMENT never reuses a value), and a page is one indexed range scan. The
stored JSON bodies are spliced into the page as they are, never parsed again.

Example:
    GET /v1/usage/requests?after=120&limit=2   (Authorization: Bearer $GATEWAY_USAGE_TOKEN)
    -> {"object": "list", "data": [{...seq 121...}, {...seq 122...}], "next_cursor": "122", "has_more": true}
"""

from __future__ import annotations

import asyncio
import hmac
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import orjson
from starlette.requests import Request
from starlette.responses import Response

from foundation.log import event_logger
from foundation.usage_contract import BadParameter, error_body, page_size

from ._buffer import Buffer

log = event_logger("gateway")

MAX_CURSOR = 2**63 - 1


def contract_error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Response:
    body = orjson.dumps(error_body(status, kind, message))
    return Response(body, status, headers=headers, media_type="application/json")


def parse_params(after: str | None, limit: str | None) -> tuple[int, int]:
    """(after seq, page size) from the query, clamped per the contract, or BadParameter.

    Why ASCII digits only: str.isdigit() accepts '²' and int() refuses it, and a 20-digit
    cursor overflows SQLite's 64-bit integers; both were 500s.
    """
    if after is None or after == "":
        cursor = 0
    elif _digits(after) and len(after) <= 19 and int(after) <= MAX_CURSOR:
        cursor = int(after)
    else:
        raise BadParameter(
            f"after: {after[:40]!r} is not a cursor from this endpoint; pass a next_cursor back unchanged"
        )
    return cursor, page_size(limit)


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


class UsageEndpoint:
    def __init__(self, buffer: Buffer, token: str) -> None:
        self.buffer = buffer
        self.expected = f"Bearer {token}".encode()
        self.readers = ThreadPoolExecutor(2, thread_name_prefix="gateway-reader")

    def authorized(self, request: Request) -> bool:
        return hmac.compare_digest(request.headers.get("authorization", "").encode(), self.expected)

    async def handle(self, request: Request) -> Response:
        if not self.authorized(request):
            return contract_error(
                401,
                "unauthorized",
                "missing or wrong token; send Authorization: Bearer <token>",
                {"WWW-Authenticate": "Bearer"},
            )
        try:
            after, limit = parse_params(request.query_params.get("after"), request.query_params.get("limit"))
        except BadParameter as exc:
            return contract_error(400, "invalid_request", str(exc))
        loop = asyncio.get_running_loop()
        try:
            page = await loop.run_in_executor(self.readers, self.buffer.page, after, limit)
        except sqlite3.Error as exc:
            log.error("usage_read_failure", error=f"{type(exc).__name__}: {exc}")
            return contract_error(503, "unavailable", "the buffer could not be read; retry later", {"Retry-After": "1"})
        cursor = str(page.last_seq if page.last_seq is not None else after)
        tail = orjson.dumps({"next_cursor": cursor, "has_more": page.has_more})
        body = b'{"object":"list","data":[' + b",".join(page.bodies) + b"]," + tail[1:]
        return Response(body, media_type="application/json")

    async def buffered(self) -> int:
        return await asyncio.get_running_loop().run_in_executor(self.readers, self.buffer.count)

    def close(self) -> None:
        self.readers.shutdown(wait=False)
