"""The collector's exceptions (their place in the product's tree: foundation.errors):

CollectorError             a MonitorError; config problems are foundation.errors.ConfigError
└── PollError              a poll failed; the cursor stays, the next poll retries
    ├── SourceHTTPError    the source answered with an error status (after retries)
    ├── SourceAuthError    401/403: the token env var is missing or wrong
    ├── BadPageError       the body is not the contract's JSON (truncated, not JSON, wrong shape)
    ├── PageTooLargeError  the body is over the source's max_page_bytes (not retried in this poll)
    └── CursorCycleError   next_cursor repeats one already seen in this poll
└── LeaseLost              the failover lease is no longer this process's: the job stops, unwritten
"""

from __future__ import annotations

from foundation.errors import MonitorError


class CollectorError(MonitorError):
    """Base of every error the collector raises on purpose (but config errors)."""


class PollError(CollectorError):
    """A poll that did not complete; nothing after the last good page was lost."""


class SourceHTTPError(PollError):
    """The source kept answering with an error status."""


class SourceAuthError(PollError):
    """The source refused our credentials."""


class BadPageError(PollError):
    """The body could not be read as a page of the contract."""


class PageTooLargeError(PollError):
    """The body went over `max_page_bytes`; the poll stops before reading more."""


class CursorCycleError(PollError):
    """The source's cursors go round in a circle; the cursor is not moved into the circle."""


class LeaseLost(CollectorError):
    """The fencing token is no longer current (or cannot be checked): nothing is written."""

    def __init__(self, message: str, token: int | None = None) -> None:
        super().__init__(message)
        self.token = token
