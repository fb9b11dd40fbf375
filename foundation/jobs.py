"""The unit of scheduling every component hands to the collector's runner.

Why in the foundation: the collector's job factories, the rates job and the alerts engine all
build `Job`s; the alerts must not import the collector to do so (the collector's `__main__`
is the one place that wires the alert jobs into its schedule).

Example:
    >>> Job(name="compact", run=lambda: True, daily_hour_utc=2)  # doctest: +ELLIPSIS
    Job(name='compact', run=<function <lambda> at ...>, interval_seconds=None, daily_hour_utc=2)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Job"]


@dataclass(kw_only=True)
class Job:
    """A named callable with a schedule: every `interval_seconds`, or daily at `daily_hour_utc`."""

    name: str
    run: Callable[[], bool]
    interval_seconds: int | None = None
    daily_hour_utc: int | None = None
    close: Callable[[], None] = field(default=lambda: None, repr=False, compare=False)
    """Releases what the job holds open (a source's HTTP client) once the run is over."""
