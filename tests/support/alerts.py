"""Shared fixtures: a real SMTP server (aiosmtpd) on loopback, a hand-written ledger, engines.

Every figure a test asserts is computed from the rows the test itself wrote, never from what
the engine returned.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from aiosmtpd.controller import Controller

from alerts import Engine
from foundation.config import parse_config
from ledger import SCHEMA, write_rows
from tests.support.servers import free_port

_row_counter = iter(range(10**9))


@dataclass(kw_only=True)
class Recorder:
    """An aiosmtpd handler keeping accepted messages; `replies` are answered to DATA first."""

    messages: list[EmailMessage] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    data_seen: threading.Event = field(default_factory=threading.Event)
    hold: threading.Event | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_seen.set()
        if self.hold is not None:
            self.hold.wait(30)
            return "451 4.3.0 held by the test"
        if self.replies:
            return self.replies.pop(0)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


class SmtpServer:
    """Start/stop an aiosmtpd server on a fixed loopback port (so it can be 'down then back')."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.handler = Recorder()
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    def start(self) -> None:
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_port() -> int:
    """A port with nothing listening (yet)."""
    return free_port()


def rows(data_dir: Path, records: list[dict[str, Any]]) -> None:
    """Write ledger rows: each record needs `timestamp` and `cost`; the rest has defaults."""
    base = {
        "source": "test",
        "model": "mistral-small-latest",
        "project": "search",
        "api_key_id": "key_a",
        "status_code": 200,
        "prompt_tokens": 100,
        "completion_tokens": 10,
        "cached_tokens": 0,
        "request_count": 1,
        "aggregated": False,
        "simulated": False,
        "currency": "EUR",
        "latency_ms": 250.0,
    }
    full = [{**base, "id": f"r{next(_row_counter)}", "ingested_at": r["timestamp"], **r} for r in records]
    columns = {f.name: [r.get(f.name) for r in full] for f in SCHEMA}
    write_rows(data_dir, pa.Table.from_pydict(columns, schema=SCHEMA))


def write_monitor_toml(path: Path, port: int, alerts: str = "") -> Path:
    """A monitor.toml (data dir `data` beside it) with the threshold rule, `alerts` lines and SMTP on `port`."""
    path.write_text(f"""
data_dir = "data"
timezone = "Europe/Paris"
currency = "EUR"

[alerts]
rules_enabled = ["threshold"]
{alerts}

[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
sender = "monitor@example.com"
timeout_seconds = 5
""")
    return path


SEARCH_MONTHLY = """
[[budgets]]
name = "Search monthly"
period = "month"
amount = 500
project = "search"
thresholds = [50, 80, 100]
forecast = false
recipients = ["ops@example.com"]
"""
"""A monthly budget of 500 on project search, mailing ops@ at 50, 80 and 100%."""


def config_dict(data_dir: Path, port: int, **alerts: Any) -> dict[str, Any]:
    return {
        "data_dir": str(data_dir),
        "timezone": "Europe/Paris",
        "currency": "EUR",
        "dashboard_url": "http://dash.test:8501",
        "alerts": {"rules_enabled": ["threshold"], "recipients": ["oncall@example.com"], **alerts},
        "smtp": {
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "sender": "monitor@example.com",
            "timeout_seconds": 5,
        },
    }


@pytest.fixture
def make_engine(tmp_path: Path) -> Callable[..., Engine]:
    """A fresh Engine over tmp_path/data each call (a 'restart' is just another call)."""

    def build(port: int, **alerts: Any) -> Engine:
        raw = config_dict(tmp_path / "data", port, **alerts)
        return Engine.from_config(parse_config(raw, base=tmp_path))

    return build


def budgets_toml(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def paris(text: str) -> datetime:
    """An aware datetime from a Europe/Paris wall-clock ISO string."""
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Europe/Paris"))


def bodies(message: EmailMessage) -> tuple[str, str]:
    """(plain text, html) parts of a multipart/alternative message."""
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


WEBHOOK_SECRET = "whsec-test-0123456789abcdef0123456789"
CHANNELS: dict[str, dict[str, Any]] = {
    "slack": {"kind": "slack", "url_env": "TEST_SLACK_URL"},
    "teams": {"kind": "teams", "url_env": "TEST_TEAMS_URL"},
    "hook": {"kind": "webhook", "url_env": "TEST_HOOK_URL", "secret_env": "TEST_HOOK_SECRET", "timeout_seconds": 5},
}


@pytest.fixture
def receivers(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Slack, Teams (answers 202 like a workflow) and webhook receivers, their URLs in the env."""
    from tests.support.receivers import Receiver

    started = {
        "slack": Receiver(),
        "teams": Receiver(ok_status=202),
        "hook": Receiver(),
    }
    for name, receiver in started.items():
        receiver.start()
        monkeypatch.setenv(CHANNELS[name]["url_env"], receiver.url)
    monkeypatch.setenv("TEST_HOOK_SECRET", WEBHOOK_SECRET)
    yield started
    for receiver in started.values():
        receiver.stop()
