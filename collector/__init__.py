"""The collector: polls usage sources on a schedule into the parquet ledger.

Public surface: the exception tree, the source registry, the secret scrubber (shared with the
alerts engine's outbound posts). The config objects live in `foundation.config`,
the `Job` type in `foundation.jobs`.
"""

from ._jobs import SOURCE_FACTORIES
from ._scrub import register_secret, scrub
from ._usage import UsageEndpointSource
from .errors import BadPageError, CollectorError, PollError, SourceAuthError, SourceHTTPError

__all__ = [
    "SOURCE_FACTORIES",
    "BadPageError",
    "CollectorError",
    "PollError",
    "SourceAuthError",
    "SourceHTTPError",
    "UsageEndpointSource",
    "register_secret",
    "scrub",
]
