"""What every component shares, and nothing else: it imports none of them.

The ledger, the collector, the gateway, the alerts, the simulator, the access rules, the
dashboard and the `mistral-monitor` command all build on this package. Standard library only
(plus `orjson`), so importing it is cheap. One module a job:

- `errors`: the one error tree (`MonitorError` → `ConfigError`, and each component's own);
- `settings`: `Setting`, `validate` and `default`, the one declarative validator of every TOML
  table: the config's, the budgets file's (`[[budgets]]`, `[anomaly]`, `[[limits]]`, the key
  tables) and the access file's; each default is written once, in its `Setting`;
- `config`: the product's config (`Config`, `load_config`), declared with `Setting`s;
- `log`, `scrub`: JSON-line logging through `logging`, and the one secret scrubber;
- `jobs`: the `Job` every component hands to the collector's scheduler;
- `periods`: day, week and month boundaries in a time zone (budgets, limits, statements);
- `money`: the one money formatter; `view`: the dashboard's URL state (`ViewState`).

Example:
    >>> from foundation import ConfigError, MonitorError
    >>> issubclass(ConfigError, MonitorError)
    True
"""

from __future__ import annotations

from .config import Config, SourceConfig, load_config
from .errors import ConfigError, MonitorError
from .jobs import Job
from .log import configure_logging, event_logger
from .money import email_money, money
from .scrub import register_secret, scrub
from .settings import Setting, load_toml, validate
from .view import ViewState, dashboard_url

__all__ = [
    "Config",
    "ConfigError",
    "Job",
    "MonitorError",
    "Setting",
    "SourceConfig",
    "ViewState",
    "configure_logging",
    "dashboard_url",
    "email_money",
    "event_logger",
    "load_config",
    "load_toml",
    "money",
    "register_secret",
    "scrub",
    "validate",
]
