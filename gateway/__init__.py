"""The recording gateway: a transparent proxy in front of the Mistral API that records one
usage record per request and serves them as the usage endpoint contract v1.

Public surface: `create_app`, the config objects and loaders, the exceptions, and the pure
helpers the collector-side tools may reuse (`build_record`, `usage_counts`, `ratelimit_from`,
`endpoint_template`: a request path as its route template, ids replaced by `{id}`), and, re-exported,
the stdlib-only budgets-file parser it enforces (`foundation.limit_rules`, shared with the alerts
engine and the Budgets page). Each is imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from foundation.limit_rules import (
        NO_PROJECT,
        Limit,
        LimitRuleError,
        Projects,
        normal_name,
        parse_book,
        parse_key_labels,
        parse_limit,
        parse_limits,
        parse_toml,
        read_toml,
        toml_string,
    )

    from ._app import create_app
    from ._buffer import Buffer
    from ._endpoints import endpoint_template
    from ._record import Exchange, build_record, ratelimit_from, usage_counts
    from .config import GatewayConfig, Secrets, load_config, parse_config, read_secrets
    from .errors import ConfigError, GatewayError

_EXPORTS = {
    "create_app": "._app",
    "Buffer": "._buffer",
    "endpoint_template": "._endpoints",
    "NO_PROJECT": "foundation.limit_rules",
    "Limit": "foundation.limit_rules",
    "LimitRuleError": "foundation.limit_rules",
    "Projects": "foundation.limit_rules",
    "normal_name": "foundation.limit_rules",
    "parse_book": "foundation.limit_rules",
    "parse_key_labels": "foundation.limit_rules",
    "parse_limit": "foundation.limit_rules",
    "parse_limits": "foundation.limit_rules",
    "parse_toml": "foundation.limit_rules",
    "read_toml": "foundation.limit_rules",
    "toml_string": "foundation.limit_rules",
    "Exchange": "._record",
    "build_record": "._record",
    "ratelimit_from": "._record",
    "usage_counts": "._record",
    "GatewayConfig": ".config",
    "Secrets": ".config",
    "load_config": ".config",
    "parse_config": ".config",
    "read_secrets": ".config",
    "ConfigError": ".errors",
    "GatewayError": ".errors",
}


def __getattr__(name: str) -> Any:
    """Imported on first use, so reading one name does not load the server."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gateway' has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


__all__ = [
    "NO_PROJECT",
    "Buffer",
    "ConfigError",
    "Exchange",
    "GatewayConfig",
    "GatewayError",
    "Limit",
    "LimitRuleError",
    "Projects",
    "Secrets",
    "build_record",
    "create_app",
    "endpoint_template",
    "load_config",
    "normal_name",
    "parse_book",
    "parse_config",
    "parse_key_labels",
    "parse_limit",
    "parse_limits",
    "parse_toml",
    "ratelimit_from",
    "read_secrets",
    "read_toml",
    "toml_string",
    "usage_counts",
]
