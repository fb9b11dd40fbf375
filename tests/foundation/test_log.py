"""The one logging setup: JSON lines with a level, one scrubber for every component's logger,
level filtering, and one handler however often a CLI's `main` configures it."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

import alerts._jobs
import collector._jobs
import gateway._recorder
from foundation.log import EventLogger, configure_logging, event_logger
from foundation.scrub import register_secret
from gateway import create_app
from gateway.config import GatewayConfig, Secrets

SECRET = "sekrit-registered-once-5f4e3d2c1b"
register_secret(SECRET)
COMPONENTS: dict[str, EventLogger] = {
    "collector": collector._jobs.log,
    "gateway": gateway._recorder.log,
    "alerts": alerts._jobs.log,
}
Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, Lines]]:
    """Configure logging at debug into a buffer; afterwards, back to stderr at the default level."""
    buffer = io.StringIO()
    configure_logging("debug", stream=buffer)
    yield buffer, lambda: [orjson.loads(line) for line in buffer.getvalue().splitlines()]
    configure_logging()


@pytest.mark.parametrize("name", sorted(COMPONENTS))
def test_a_secret_registered_once_is_scrubbed_from_every_components_line(name, captured):
    buffer, lines = captured
    log = COMPONENTS[name]
    log.warning("poll_failed", error=f"HTTP 400: echo {SECRET}")
    try:
        raise RuntimeError(f"upstream said: key {SECRET} refused")
    except RuntimeError:
        log.exception("job_crashed", job="demo")
    assert SECRET not in buffer.getvalue()
    first, second = lines()
    assert (first["logger"], first["level"], first["event"]) == (name, "warning", "poll_failed")
    assert first["error"] == "HTTP 400: echo ***"
    assert (second["level"], second["event"], second["job"]) == ("error", "job_crashed", "demo")
    assert "RuntimeError: upstream said: key *** refused" in second["exception"]
    assert second["exception"].startswith("Traceback (most recent call last)")


def test_the_gateways_token_and_salt_are_scrubbed_from_the_collectors_and_alerts_lines(tmp_path, captured):
    """One registry: what the gateway registers at start is masked in every other component's lines."""
    buffer, lines = captured
    token, salt = "gw-usage-token-9a8b7c6d5e", b"gw-key-salt-1f2e3d4c5b"
    with TestClient(create_app(GatewayConfig(db_path=tmp_path / "buffer.sqlite3"), Secrets(token, salt))):
        pass  # started and stopped, so its buffer and lock file are closed
    buffer.seek(0), buffer.truncate()  # only the lines below count
    collector._jobs.log.error("poll_failed", error=f"HTTP 400: {token}")
    alerts._jobs.log("alerts", note=f"salt {salt.decode()}")
    assert token not in buffer.getvalue() and salt.decode() not in buffer.getvalue()
    assert [line.get("error") or line.get("note") for line in lines()] == ["HTTP 400: ***", "salt ***"]


def test_each_line_is_one_json_object_in_a_fixed_key_order(captured):
    buffer, lines = captured
    log = event_logger("collector")
    log("poll", source="sim", note="two\nlines", records=3, ok=True)
    text = buffer.getvalue()
    assert text.count("\n") == 1
    [line] = lines()
    assert list(line) == ["ts", "level", "logger", "event", "source", "note", "records", "ok"]
    assert (line["level"], line["note"], line["records"], line["ok"]) == ("info", "two\nlines", 3, True)
    assert line["ts"].endswith("+00:00") and len(line["ts"]) == len("2026-05-14T09:00:00.000+00:00")
    assert '"records":3,"ok":true' in text


def test_debug_is_hidden_at_info_and_warnings_pass_at_warning():
    buffer = io.StringIO()
    log = event_logger("gateway")
    try:
        configure_logging("info", stream=buffer)
        log.debug("request", id="r1")
        log("retention_purge", deleted=2)
        configure_logging("warning", stream=buffer)
        log("retention_purge", deleted=3)
        log.warning("retention_failure", error="disk full")
        configure_logging("debug", stream=buffer)
        log.debug("request", id="r2")
    finally:
        configure_logging()
    events = [(x["level"], x["event"]) for x in map(orjson.loads, buffer.getvalue().splitlines())]
    assert events == [("info", "retention_purge"), ("warning", "retention_failure"), ("debug", "request")]


def test_configuring_twice_keeps_one_handler_and_the_newest_stream():
    old, new = io.StringIO(), io.StringIO()
    try:
        configure_logging("info", stream=old)
        configure_logging("info", stream=new)
        configure_logging("info", stream=new)
        event_logger("alerts")("alerts", sent=1)
        ours = [h for h in logging.getLogger().handlers if type(h).__name__ == "_JsonHandler"]
    finally:
        configure_logging()
    assert len(ours) == 1
    assert old.getvalue() == "" and new.getvalue().count("\n") == 1


def test_libraries_reach_the_same_handler_at_warning_only_and_scrubbed(captured):
    buffer, lines = captured
    library = logging.getLogger("apscheduler.scheduler")
    library.info("Running job %s", "poll")
    library.warning("Run time of job %s was missed; Authorization: Bearer %s", "poll", SECRET)
    [line] = lines()
    assert (line["logger"], line["level"]) == ("apscheduler.scheduler", "warning")
    assert line["event"] == "Run time of job poll was missed; Authorization: Bearer ***"
    assert SECRET not in buffer.getvalue()


def test_a_bad_level_names_the_setting_and_the_choices():
    with pytest.raises(ValueError, match=r"MONITOR_LOG_LEVEL: 'loud' is not a log level; use one of debug, info"):
        configure_logging("loud")
