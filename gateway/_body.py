"""The client's request body, read as it arrives: held whole only when small, else streamed on.

Why: a 400 MiB upload held whole took the gateway past 1 GB. Up to HOLD bytes are read first
(every chat request fits, and the record reads its model from them); a larger body goes
upstream chunk by chunk as the client sends it, counted against the limit. Past the limit the
upload is abandoned (the upstream never gets a complete body) and the client gets a 413.

Example:
    >>> import asyncio
    >>> messages = iter([{"type": "http.request", "body": b'{"model": "mistral-small-latest"}'}])
    >>> async def receive():
    ...     return next(messages)
    >>> body = RequestBody(receive, limit=513 * MIB, declared=None)
    >>> asyncio.run(body.head()), body.complete    # head() is None when the client left before sending it
    (b'{"model": "mistral-small-latest"}', True)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from .errors import GatewayError

MIB = 1024 * 1024
HOLD = MIB


class BodyTooLarge(GatewayError):
    """The body went past the limit while it was streamed."""


class ClientGone(GatewayError):
    """The client disconnected before its body ended."""


class RequestBody:
    def __init__(self, receive: Any, limit: int, declared: int | None) -> None:
        self.receive = receive
        self.limit = limit
        self.declared = declared
        self.received = 0
        self.complete = False
        self.too_large = declared is not None and declared > limit
        self.gone = False
        self.on_complete: Callable[[], None] | None = None

    async def head(self) -> bytes | None:
        """Up to HOLD bytes (the whole body when it is that small); None if the client left."""
        parts: list[bytes] = []
        while self.received < HOLD and not self.complete:
            chunk = await self._next()
            if chunk is None:
                return None
            parts.append(chunk)
        return b"".join(parts)

    async def stream(self, first: bytes) -> AsyncIterator[bytes]:
        """`first`, then the rest as it arrives; raises BodyTooLarge or ClientGone to abandon the upload."""
        if first:
            yield first
        while not self.complete:
            chunk = await self._next()
            if chunk is None:
                raise ClientGone("the client disconnected mid-body")
            if self.too_large:
                raise BodyTooLarge(f"over {self.limit} bytes")
            if chunk:
                yield chunk
        if self.on_complete is not None:
            self.on_complete()

    async def _next(self) -> bytes | None:
        message = await self.receive()
        if message["type"] != "http.request":
            self.gone = True
            return None
        chunk: bytes = message.get("body", b"")
        self.received += len(chunk)
        self.too_large = self.too_large or self.received > self.limit
        self.complete = not message.get("more_body", False)
        return chunk
