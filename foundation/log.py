"""Logging through the standard `logging` module: one JSON object per line, secrets scrubbed.

Why stdlib `logging` under one formatter: levels, per-package loggers and thread-safe handlers
come with it, and the records of libraries (uvicorn, httpx, APScheduler) reach the same
handler, so every line the product prints passes through `scrub` in one place, whatever put a
token there (an exception message, an error body a source echoed). Each line is `ts` (UTC, ms),
`level`, `logger`, `event`, then the event's fields; a traceback is the field `exception`.

The product's loggers (`event_logger` names) log at the chosen level (`--log-level` or
`$MONITOR_LOG_LEVEL`, default info); libraries log warnings and errors only. Without
`configure_logging` (code run in-process), the first event installs the handler on stderr.

Example:
    >>> record = logging.makeLogRecord({"name": "collector", "levelno": 20, "levelname": "INFO",
    ...     "msg": "poll", "created": 0.0, FIELDS: {"source": "simulator", "records": 10}})
    >>> JsonFormatter().format(record)
    '{"ts":"1970-01-01T00:00:00.000+00:00","level":"info","logger":"collector","event":"poll","source":"simulator","records":10}'
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from .scrub import scrub

__all__ = [
    "ENV_LEVEL",
    "LEVELS",
    "EventLogger",
    "JsonFormatter",
    "add_log_level_argument",
    "configure_logging",
    "event_logger",
    "parse_level",
]
ENV_LEVEL = "MONITOR_LOG_LEVEL"
LEVELS = ("debug", "info", "warning", "error")
FIELDS = "event_fields"
"""The `LogRecord` attribute that carries an event's fields (set through `extra`)."""
_LIBRARY_LEVEL = logging.WARNING
_lock = threading.Lock()
_ours: set[str] = set()


class JsonFormatter(logging.Formatter):
    """One JSON line per record, scrubbed; a record not made by `EventLogger` has its message as `event`."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        body: dict[str, Any] = {"ts": ts, "level": record.levelname.lower(), "logger": record.name}
        body["event"] = record.getMessage()
        for key, value in getattr(record, FIELDS, {}).items():
            body.setdefault(key, value)
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            body["stack"] = self.formatStack(record.stack_info)
        return scrub(orjson.dumps(body, default=str).decode())


class _JsonHandler(logging.Handler):
    """Writes each line to `stream`, or to whatever `sys.stderr` is at the time (so pytest's capture sees it)."""

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__()
        self.target = stream
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = self.target or sys.stderr
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:  # logging must never take the caller down
            self.handleError(record)


class _Installed:
    """What the last `configure_logging` set up (class attributes: there is one root logger)."""

    handler: _JsonHandler | None = None
    level: int = logging.INFO


class EventLogger:
    """`log(event, **fields)` logs at info; `.debug`, `.warning`, `.error`, `.exception` likewise.

    Why events and fields rather than messages: the lines are read by programs (tests, log
    shippers) as much as by people, and a field keeps its name and type.
    """

    __slots__ = ("logger",)

    def __init__(self, name: str) -> None:
        self.logger = logging.getLogger(name)

    def __call__(self, event: str, **fields: Any) -> None:
        self._emit(logging.INFO, event, fields)

    def debug(self, event: str, **fields: Any) -> None:
        self._emit(logging.DEBUG, event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._emit(logging.INFO, event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._emit(logging.WARNING, event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._emit(logging.ERROR, event, fields)

    def exception(self, event: str, **fields: Any) -> None:
        """An error with the current exception's traceback as the field `exception`."""
        self._emit(logging.ERROR, event, fields, exc_info=True)

    def _emit(self, level: int, event: str, fields: dict[str, Any], exc_info: bool = False) -> None:
        if _Installed.handler is None:
            configure_logging(_env_level_or_info(), replace=False)
        if self.logger.isEnabledFor(level):
            self.logger.log(level, event, exc_info=exc_info, extra={FIELDS: fields}, stacklevel=3)


def event_logger(name: str) -> EventLogger:
    """The product's logger for package `name` (e.g. "collector"), at the configured level."""
    with _lock:
        _ours.add(name)
        logging.getLogger(name).setLevel(_Installed.level)
    return EventLogger(name)


def parse_level(text: str, source: str = ENV_LEVEL) -> int:
    """`logging.INFO` for "info" (any case); ValueError naming `source` and the choices otherwise."""
    name = text.strip().lower()
    if name not in LEVELS:
        raise ValueError(f"{source}: {text[:20]!r} is not a log level; use one of {', '.join(LEVELS)}")
    return int(logging.getLevelName(name.upper()))


def configure_logging(level: str | int | None = None, stream: TextIO | None = None, replace: bool = True) -> None:
    """One JSON handler on the root logger (replacing the one an earlier call installed, so a
    CLI's `main` can run many times in one process); the product's loggers at `level` (None:
    `$MONITOR_LOG_LEVEL`, else info), libraries at warning; `stream` None means stderr."""
    numeric = level if isinstance(level, int) else parse_level(level or os.environ.get(ENV_LEVEL) or "info")
    root = logging.getLogger()
    with _lock:
        if _Installed.handler is not None and not replace:
            return
        if _Installed.handler is not None:
            root.removeHandler(_Installed.handler)
        _Installed.handler, _Installed.level = _JsonHandler(stream), numeric
        root.addHandler(_Installed.handler)
        root.setLevel(max(numeric, _LIBRARY_LEVEL))
        for name in _ours:
            logging.getLogger(name).setLevel(numeric)


def add_log_level_argument(parser: argparse.ArgumentParser) -> None:
    """`--log-level`, defaulting to `$MONITOR_LOG_LEVEL` (checked by argparse: a bad value is a usage error)."""
    help_text = f"{', '.join(LEVELS)} (default ${ENV_LEVEL}, else info)"
    default = os.environ.get(ENV_LEVEL) or "info"
    parser.add_argument("--log-level", type=_level_name, default=default, metavar="LEVEL", help=help_text)


def _level_name(text: str) -> str:
    try:
        parse_level(text, f"--log-level or ${ENV_LEVEL}")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text.strip().lower()


def _env_level_or_info() -> int:
    try:
        return parse_level(os.environ.get(ENV_LEVEL) or "info")
    except ValueError:
        return logging.INFO
