"""The product's one error tree: everything raised on purpose is a `MonitorError`.

Why one tree: a CLI catches `ConfigError` once (one line, exit code 2) whichever component's
config was wrong, and a caller can tell "we refused on purpose" from a bug. Components add
their own subclasses in their own `errors` modules; only the base classes live here.

    MonitorError                      foundation.errors: base of every error raised on purpose
    ├── ConfigError                   a bad config key, file or env var; the message names the key
    │   │                             path and the fix; every CLI exits 2 with it
    │   └── BudgetFileError           alerts: a bad line of the budgets file (names the line)
    │       └── BudgetFileChanged     a Budgets-page save refused: the file changed since the page loaded
    ├── CollectorError                collector.errors
    │   └── PollError                 a poll failed; the cursor stays, the next poll retries
    │       ├── SourceHTTPError       the source answered with an error status (after retries)
    │       ├── SourceAuthError       401/403: the token env var is missing or wrong
    │       ├── BadPageError          the body is not the contract's JSON
    │       ├── PageTooLargeError     the body is over the source's max_page_bytes
    │       └── CursorCycleError      next_cursor repeats one already seen in this poll
    └── GatewayError                  gateway.errors (serving errors are answered, never raised)

Value errors of pure parsers (`access.AccessError`, `gateway.LimitRuleError`,
`ledger.pricing.fx.RateFileError`, alerts' `DeliveryError`) stay `ValueError`/`Exception` subclasses:
callers turn them into a `ConfigError` or a logged failure where they meet a config.

Example:
    >>> issubclass(ConfigError, MonitorError)
    True
"""

from __future__ import annotations

__all__ = ["ConfigError", "MonitorError"]


class MonitorError(Exception):
    """Base of every error the product raises on purpose."""


class ConfigError(MonitorError):
    """A config problem; the message names the key path and the fix (CLIs exit 2 with it)."""
