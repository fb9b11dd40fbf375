"""The collector: polls usage sources on a schedule into the parquet ledger.

Public surface: the config objects, the exception tree, the source registry and `main`
(the secret scrubber and the logging live in `foundation`).
"""

from ._jobs import SOURCE_FACTORIES, Job
from ._usage import UsageEndpointSource
from .config import Config, SourceConfig, load_config
from .errors import BadPageError, CollectorError, ConfigError, PollError, SourceAuthError, SourceHTTPError

__all__ = [
    "SOURCE_FACTORIES",
    "BadPageError",
    "CollectorError",
    "Config",
    "ConfigError",
    "Job",
    "PollError",
    "SourceAuthError",
    "SourceConfig",
    "SourceHTTPError",
    "UsageEndpointSource",
    "load_config",
]
