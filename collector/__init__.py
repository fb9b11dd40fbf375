"""The collector: polls usage sources on a schedule into the parquet ledger.

Public surface: the exception tree, the source registry and the usage-endpoint source. The
config objects live in `foundation.config`, the `Job` type in `foundation.jobs`, the secret
scrubber and the logging in `foundation.scrub` and `foundation.log`.
"""

from ._jobs import SOURCE_FACTORIES
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
]
