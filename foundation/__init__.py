"""What every component shares, and nothing else: it imports none of them.

The ledger, the collector, the gateway, the alerts, the simulator, the access rules and the
dashboard all build on this package; it holds the product's config mechanism, the one error
tree, logging, the job and context types, period boundaries, money formatting and the
dashboard's URL state. Standard library only (plus `orjson`), so importing it is cheap.
"""

from __future__ import annotations

from .money import money
from .view import ViewState, dashboard_url

__all__: list[str] = ["ViewState", "dashboard_url", "money"]
