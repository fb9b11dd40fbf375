"""The interface of the limits' shared state, and what both of its stores share.

Why one small Protocol: the limiter speaks to a store the same way whether every replica opens
one SQLite file on one host (`_limit_state.LimitState`, the default) or all of them share a
Redis or Valkey server (`_limit_redis.RedisStore`, `limits_state_url`). What must be atomic
across replicas is one call: `admit`, on the request path, checks and counts the rate limits
and checks the spend limits, holding the request's worst-case cost until its priced record
replaces it (`add_usage`) or it lapses (`take_requests` and `reserve` are its two halves). A
store that cannot answer raises `sqlite3.Error` or `StateUnavailable`, which the limiter turns
into fail-open or fail-closed per request.

Example:
    >>> hold = Hold(name="search daily", period="2026-03-10", amount=25.0, cost=0.02, hard=True)
    >>> hold.cost
    0.02
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from .errors import GatewayError

RESERVATION_SECONDS = 30.0
"""A reservation lapses this long after its replica last renewed it (every sync, while its request
runs), so a replica killed mid-request does not hold its budget for ever."""


class StateUnavailable(GatewayError):
    """The shared state did not answer (Redis down, too slow, reset and not yet rebuilt)."""


class StateReset(StateUnavailable):
    """The state lost its data since this replica last wrote (a new epoch): nothing was written."""


@dataclass(frozen=True, kw_only=True)
class Hold:
    """One spend limit's share of a request: its period, the limit's amount and the cost reserved."""

    name: str
    period: str
    amount: float
    cost: float
    hard: bool


Rate = tuple[str, int | None, int | None, bool]
"""(limit name, requests_per_minute, tokens_per_minute, hard)."""
TokenRow = tuple[str, int, int]
"""(limit name, minute, tokens)."""
SpendRow = tuple[str, str, int, float]
"""(limit name, period, minute, cost)."""
Settled = tuple[str, str, str]
"""(reservation token, limit name, period): a reservation its record's spend replaces."""


class LimitStore(Protocol):
    def take_requests(self, limits: Iterable[Rate], minute: int) -> dict[str, str]:
        """Count one request against each rate limit; {name: "requests" | "tokens"} for the full ones.

        When one full limit is hard nothing is counted (the request is refused), else every limit counts it.
        """
        ...

    def reserve(self, token: str, holds: list[Hold], now: float) -> dict[str, float]:
        """Hold each limit's worst-case cost for the request `token`; {name: spent} for the limits reached.

        A limit is reached when its period's spent plus reserved is at least its amount; when a
        reached limit is hard nothing is held (the request is refused), else every hold is.
        """
        ...

    def admit(
        self, token: str, holds: list[Hold], rates: list[Rate], minute: int, now: float
    ) -> tuple[dict[str, float], dict[str, str]]:
        """`reserve` and `take_requests` of one request as one atomic step: (reached, full).

        A hard spend limit reached: nothing held or counted, rates not looked at. A hard rate
        limit full: nothing held or counted. Else every hold is held and every rate counts it.
        """
        ...

    def renew(self, held: list[Settled], now: float) -> None:
        """Keep the reservations of requests still running from lapsing."""
        ...

    def release(self, held: list[Settled]) -> None:
        """Drop reservations whose requests cost nothing (refused by another limit, failed)."""
        ...

    def add_usage(
        self, tokens: list[TokenRow], spend: list[SpendRow], settled: list[Settled] | None = None, epoch: str = ""
    ) -> None:
        """Add tokens and spend, and drop the reservations they settle, in one atomic step.

        StateReset (nothing written) when the state's epoch is no longer `epoch`.
        """
        ...

    def spent(self, periods: Iterable[tuple[str, str]]) -> dict[tuple[str, str], float]:
        """Each (limit, period)'s spend: the ledger's figure plus the replicas' own since it."""
        ...

    def reserved(self, periods: Iterable[tuple[str, str]], now: float) -> dict[tuple[str, str], float]:
        """Each (limit, period)'s cost reserved by requests in flight."""
        ...

    def set_ledger(self, name: str, period: str, amount: float, as_of: int) -> None:
        """The ledger's spend for the period before minute `as_of`; it replaces the own spend before `as_of`."""
        ...

    def claim(self, role: str, holder: str, seconds: float, now: float) -> bool:
        """True when `holder` holds the lease `role` (taken, or renewed) for the next `seconds`."""
        ...

    def epoch(self) -> str:
        """The id of the state's life: it changes when the state was lost (a Redis restarted empty)."""
        ...

    def purge(self, before_minute: int, now: float) -> None:
        """Drop rate rows before `before_minute`, old spend rows and lapsed reservations."""
        ...

    def checkpoint(self) -> None: ...

    def close(self) -> None: ...
