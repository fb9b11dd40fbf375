"""The recording gateway: a transparent proxy in front of the Mistral API that records one
usage record per request and serves them as the usage endpoint contract v1.

Public surface: `create_app`, the config objects and loaders, the exceptions, and the pure
helpers the collector-side tools may reuse (`build_record`, `usage_counts`, `ratelimit_from`,
`endpoint_template`: a request path as its route template, ids replaced by `{id}`).
"""

from ._app import create_app
from ._buffer import Buffer
from ._endpoints import endpoint_template
from ._record import Exchange, build_record, ratelimit_from, usage_counts
from .config import GatewayConfig, Secrets, load_config, parse_config, read_secrets
from .errors import ConfigError, GatewayError

__all__ = [
    "Buffer",
    "ConfigError",
    "Exchange",
    "GatewayConfig",
    "GatewayError",
    "Secrets",
    "build_record",
    "create_app",
    "endpoint_template",
    "load_config",
    "parse_config",
    "ratelimit_from",
    "read_secrets",
    "usage_counts",
]
