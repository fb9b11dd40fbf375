"""Counters for /metrics, rendered in the Prometheus text format.

Why plain attributes: they are bumped on every request from the event loop thread (and from
the writer thread for the record counters, where a lost increment under the GIL is harmless),
so an attribute add is all the hot path can afford.

Example:
    >>> metrics = Metrics(); metrics.count_response(429)
    >>> "gateway_responses_total{class=\\"4xx\\"} 1" in metrics.render(buffered=0, pending=0)
    True
"""

from __future__ import annotations

from collections import Counter


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

    def count_response(self, status: int) -> None:
        self.requests += 1
        self.responses[f"{status // 100}xx"] += 1

    def render(self, buffered: int, pending: int) -> str:
        """The exposition text; `buffered` and `pending` are gauges read at scrape time."""
        errors = sum(n for k, n in self.responses.items() if k in ("4xx", "5xx"))
        lines = [
            *_metric(
                "gateway_requests_total",
                "counter",
                "Requests forwarded (or answered) by the gateway.",
                [("", self.requests)],
            ),
            *_metric(
                "gateway_responses_total",
                "counter",
                "Responses by status class.",
                [(f'{{class="{k}"}}', n) for k, n in sorted(self.responses.items())],
            ),
            *_metric("gateway_errors_total", "counter", "Responses with a 4xx or 5xx status.", [("", errors)]),
            *_metric(
                "gateway_upstream_failures_total",
                "counter",
                "Upstream unreachable or too slow.",
                [(f'{{kind="{k}"}}', n) for k, n in sorted(self.upstream_failures.items())],
            ),
            *_metric(
                "gateway_client_disconnects_total",
                "counter",
                "Clients gone before the response ended.",
                [("", self.client_disconnects)],
            ),
            *_metric(
                "gateway_records_written_total",
                "counter",
                "Records committed to the buffer.",
                [("", self.records_written)],
            ),
            *_metric(
                "gateway_record_failures_total",
                "counter",
                "Records that could not be written (dropped).",
                [("", self.record_failures)],
            ),
            *_metric(
                "gateway_records_interrupted_total",
                "counter",
                "Requests cut by a crash, recovered as interrupted records at start.",
                [("", self.records_interrupted)],
            ),
            *_metric(
                "gateway_commit_timeouts_total",
                "counter",
                "Record commits slower than the wait allowed.",
                [("", self.commit_timeouts)],
            ),
            *_metric(
                "gateway_bodies_too_large_total",
                "counter",
                "Requests refused with 413 (max_request_body_mib).",
                [("", self.bodies_too_large)],
            ),
            *_metric(
                "gateway_connections_refused_total",
                "counter",
                "Connections closed at once: max_client_connections reached.",
                [("", self.connections_refused)],
            ),
            *_metric(
                "gateway_client_timeouts_total",
                "counter",
                "Connections closed: a request head or body stalled past client_timeout_seconds.",
                [("", self.client_timeouts)],
            ),
            *_metric(
                "gateway_limit_refusals_total",
                "counter",
                "Requests refused by a hard limit, by limit.",
                [(f'{{limit="{_label(k)}"}}', n) for k, n in sorted(self.limit_refusals.items())],
            ),
            *_metric(
                "gateway_limit_warnings_total",
                "counter",
                "Requests past a soft limit, by limit.",
                [(f'{{limit="{_label(k)}"}}', n) for k, n in sorted(self.limit_warnings.items())],
            ),
            *_metric(
                "gateway_unbound_key_refusals_total",
                "counter",
                "Requests refused with 403: their key is bound to no project (require_known_project).",
                [("", self.unbound_refusals)],
            ),
            *_metric(
                "gateway_limit_state_failures_total",
                "counter",
                "Requests checked while the limits' state was unavailable (passed, or 503 when fail-closed).",
                [("", self.limit_state_failures)],
            ),
            *_metric(
                "gateway_limit_state_errors_total",
                "counter",
                "Errors of the limits' state, by operation.",
                [(f'{{part="{k}"}}', n) for k, n in sorted(self.limit_state_errors.items())],
            ),
            *_metric("gateway_records_buffered", "gauge", "Records held in the buffer database.", [("", buffered)]),
            *_metric("gateway_records_pending", "gauge", "Records waiting for the writer.", [("", pending)]),
        ]
        return "\n".join(lines) + "\n"


def _label(value: str) -> str:
    """A Prometheus label value: backslash, quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _metric(name: str, kind: str, doc: str, samples: list[tuple[str, int]]) -> list[str]:
    return [f"# HELP {name} {doc}", f"# TYPE {name} {kind}", *(f"{name}{labels} {value}" for labels, value in samples)]
