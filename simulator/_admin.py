"""Mistral's Admin API, simulated: the bill, the spend limit and the rate limits of the workload.

Why derived from the same hours as the records: the demo must show reconciliation, so the
bill is the served traffic priced with the project's price book, with the drift a real bill
has against a gateway's view: failed calls are not billed, each model's amount is off by a
small seeded factor (rounding, tiers), the fine-tuned model is billed though no price table
knows it, and OCR pages that never went through the gateway are billed too. Only hours inside
the served history count, so a bill never covers records the simulator does not serve.

Routes (any other /v1/admin path is a 404):
    GET /v1/admin/usage?month=M&year=Y[&workspace_id=]   the month's bill (UsageOUTJSON shape)
    GET /v1/admin/spend-limit                             month-to-date usage against the limit
    GET /v1/admin/rate-limit                              requests/s and tokens per model

Example:
    >>> import time
    >>> admin = AdminBilling(seed=1, rate=6.0, days=30, clock=time.time)
    >>> admin.response("/v1/admin/rate-limit", {}, {})[0]
    200
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from email.message import Message
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from foundation.periods import days_in_period
from foundation.usage_contract import error_body
from ledger.pricing.prices import PriceBook

from . import _catalog as cat
from ._generate import generate_hour
from ._incidents import HOUR_MS
from ._profile import spend_cap_window

ADMIN_PREFIX = "/v1/admin/"
CURRENCY = "USD"
SPEND_LIMIT = 1500.0
DRIFT_SD = 0.015
OCR_MODEL = "mistral-ocr-2505"
OCR_PAGES_PER_HOUR = 40
OCR_PRICE_PER_PAGE = 0.001
FT_BASE = "mistral-small-2603"
TOKENS_PER_MINUTE = {"magistral-medium-2509": 500_000, "devstral-2512": 800_000, "mistral-large-2512": 1_000_000}
METRICS = ("input", "cached_input", "output")
CATEGORIES = ("completion", "chat", "ocr", "connectors", "audio", "audio_characters")
_EMPTY_EXTRAS = {
    "libraries_api": {"pages": {}, "tokens": {}, "audio_seconds": {}},
    "fine_tuning": {"training": {}, "storage": {}},
    "vibe_code": {},
    "vibe_usage": 0,
}

HourBill = dict[str, np.ndarray]
"""billed model -> [uncached, cached, output, units, amount_in, amount_cached, amount_out, amount_units];
units are pages (OCR), audio seconds or characters (TTS), by the model's kind."""


def _unit_line(model: str) -> tuple[str, str]:
    """The Admin API category and metric a model's non-token units are billed under."""
    if model.startswith("mistral-ocr"):
        return "ocr", "pages"
    if "tts" in model:
        return "audio_characters", "characters"
    return "audio", "audio_seconds"


def _error(status: int, message: str, kind: str) -> tuple[int, bytes]:
    return status, orjson.dumps(error_body(status, kind, message))


class AdminBilling:
    """The Admin API of one simulated organisation; hours are billed once and cached."""

    def __init__(
        self,
        *,
        seed: int,
        rate: float,
        days: float,
        clock: Callable[[], float],
        token: str | None = None,
        currency: str = CURRENCY,
        spend_limit: float = SPEND_LIMIT,
    ) -> None:
        self.seed, self.rate, self.days, self.clock, self.token = seed, rate, days, clock, token
        self.currency, self.spend_limit = currency, spend_limit
        self.book = PriceBook.load()
        drift = np.random.default_rng([seed, 0xB111]).normal(0, DRIFT_SD, len(cat.ALL_MODELS) + 1)
        self.drift = 1.0 + np.clip(drift, -3 * DRIFT_SD, 3 * DRIFT_SD)
        self._hours: dict[int, HourBill] = {}
        self._lock = threading.Lock()

    def bill_hour(self, hour: int) -> HourBill:
        """What Mistral bills for one absolute hour: successful calls only, by concrete model."""
        with self._lock:
            cached = self._hours.get(hour)
        if cached is not None:
            return cached
        bill = self._price_hour(generate_hour(self.seed, hour, self.rate))
        with self._lock:
            self._hours[hour] = bill
        return bill

    def _price_hour(self, cols: dict[str, np.ndarray]) -> HourBill:
        ok = (cols["status"] == 200) & cols["billable"]
        if not ok.any():
            return {}
        model = cols["model"][ok]
        resolved = [m.resolved_at(int(cols["ts"][0])) for m in cat.ALL_MODELS]
        billed = np.array(resolved, dtype=object)[model]
        priced = np.where(billed == cat.FINE_TUNED, FT_BASE, billed)
        prompt, cached, out = cols["prompt"][ok], cols["cached"][ok], cols["completion"][ok]
        units = {
            "pages": cols["pages"][ok],
            "annotated_pages": cols["annotated"][ok],
            "audio_seconds": cols["audio_tenths"][ok] / 10,
            "characters": cols["characters"][ok],
        }
        zero = np.zeros_like(prompt)
        none = {name: np.zeros_like(values) for name, values in units.items()}
        parts = [
            ((prompt - cached, zero, zero), none),
            ((cached, cached, zero), none),
            ((zero, zero, out), none),
            ((zero, zero, zero), units),
        ]
        amounts = [self._cost(cols, ok, priced, *tokens, extra) for tokens, extra in parts]
        quantity = units["pages"] + units["audio_seconds"] + units["characters"]
        quantities = np.stack([prompt - cached, cached, out, quantity, *amounts], axis=1).astype(np.float64)
        factor = self.drift[model]
        quantities[:, 4:] *= factor[:, None]
        return {name: quantities[billed == name].sum(axis=0) for name in set(billed.tolist())}

    def _cost(
        self,
        cols: dict[str, np.ndarray],
        ok: np.ndarray,
        model: np.ndarray,
        prompt: np.ndarray,
        cached: np.ndarray,
        completion: np.ndarray,
        units: dict[str, np.ndarray],
    ) -> np.ndarray:
        """The price book's cost of these quantities, with the calls' tier, zone and endpoint."""
        names = model.tolist()
        table = pa.table(
            {
                "timestamp": pa.array(cols["ts"][ok] * 1000, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
                "model": pa.array(names, pa.string()),
                "resolved_model": pa.array(names, pa.string()),
                "endpoint": pa.array([cat.ENDPOINTS[e] for e in cols["endpoint"][ok]], pa.string()),
                "prompt_tokens": prompt,
                "cached_tokens": cached,
                "completion_tokens": completion,
                "batch": cols["batch"][ok],
                "service_tier": pa.array(np.where(cols["priority"][ok], "priority", "standard").tolist(), pa.string()),
                "api_zone": pa.array([cat.ZONES[z] for z in cols["zone"][ok]], pa.string()),
                **units,
            }
        )
        _, cost = self.book.cost_columns(table, self.currency)
        money: np.ndarray = np.nan_to_num(cost.to_numpy(zero_copy_only=False).astype(np.float64))
        return money

    def month_bill(self, year: int, month: int, now_ms: int) -> dict[str, np.ndarray]:
        """Billed model -> quantities and amounts for the served hours of the month up to now."""
        start_ms = int(datetime(year, month, 1, tzinfo=UTC).timestamp() * 1000)
        end_ms = start_ms + days_in_period("month", date(year, month, 1)) * 86_400_000
        first = -(-max(start_ms, int(now_ms - self.days * 86_400_000)) // HOUR_MS)  # whole hours served
        stop = min(end_ms, now_ms) // HOUR_MS  # hours fully over
        total: dict[str, np.ndarray] = {}
        for hour in range(first, stop):
            for name, values in self.bill_hour(hour).items():
                total[name] = total.get(name, 0) + values
        if stop > first:
            ocr = OCR_PAGES_PER_HOUR * (stop - first)
            total[OCR_MODEL] = np.array([0, 0, 0, ocr, 0, 0, 0, ocr * OCR_PRICE_PER_PAGE], dtype=np.float64)
        return total

    def usage(self, year: int, month: int, now_ms: int) -> dict[str, Any]:
        """The UsageOUTJSON body: per-model entries as {billing_metric, value, unit_price, amount}."""
        bill = self.month_bill(year, month, now_ms)
        body: dict[str, Any] = {name: {"models": {}} for name in CATEGORIES}
        for name, values in sorted(bill.items()):
            if values[:3].any():
                lines = [[self._entry(f"{m}_tokens", values[i], values[i + 4])] for i, m in enumerate(METRICS)]
                body["completion"]["models"][name] = dict(zip(METRICS, lines, strict=True))
            if values[3]:
                category, metric = _unit_line(name)
                body[category]["models"][name] = {metric: [self._entry(metric, values[3], values[7])]}
        days = days_in_period("month", date(year, month, 1))
        body |= _EMPTY_EXTRAS | {
            "date": f"{year:04d}-{month:02d}-01T00:00:00Z",
            "start_date": f"{year:04d}-{month:02d}-01T00:00:00Z",
            "end_date": f"{year:04d}-{month:02d}-{days:02d}T23:59:59Z",
            "currency": self.currency,
            "currency_symbol": "$" if self.currency == "USD" else "€",
            "prices": self.price_sheet(year, month, bill),
            "previous_month": f"{year - (month == 1):04d}-{(month - 2) % 12 + 1:02d}",
            "next_month": None,
        }
        return body

    def price_sheet(self, year: int, month: int, bill: dict[str, np.ndarray]) -> list[dict[str, str]]:
        """The `prices` list: per-token list prices of the billed token models (no negotiated deal here)."""
        at = datetime(year, month, 1, tzinfo=UTC)
        out = []
        for name in sorted(bill):
            price = self.book.price_at(name, at, self.currency)
            if price is None:  # OCR pages and the fine-tune: no token list price
                continue
            for metric, per_1m in zip(
                METRICS, (price.input_per_1m, price.cached_input_per_1m, price.output_per_1m), strict=True
            ):
                out.append(
                    {
                        "event_type": name,
                        "billing_metric": f"{metric}_tokens",
                        "billing_group": "completion",
                        "api_zone": "global",
                        "service_tier": "standard",
                        "price": f"{per_1m / 1e6:.12f}",
                    }
                )
        return out

    @staticmethod
    def _entry(metric: str, quantity: float, amount: float) -> dict[str, Any]:
        unit = f"{amount / quantity:.10f}" if quantity else "0"
        return {"billing_metric": metric, "value": int(quantity), "unit_price": unit, "amount": f"{amount:.6f}"}

    def spend_limit_body(self, now_ms: int) -> dict[str, Any]:
        """Month-to-date usage against the limit; reached when over it or inside a spend-cap window."""
        now = datetime.fromtimestamp(now_ms / 1000, UTC)
        used = round(float(sum(v[4:].sum() for v in self.month_bill(now.year, now.month, now_ms).values())), 2)
        window = spend_cap_window(self.seed, now_ms // HOUR_MS)
        capped = window is not None and window[0] <= now.minute < window[1]
        limits = {
            "no_monthly_limit": False,
            "monthly_limit_reached": capped or used >= self.spend_limit,
            "usage": used,
            "vibe_usage": 0,
            "total_usage": used,
            "usage_limit": self.spend_limit,
        }
        return {
            "limits": {
                "completion": limits,
                "last_payment_failure": False,
                "last_payment_failure_protection": None,
                "currency": self.currency,
            }
        }

    def rate_limit_body(self, now_ms: int) -> dict[str, Any]:
        """Requests per second and per-model token limits for every concrete model in service."""
        models = sorted({m.resolved_at(now_ms) for m in cat.MODELS})  # token models: the rate limits are tokens
        limits = {
            name: {"tokens_per_minute": TOKENS_PER_MINUTE.get(name, 2_000_000), "tokens_per_month": 10_000_000_000}
            for name in models
        }
        return {"requests_per_second": 10, "tokens_limits_by_model": limits}

    def authorised(self, headers: Mapping[str, str] | Message) -> bool:
        """The admin key as `x-api-key` (the docs' form) or as a Bearer token."""
        if self.token is None:
            return True
        sent = [headers.get("x-api-key", ""), headers.get("Authorization", "").removeprefix("Bearer ")]
        return any(hmac.compare_digest(s.encode(), self.token.encode()) for s in sent)

    def response(
        self, path: str, query: Mapping[str, list[str]], headers: Mapping[str, str] | Message
    ) -> tuple[int, bytes]:
        """(status, JSON body) for one GET under /v1/admin/."""
        if not self.authorised(headers):
            return _error(401, "Unauthorized: send the admin key as 'x-api-key' or a Bearer token", "unauthorized")
        now_ms = int(self.clock() * 1000)
        route = path.removeprefix(ADMIN_PREFIX).rstrip("/")
        if route == "spend-limit":
            return 200, orjson.dumps(self.spend_limit_body(now_ms))
        if route == "rate-limit":
            return 200, orjson.dumps(self.rate_limit_body(now_ms))
        if route != "usage":
            return _error(404, f"no admin route {path[:80]!r}; use usage, spend-limit or rate-limit", "not_found")
        try:
            month, year = int(query["month"][-1]), int(query["year"][-1])
            if not 1 <= month <= 12 or not 2000 <= year <= 2100:
                raise ValueError
        except (KeyError, ValueError):
            return _error(400, "month and year: give integers, e.g. ?month=5&year=2026", "invalid_request_error")
        return 200, orjson.dumps(self.usage(year, month, now_ms))
