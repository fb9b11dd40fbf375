"""The accepted window of record timestamps, shared by the fast path and the careful validator.

Example:
    >>> from datetime import UTC
    >>> TimeWindow.around(datetime(2026, 11, 28, tzinfo=UTC), 400, 300).end
    datetime.datetime(2026, 11, 28, 0, 5, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class TimeWindow:
    """The record timestamps accepted, inclusive; `why` names the config keys that set it.

    Why a window: a record dated 0001 or 9999 is a bug at the source, and it would make a
    ledger partition of its own and move the dashboard's "data up to" line to 9999.
    """

    start: datetime
    end: datetime
    why: str = ""

    @classmethod
    def around(cls, now: datetime, days_back: int, future_seconds: int, why: str = "") -> TimeWindow:
        return cls(now - timedelta(days=days_back), now + timedelta(seconds=future_seconds), why)

    def reason(self, value: Any) -> str:
        return (
            f"timestamp: {value!r} is outside the accepted window {self.start:%Y-%m-%dT%H:%M:%SZ} .. "
            f"{self.end:%Y-%m-%dT%H:%M:%SZ}{f' ({self.why})' if self.why else ''}"
        )
