"""The unit of scheduling every component hands to the collector's runner.

Why its own module: the collector's job factories, the rates job and the alerts engine all
build `Job`s; a module of its own lets each import the type without importing the others.

Example:
    >>> Job("compact", lambda: True, daily_hour_utc=2)
    Job(name='compact', run=<function <lambda> at ...>, interval_seconds=None, daily_hour_utc=2)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Job:
    """A named callable with a schedule: every `interval_seconds`, or daily at `daily_hour_utc`."""

    name: str
    run: Callable[[], bool]
    interval_seconds: int | None = None
    daily_hour_utc: int | None = None
