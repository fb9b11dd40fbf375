"""The alerts' exceptions (their place in the product's tree: foundation.errors).

AlertError                 a MonitorError; a bad budgets file is alerts.BudgetFileError, a ConfigError
├── DeliveryError          SMTP did not accept a message (`temporary`: worth a retry)
│   └── ChannelError       a Slack / Teams / webhook post was not accepted
└── Unsendable             an outbox entry that can never go out as it is; it fails alone
"""

from __future__ import annotations

from foundation.errors import MonitorError

__all__ = ["AlertError"]


class AlertError(MonitorError):
    """Base of every error the alerts raise on purpose (but config errors)."""
