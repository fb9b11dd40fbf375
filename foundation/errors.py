"""The product's one error tree: everything raised on purpose is a `MonitorError`.

Why one tree: a CLI catches `ConfigError` once (one line, exit code 2) whichever component's
config was wrong, and a caller can tell "we refused on purpose" from a bug. Components add
their own subclasses in their own `errors` modules; only the base classes live here.

    MonitorError                      foundation.errors: base of every error raised on purpose
    ├── ConfigError                   a bad config key, file or env var; the message names the key
    │   │                             path and the fix; every CLI exits 2 with it
    │   ├── BudgetFileError           alerts: a bad line of the budgets file (names the line)
    │   │   └── BudgetFileChanged     a Budgets-page save refused: the file changed since the page loaded
    │   └── AnomalyFileError          alerts: a bad [anomaly] table (the budgets file's error adds the line)
    ├── CollectorError                collector.errors
    │   ├── PollError                 a poll failed; the cursor stays, the next poll retries
    │   │   ├── SourceHTTPError       the source answered with an error status (after retries)
    │   │   ├── SourceAuthError       401/403: the token env var is missing or wrong
    │   │   ├── BadPageError          the body is not the contract's JSON
    │   │   ├── PageTooLargeError     the body is over the source's max_page_bytes
    │   │   └── CursorCycleError      next_cursor repeats one already seen in this poll
    │   ├── BadRecord (ValueError)    collector: a record breaking the contract (quarantined, with why)
    │   ├── LeaseLost                 collector: the failover lease's fencing token is not ours: no write
    │   └── FetchError                collector._fx_job: the reference rates could not be fetched
    ├── GatewayError                  gateway.errors (serving errors are answered, never raised)
    │   ├── BodyTooLarge              gateway: a request body over max_request_body_mib (413)
    │   ├── ClientGone                gateway: the client left before its body ended
    │   ├── PricingUnavailable        gateway._limiter: a pricing batch failed; its records wait
    │   └── StateUnavailable          gateway._limit_store: the limits' state (Redis) did not answer
    │       └── StateReset            the state lost its data (Redis restarted empty): rebuilt
    ├── AlertError                    alerts.errors
    │   ├── DeliveryError             SMTP did not accept a message (`temporary`: retry)
    │   │   └── ChannelError          a Slack / Teams / webhook post was not accepted
    │   └── Unsendable                an outbox entry that can never go out; it fails alone
    ├── AccessError (ValueError)      access.policy: a bad access file
    ├── LimitRuleError (ValueError)   foundation.limit_rules: a bad [[limits]] / [key_labels] entry
    ├── RateFileError (ValueError)    ledger.pricing.fx: a bad rates file
    ├── SqlRefused (ValueError)       ledger.queries: a SQL box query refused before it runs
    ├── Conflict                      ledger.storage.table: another host committed first; nothing landed
    ├── Moved                         ledger.storage.remote: an S3 state object changed since it was read
    ├── Unsupported                   ledger.storage.delta_log: a log feature our reader does not follow
    ├── BadParameter (ValueError)     foundation.usage_contract: a usage endpoint parameter (400)
    ├── CursorError (ValueError)      simulator: a cursor the simulator did not issue (400)
    └── DashboardMissing              monitor_cli: the installed package lacks the dashboard

The parsers' errors are also `ValueError`s: callers turn them into a `ConfigError` or a logged
failure where they meet a config. `tests/foundation/test_error_tree.py` checks every public
error the product defines is in this tree (private control-flow signals such as `_Reject` stay
outside it).

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
