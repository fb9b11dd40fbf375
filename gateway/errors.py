"""The gateway's exceptions: a config problem, and a pricing batch that failed (`PricingUnavailable`,
a GatewayError raised by the pricing worker and caught by its sync loop, which keeps the records).

Everything that goes wrong while serving (upstream down, a record that cannot be written) is
answered, logged and counted instead, because the user's request must never fail for it.
`ConfigError` is the product's one (foundation.errors), re-exported as part of this package's
public surface.
"""

from __future__ import annotations

from foundation.errors import ConfigError, MonitorError

__all__ = ["ConfigError", "GatewayError"]


class GatewayError(MonitorError):
    """Base of every error the gateway raises on purpose (but config errors)."""
