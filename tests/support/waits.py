"""Waiting on a condition with a deadline: the one way a test waits for something another thread or process does.

Example:
    >>> wait_until(lambda: True, "nothing")
"""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(condition: Callable[[], object], what: str, timeout: float = 30.0, every: float = 0.02) -> None:
    """Poll `condition` until it is true; AssertionError naming `what` once `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(every)
