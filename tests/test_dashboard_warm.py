"""`mistral-monitor dashboard` has the server run the app once at start (monitor_cli/_warm.py): the helper
waits for the server to answer, asks Streamlit's script health check once, and gives up after its wait.

A real HTTP server on loopback stands in for Streamlit's two endpoints; it records what was asked.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from monitor_cli._dashboard import served_at, streamlit_argv
from monitor_cli._warm import warm
from tests.support.waits import poll_until


class Streamlitish(BaseHTTPRequestHandler):
    asked: list[str] = []
    up_after = 0

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).asked.append(self.path)
        health = [p for p in self.asked if p == "/_stcore/health"]
        status = 503 if self.path == "/_stcore/health" and len(health) <= self.up_after else 200
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[tuple[str, type[Streamlitish]]]:
    handler = type("Handler", (Streamlitish,), {"asked": [], "up_after": 2})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    httpd.shutdown()
    httpd.server_close()


def test_the_app_runs_once_after_the_server_answers(server: tuple[str, type[Streamlitish]]) -> None:
    url, handler = server
    assert warm(url, wait=30) == "ok"
    assert handler.asked == ["/_stcore/health"] * 3 + ["/_stcore/script-health-check"]


def test_a_server_that_never_answers_is_left_alone() -> None:
    import socket

    with socket.socket() as held:  # bound, never listening: connections are refused
        held.bind(("127.0.0.1", 0))
        assert warm(f"http://127.0.0.1:{held.getsockname()[1]}", wait=0.5) == "timeout"


def test_the_helper_finds_the_port_the_command_serves() -> None:
    assert served_at(streamlit_argv(Path("app.py"), ["--server.port=8611"])) == ("http://127.0.0.1:8611")
    assert served_at(streamlit_argv(Path("app.py"), [])) == "http://127.0.0.1:8501"
    assert "--server.scriptHealthCheckEnabled=true" in streamlit_argv(Path("app.py"), [])


def test_the_dashboard_asks_its_own_health_check_again_and_again(server: tuple[str, type[Streamlitish]]) -> None:
    """pages/_warm.py's loop: each pause, one run of the app (the server's own session)."""
    from pages._warm import _loop

    url, handler = server
    handler.up_after = 0
    threading.Thread(target=_loop, args=(f"{url}/_stcore/script-health-check", 0.05), daemon=True).start()
    assert poll_until(lambda: len(handler.asked) >= 3, timeout=30)
    assert set(handler.asked) == {"/_stcore/script-health-check"}


def test_after_its_own_run_the_server_freezes_what_lives(server: tuple[str, type[Streamlitish]]) -> None:
    """The objects alive after the first warm run leave the collector's generations (once): full collections
    later walk only the objects made since."""
    from pages import _warm

    url, handler = server
    handler.up_after = 0
    gc.unfreeze()
    _warm._settled.clear()
    try:
        threading.Thread(target=_warm._loop, args=(f"{url}/_stcore/script-health-check", 0.05), daemon=True).start()
        assert poll_until(lambda: gc.get_freeze_count() > 0, timeout=30)
        frozen = gc.get_freeze_count()
        assert poll_until(lambda: len(handler.asked) >= 3, timeout=30)
        assert gc.get_freeze_count() <= frozen  # once only (frozen objects may die): later objects stay collectable
    finally:
        gc.unfreeze()


def test_outside_a_server_nothing_is_warmed() -> None:
    """Under AppTest (a mock runtime, no HTTP server) the app starts no thread that would ask port 8501."""
    from streamlit.testing.v1 import AppTest

    def app() -> None:
        import streamlit as st

        from pages._warm import keep_warm, own_url

        keep_warm()
        st.write(f"url={own_url()}")

    at = AppTest.from_function(app).run()
    assert not at.exception
    assert [m.value for m in at.markdown] == ["url=None"]
