"""A TCP relay on loopback that reaches the dashboard from another source address, optionally adding headers.

Why: the trusted-header mode trusts a connection by its socket address, so an attack test needs a
browser whose connections arrive from an address that is not the proxy (127.0.0.2), and a "proxy"
that appends its identity header instead of replacing the client's. Chromium cannot pick its source
address; the relay connects for it. The first request head of each connection (a page load, the
WebSocket handshake: Chromium opens a fresh connection for each WebSocket) gets `add` appended.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


def _pump(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65_536):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


def _head(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65_536)
        if not chunk:
            break
        data += chunk
    return data


def _serve(conn: socket.socket, upstream: tuple[str, int], source: str, add: list[tuple[str, str]]) -> None:
    conn.settimeout(None)
    with conn, socket.create_connection(upstream, source_address=(source, 0)) as up:
        data = _head(conn)
        head, sep, rest = data.partition(b"\r\n\r\n")
        extra = b"".join(f"\r\n{name}: {value}".encode() for name, value in add) if sep else b""
        up.sendall(head + extra + sep + rest)
        back = threading.Thread(target=_pump, args=(up, conn), daemon=True)
        back.start()
        _pump(conn, up)
        back.join(timeout=30)


@contextlib.contextmanager
def relay(upstream_url: str, source: str = "127.0.0.2", add: list[tuple[str, str]] | None = None) -> Iterator[str]:
    """Listen on 127.0.0.1 (port 0, reported); each connection reaches `upstream_url` from `source`."""
    host, port = upstream_url.removeprefix("http://").split(":")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=_serve, args=(conn, (host, int(port)), source, add or []), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
