"""An ECB rates server on loopback (port 0) for the collector's `fx` job: it answers every GET with
the next of its scripted answers (the last one repeats) and counts the GETs.

The sample has the shape of https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist-90d.xml
(gesmes:Envelope > Cube > Cube time= > Cube currency= rate=); its numbers are test values.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

SAMPLE = (Path(__file__).parents[1] / "fx" / "eurofxref-sample.xml").read_bytes()
DAILY = SAMPLE.replace(b'<Cube time="2026-10-01">', b'<Cube time="2026-09-30">').replace(b"1.0501", b"1.0490")


class Script:
    """The answers the server gives, in order (the last one repeats), and how many GETs it saw."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, bytes]] = [(200, SAMPLE)]
        self.hits = 0


@pytest.fixture
def ecb_server() -> Iterator[tuple[str, Script]]:
    """(the rates' URL, its Script)."""
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            status, body = script.answers[min(script.hits, len(script.answers) - 1)]
            script.hits += 1
            self.send_response(status)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/eurofxref-hist-90d.xml", script
    httpd.shutdown()
    httpd.server_close()
