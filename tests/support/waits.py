"""Waiting on a condition with a deadline: the one way a test waits for something another thread or process does.

Example:
    >>> wait_until(lambda: True, "nothing")
    True
    >>> poll_until(lambda: None, timeout=0.05)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll_until(condition: Callable[[], T], timeout: float = 30.0, every: float = 0.02) -> T | None:
    """Poll `condition` until it returns something true, and return that; None once `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        if time.monotonic() > deadline:
            return None
        time.sleep(every)
    return found


def wait_until(condition: Callable[[], T], what: str, timeout: float = 30.0, every: float = 0.02) -> T:
    """Poll `condition` until it returns something true, and return that; AssertionError naming `what` once
    `timeout` seconds have passed."""
    found = poll_until(condition, timeout, every)
    if found is None:
        raise AssertionError(f"{what}: not within {timeout:g} s")
    return found
