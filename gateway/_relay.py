"""Send an upstream response on to the client, committing its record before the last bytes.

Why hold back the end: a client that has its whole answer must find its record in the buffer
even if the gateway is killed the next instant. So the record is committed first and only then
goes the final part: a small body whole, a body of known length its last chunk, a stream the
chunk holding `data: [DONE]` (after it the SDK stops reading), anything else its terminator.
Everything before goes on the moment it arrives; a stream's first chunk also updates the
request's intent (status, id), so a crash mid-stream leaves a record with both.

Example:
    >>> import asyncio
    >>> from types import SimpleNamespace
    >>> sent = []
    >>> async def send(message):
    ...     sent.append(message.get("body", "start"))
    >>> async def finish(ex):
    ...     sent.append("record committed")
    >>> class Upstream:
    ...     async def iter_any(self):
    ...         for chunk in (b"data: {}", b"data: [DONE]"):
    ...             yield chunk
    >>> response = SimpleNamespace(content_length=None, content=Upstream())
    >>> ex = SimpleNamespace(observer=None, stream=True, response_started=False)
    >>> asyncio.run(relay_chunks(response, send, {}, ex, finish, note=lambda ex: None))
    >>> sent
    ['start', b'data: {}', 'record committed', b'data: [DONE]']
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from ._record import Exchange

Send = Any
Finish = Callable[[Exchange], Awaitable[None]]
Note = Callable[[Exchange], None]


async def relay_whole(
    response: aiohttp.ClientResponse, send: Send, start: dict[str, Any], ex: Exchange, finish: Finish, note: Note
) -> None:
    """A small body of known length: read it first, so a failure can still become a clean 502/504."""
    data = await response.read()
    if ex.observer is not None:
        ex.observer.feed(data)
    await finish(ex)
    await send_start(send, start, ex)
    await send({"type": "http.response.body", "body": data})


async def relay_chunks(
    response: aiohttp.ClientResponse, send: Send, start: dict[str, Any], ex: Exchange, finish: Finish, note: Note
) -> None:
    """A stream or a large body: each chunk goes on as it arrives, except the one that ends it."""
    await send_start(send, start, ex)
    observer, length = ex.observer, response.content_length
    held, sent, first = b"", 0, True
    async for chunk in response.content.iter_any():
        if observer is not None:
            observer.feed(chunk)
        if first:
            first = False
            note(ex)
        if held:
            await send({"type": "http.response.body", "body": held, "more_body": True})
            held = b""
        sent += len(chunk)
        if (length is not None and sent >= length) or (ex.stream and b"data: [DONE]" in chunk):
            held = chunk
        else:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await finish(ex)
    await send({"type": "http.response.body", "body": held})


async def send_start(send: Send, start: dict[str, Any], ex: Exchange) -> None:
    ex.response_started = True
    await send(start)
