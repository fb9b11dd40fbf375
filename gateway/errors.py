"""The gateway's exceptions: a config problem is the only one it raises on purpose.

Everything that goes wrong while serving (upstream down, a record that cannot be written) is
answered, logged and counted instead, because the user's request must never fail for it.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""


class ConfigError(GatewayError):
    """A config problem; the message names the key and the fix (the CLI exits 2 with it)."""
