"""A `mistral_admin` source: billed usage, spend limit and rate limits from Mistral's Admin API.

Why this schedule: the bill of the current month changes all the time, so it is fetched at
most every `usage_every_seconds` (default hourly); the previous month gets late corrections
in its first days, so it is fetched daily while today is within `previous_month_days`. The
spend limit and rate limits are read on every poll (cheap, and the gauge wants them fresh).
Every raw response is kept as a snapshot first; a body the parser does not recognise logs one
warning and leaves the stored table as it was; a body it reads only in part stores what it
read, keeps the unreadable entries raw, and keeps those models' earlier readable lines.

Example:
    >>> from datetime import UTC
    >>> from pathlib import Path
    >>> from foundation.config import Config
    >>> from simulator import start_server
    >>> now = datetime(2026, 5, 14, 10, tzinfo=UTC)
    >>> with start_server(seed=4, days=0.5, rate=2.0, clock=now.timestamp) as sim:
    ...     source = SourceConfig(name="mistral_admin", kind="mistral_admin", url=sim.url)
    ...     context = Context.build(Config(data_dir=Path("data"), sources=(source,)))
    ...     with MistralAdminSource(source=source, context=context, clock=lambda: now) as admin:
    ...         admin.poll()
    AdminPollResult(records=38, months=['2026-05'], snapshots=3, problems=0, sheets=1, repriced=None)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import httpx
import orjson

from foundation import periods
from foundation.config import SourceConfig
from foundation.settings import Setting
from ledger.billing import RATE_LIMIT, SPEND_LIMIT, month_of, update_billed, write_price_sheet, write_reading

from .._context import Context, refresh_book
from .._http import RetryPolicy
from ._admin_parse import parse_prices, parse_rate_limit, parse_spend_limit, parse_usage, recognised
from ._base import ProviderSource, bearer, warn_once
from ._snapshots import save_snapshot

PREFIX = "/v1/admin"
AUTH_STYLES = {"x-api-key": lambda token: {"x-api-key": token}, "bearer": bearer}


@dataclass(kw_only=True)
class AdminPollResult:
    records: int = 0
    months: list[str] = field(default_factory=list)
    snapshots: int = 0
    problems: int = 0
    sheets: int = 0
    repriced: dict[str, int] | None = None


def previous_month(day: date) -> str:
    return periods.previous_month(month_of(day))


class MistralAdminSource(ProviderSource):
    """Polls /v1/admin/{usage,spend-limit,rate-limit} into the billed table and readings."""

    OPTIONS = (
        Setting(
            name="auth",
            kind=str,
            default="x-api-key",
            choices=tuple(AUTH_STYLES),
            help="How the Admin API key is sent: x-api-key (its header) or bearer (Authorization).",
        ),
        Setting(name="workspace_id", kind=str, help="Read the bill of this workspace only (default: all of them)."),
        Setting(name="api_zone", kind=str, help="Read the bill of this zone only: global, us or eu (default: all)."),
        Setting(
            name="previous_month_days",
            kind=int,
            default=5,
            help="Re-read last month's bill daily while the day of the month is at most this (late corrections).",
        ),
        Setting(
            name="usage_every_seconds",
            kind=int,
            default=3600,
            help="Read the current month's bill at most this often.",
        ),
    )

    def __init__(
        self,
        *,
        source: SourceConfig,
        context: Context,
        transport: httpx.BaseTransport | None = None,
        policy: RetryPolicy | None = None,
        clock: Any = None,
    ) -> None:
        headers = AUTH_STYLES[self.options_of(source)["auth"]]
        super().__init__(
            source=source, context=context, transport=transport, policy=policy, headers=headers, clock=clock
        )
        self.workspace = self.options["workspace_id"]
        self.api_zone = self.options["api_zone"]
        self.previous_days = self.options["previous_month_days"]
        self.usage_every = self.options["usage_every_seconds"]

    def _due(self, month: str, every: int, now: datetime) -> bool:
        last = self.context.cursors.get(f"{self.source.name}:usage:{month}")
        return last is None or (now - datetime.fromisoformat(last)).total_seconds() >= every

    def months_due(self, now: datetime) -> list[str]:
        """The months whose bill to fetch on this poll."""
        due = [month_of(now.date())] if self._due(month_of(now.date()), self.usage_every, now) else []
        previous = previous_month(now.date())
        if now.day <= self.previous_days and self._due(previous, 86_400, now):
            due.append(previous)
        return due

    def _fetch(self, endpoint: str, path: str, params: dict[str, Any], result: AdminPollResult) -> Any:
        """GET, keep the snapshot, decode; None (after one warning) if the body is not JSON."""
        response = self.get(path, params)
        save_snapshot(self.context.data_dir, self.source.name, endpoint, response.content, self.clock())
        result.snapshots += 1
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            self._problems(endpoint, [f"{endpoint}: body is not JSON"], result)
            return None

    def _problems(
        self, endpoint: str, problems: list[str], result: AdminPollResult, what: str = "payload not recognised"
    ) -> None:
        if problems:
            result.problems += len(problems)
            hint = "the raw response is kept under data/snapshots; see docs/billing.md"
            warn_once(self.source.name, f"{endpoint}: {what}", count=len(problems), first=problems[0], hint=hint)

    def _usage(self, month: str, result: AdminPollResult) -> None:
        year, mon = month.split("-")
        params = {"month": int(mon), "year": int(year), "workspace_id": self.workspace, "api_zone": self.api_zone}
        body = self._fetch(f"usage-{month}", f"{PREFIX}/usage", {k: v for k, v in params.items() if v}, result)
        rows, problems = parse_usage(body) if body is not None else ([], [])
        partly = recognised(body)
        self._problems("usage", problems, result, "entries not readable" if partly else "payload not recognised")
        now = self.clock()
        if partly:
            update_billed(self.context.data_dir, self.source.name, month, self.workspace, rows, now)
            result.records += len(rows)
        self._prices(month, body, now, result)
        self.context.cursors.set(f"{self.source.name}:usage:{month}", now.isoformat())
        result.months.append(month)

    def _prices(self, month: str, body: Any, now: datetime, result: AdminPollResult) -> None:
        """Store the month's own price sheet (the payload's `prices` list) when it has one."""
        entries, problems = parse_prices(body)
        self._problems("prices", problems, result, "entries not readable" if entries else "payload not recognised")
        if entries:
            currency = body.get("currency") if isinstance(body.get("currency"), str) else None
            write_price_sheet(self.context.data_dir, self.source.name, month, self.workspace, entries, currency, now)
            result.sheets += 1

    def _reading(self, name: str, parse: Any, result: AdminPollResult) -> None:
        body = self._fetch(name, f"{PREFIX}/{name}", {}, result)
        if body is None:
            return
        reading, problems = parse(body)
        self._problems(name, problems, result)
        if reading is not None:
            reading["fetched_at"] = self.clock().isoformat()
            write_reading(self.context.data_dir, self.source.name, name, reading)

    def poll(self) -> AdminPollResult:
        result = AdminPollResult()
        for month in self.months_due(self.clock()):
            self._usage(month, result)
        self._reading(SPEND_LIMIT, parse_spend_limit, result)
        self._reading(RATE_LIMIT, parse_rate_limit, result)
        if result.sheets:
            result.repriced = refresh_book(self.context)
        return result
