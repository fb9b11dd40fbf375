"""Counters for /metrics, rendered in the Prometheus text format from one table of families.

Why plain attributes: they are bumped on every request from the event loop thread (and from
the writer thread for the record counters, where a lost increment under the GIL is harmless),
so an attribute add is all the hot path can afford. `FAMILIES` declares every family once (name,
type, help, label, how to read it); `render` only walks it, and escapes every label value.

Example:
    >>> metrics = Metrics(); metrics.count_response(429)
    >>> "gateway_responses_total{class=\\"4xx\\"} 1" in metrics.render(buffered=0, pending=0)
    True
    >>> metrics.limit_refusals['say "hi"\\n'] += 1
    >>> [line for line in metrics.render(0, 0).splitlines() if line.startswith("gateway_limit_refusals_total")]
    ['gateway_limit_refusals_total{limit="say \\\\"hi\\\\"\\\\n"} 1']
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

Value = int | float


class Metrics:
    def __init__(self) -> None:
        self.requests = 0
        self.responses: Counter[str] = Counter()
        self.upstream_failures: Counter[str] = Counter()
        self.client_disconnects = 0
        self.records_written = 0
        self.record_failures = 0
        self.records_interrupted = 0
        self.commit_timeouts = 0
        self.bodies_too_large = 0
        self.connections_refused = 0
        self.client_timeouts = 0
        self.limit_refusals: Counter[str] = Counter()
        self.limit_warnings: Counter[str] = Counter()
        self.limit_state_failures = 0
        self.limit_state_errors: Counter[str] = Counter()
        self.unbound_refusals = 0
        self.limit_reserved: dict[str, float] = {}
        self.limit_models_priced = 0

    def count_response(self, status: int) -> None:
        self.requests += 1
        self.responses[f"{status // 100}xx"] += 1

    def render(self, buffered: int, pending: int) -> str:
        """The exposition text; `buffered` and `pending` are gauges read at scrape time."""
        scrape = Scrape(self, buffered, pending)
        return "".join(family.render(family.read(scrape)) for family in FAMILIES)


@dataclass(frozen=True)
class Scrape:
    """What a family reads: the counters and the gauges measured at scrape time."""

    metrics: Metrics
    buffered: int
    pending: int


@dataclass(frozen=True, kw_only=True)
class Family:
    """One metric family: unlabelled (`label` None, `read` gives a number) or by one label (`read` gives a mapping
    of label value to number, rendered sorted by label value)."""

    name: str
    kind: Literal["counter", "gauge"]
    help: str
    label: str | None = None
    read: Callable[[Scrape], Value | Mapping[str, Value]]

    def render(self, value: Value | Mapping[str, Value]) -> str:
        lines = [f"# HELP {self.name} {_help(self.help)}", f"# TYPE {self.name} {self.kind}"]
        if isinstance(value, Mapping):
            assert self.label is not None, f"{self.name} has no label"
            lines += [f'{self.name}{{{self.label}="{_label(k)}"}} {n}' for k, n in sorted(value.items())]
        else:
            lines.append(f"{self.name} {value}")
        return "\n".join(lines) + "\n"


def _errors(scrape: Scrape) -> int:
    return sum(n for k, n in scrape.metrics.responses.items() if k in ("4xx", "5xx"))


FAMILIES: tuple[Family, ...] = (
    Family(
        name="gateway_requests_total",
        kind="counter",
        help="Requests forwarded (or answered) by the gateway.",
        read=lambda s: s.metrics.requests,
    ),
    Family(
        name="gateway_responses_total",
        kind="counter",
        help="Responses by status class.",
        label="class",
        read=lambda s: s.metrics.responses,
    ),
    Family(name="gateway_errors_total", kind="counter", help="Responses with a 4xx or 5xx status.", read=_errors),
    Family(
        name="gateway_upstream_failures_total",
        kind="counter",
        help="Upstream unreachable or too slow.",
        label="kind",
        read=lambda s: s.metrics.upstream_failures,
    ),
    Family(
        name="gateway_client_disconnects_total",
        kind="counter",
        help="Clients gone before the response ended.",
        read=lambda s: s.metrics.client_disconnects,
    ),
    Family(
        name="gateway_records_written_total",
        kind="counter",
        help="Records committed to the buffer.",
        read=lambda s: s.metrics.records_written,
    ),
    Family(
        name="gateway_record_failures_total",
        kind="counter",
        help="Records that could not be written (dropped).",
        read=lambda s: s.metrics.record_failures,
    ),
    Family(
        name="gateway_records_interrupted_total",
        kind="counter",
        help="Requests cut by a crash, recovered as interrupted records at start.",
        read=lambda s: s.metrics.records_interrupted,
    ),
    Family(
        name="gateway_commit_timeouts_total",
        kind="counter",
        help="Record commits slower than the wait allowed.",
        read=lambda s: s.metrics.commit_timeouts,
    ),
    Family(
        name="gateway_bodies_too_large_total",
        kind="counter",
        help="Requests refused with 413 (max_request_body_mib).",
        read=lambda s: s.metrics.bodies_too_large,
    ),
    Family(
        name="gateway_connections_refused_total",
        kind="counter",
        help="Connections closed at once: max_client_connections reached.",
        read=lambda s: s.metrics.connections_refused,
    ),
    Family(
        name="gateway_client_timeouts_total",
        kind="counter",
        help="Connections closed: a request head or body stalled past client_timeout_seconds.",
        read=lambda s: s.metrics.client_timeouts,
    ),
    Family(
        name="gateway_limit_refusals_total",
        kind="counter",
        help="Requests refused by a hard limit, by limit.",
        label="limit",
        read=lambda s: s.metrics.limit_refusals,
    ),
    Family(
        name="gateway_limit_warnings_total",
        kind="counter",
        help="Requests past a soft limit, by limit.",
        label="limit",
        read=lambda s: s.metrics.limit_warnings,
    ),
    Family(
        name="gateway_unbound_key_refusals_total",
        kind="counter",
        help="Requests refused with 403: their key is bound to no project (require_known_project).",
        read=lambda s: s.metrics.unbound_refusals,
    ),
    Family(
        name="gateway_limit_state_failures_total",
        kind="counter",
        help="Requests checked while the limits' state was unavailable (passed, or 503 when fail-closed).",
        read=lambda s: s.metrics.limit_state_failures,
    ),
    Family(
        name="gateway_limit_state_errors_total",
        kind="counter",
        help="Errors of the limits' state, by operation.",
        label="part",
        read=lambda s: s.metrics.limit_state_errors,
    ),
    Family(
        name="gateway_limit_reserved",
        kind="gauge",
        help="Spend reserved by requests in flight in each spend limit's current period (all replicas).",
        label="limit",
        read=lambda s: s.metrics.limit_reserved,
    ),
    Family(
        name="gateway_limit_models_priced",
        kind="gauge",
        help="Models whose token prices a spend limit's reservation knows (0 until the pricing process is up).",
        read=lambda s: s.metrics.limit_models_priced,
    ),
    Family(
        name="gateway_records_buffered",
        kind="gauge",
        help="Records held in the buffer database.",
        read=lambda s: s.buffered,
    ),
    Family(
        name="gateway_records_pending",
        kind="gauge",
        help="Records waiting for the writer.",
        read=lambda s: s.pending,
    ),
)
"""Every family /metrics serves, in the order it serves them."""


def _label(value: str) -> str:
    """A Prometheus label value: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _help(text: str) -> str:
    """A HELP text: backslash and newline escaped."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")
