"""A simulated Mistral usage endpoint (contract v1, docs/usage-endpoint.md) for the collector.

It serves a month of realistic, deterministic traffic plus a live trickle: the same seed
gives the same records in every run, and cursors survive a restart.

Example:
    >>> import httpx
    >>> from simulator import start_server
    >>> with start_server(seed=1, days=2, rate=6.0) as sim:
    ...     page = httpx.get(f"{sim.url}/v1/usage/requests", params={"limit": 100}).json()
    >>> len(page["data"]), page["has_more"]
    (100, True)
"""

from foundation.usage_contract import DEFAULT_LIMIT, MAX_LIMIT

from ._catalog import FINE_TUNED, KEY_IDS, MODEL_NAMES, PROJECTS
from ._cursor import CursorError, Position, decode, encode
from ._encode import BAD_KINDS, bad_kind, bad_kinds
from ._http import SimulatorHandle, start_server
from ._incidents import Runaway
from ._records import generate_records

__all__ = [
    "BAD_KINDS",
    "DEFAULT_LIMIT",
    "FINE_TUNED",
    "KEY_IDS",
    "MAX_LIMIT",
    "MODEL_NAMES",
    "PROJECTS",
    "CursorError",
    "Position",
    "Runaway",
    "SimulatorHandle",
    "bad_kind",
    "bad_kinds",
    "decode",
    "encode",
    "generate_records",
    "start_server",
]
