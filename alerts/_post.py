"""POSTing one stored message to a channel's webhook, and saying in plain words why it failed.

Why the errors never quote the URL or the exception text: a Slack, Teams or webhook URL is
the credential, and an HTTP library's message can carry it. Errors name the channel and the
environment variable to check; they go to the state file and the log, so nothing there can
hold the URL.

The generic webhook is signed like Stripe's: header `X-Monitor-Signature: t=<unix seconds>,
v1=<hex HMAC-SHA256 of "<t>." + body, keyed by the secret>`, plus `X-Monitor-Delivery: <id>`
(the same on every retry, so a consumer can drop a duplicate). Recipe in docs/alerts.md.

Example:
    >>> import os
    >>> os.environ["EXAMPLE_SLACK_URL"] = "https://hooks.slack.test/services/T0/B0/x"
    >>> channel = ChannelSettings(name="ops-slack", kind="slack", url_env="EXAMPLE_SLACK_URL")
    >>> busy = httpx.MockTransport(lambda request: httpx.Response(429, headers={"Retry-After": "30"}))
    >>> try:
    ...     post(channel, '{"text": "hi"}', "delivery-1", transport=busy)
    ... except ChannelError as exc:
    ...     print(exc.retry_after, exc)
    30.0 the slack channel ops-slack answered HTTP 429 (Too Many Requests); retrying after 30 s as asked
    >>> del os.environ["EXAMPLE_SLACK_URL"]
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from foundation.errors import ConfigError
from foundation.scrub import scrub

from ._channels import ChannelSettings
from ._names import printable
from ._smtp import DeliveryError

SIGNATURE_HEADER = "X-Monitor-Signature"
DELIVERY_HEADER = "X-Monitor-Delivery"
logging.getLogger("httpx").setLevel(logging.WARNING)
"""httpx logs each request's full URL at INFO; for a webhook the URL is the credential."""
MAX_RETRY_AFTER = 86_400.0
"""A longer `Retry-After` is read as this (a day): a hostile or broken value must not park a channel for ever."""


class ChannelError(DeliveryError):
    """Not delivered; `retry_after` (seconds) when the receiver said when to come back (HTTP 429)."""

    def __init__(self, message: str, unreachable: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message, temporary=True, unreachable=unreachable)
        self.retry_after = retry_after


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value) if value.replace(".", "", 1).isdigit() else None
        if seconds is None:
            seconds = (parsedate_to_datetime(value) - (now or datetime.now(UTC))).total_seconds()
    except (TypeError, ValueError, OverflowError):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _headers(channel: ChannelSettings, data: bytes, ident: str) -> dict[str, str]:
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "mistral-usage-monitor"}
    secret = channel.secret()
    if channel.kind == "webhook" and secret is not None:
        headers[DELIVERY_HEADER] = ident
        headers[SIGNATURE_HEADER] = sign(secret, int(time.time()), data)
    return headers


def _transport_error(exc: Exception, channel: ChannelSettings) -> ChannelError:
    check = f"check ${channel.url_env}"
    if isinstance(exc, httpx.TimeoutException):
        return ChannelError(
            f"no answer from the {channel.label} within {channel.timeout_seconds:g} s; {check}", unreachable=True
        )
    if isinstance(exc, httpx.ConnectError) and "refused" in str(exc).lower():
        return ChannelError(
            f"could not connect to the {channel.label} (connection refused); is the receiver up "
            f"and ${channel.url_env} right?",
            unreachable=True,
        )
    if isinstance(exc, httpx.ConnectError):
        return ChannelError(
            f"could not connect to the {channel.label} (host not found or network down); {check}", unreachable=True
        )
    return ChannelError(f"posting to the {channel.label} failed ({type(exc).__name__}); {check}", unreachable=True)


def _answer(response: httpx.Response, url: str) -> str:
    """The first 200 characters of the reply, on one line, without the URL (Slack answers e.g. 'invalid_payload')."""
    text = response.text[:200].replace(url, "<url>")
    return scrub(printable(text.strip())) or response.reason_phrase


def post(channel: ChannelSettings, body: str, ident: str, transport: httpx.BaseTransport | None = None) -> None:
    """Deliver `body` once; ChannelError (in plain words, never the URL) if it was not accepted."""
    try:
        url = channel.url()
        data = body.encode()
        headers = _headers(channel, data, ident)
    except ConfigError as exc:
        raise ChannelError(str(exc), unreachable=True) from None
    try:
        with httpx.Client(timeout=channel.timeout_seconds, follow_redirects=False, transport=transport) as client:
            response = client.post(url, content=data, headers=headers)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one plain sentence without the URL
        raise _transport_error(exc, channel) from None
    code = response.status_code
    if 200 <= code < 300:
        return
    text = f"the {channel.label} answered HTTP {code} ({_answer(response, url)})"
    if code == 429:
        wait = retry_after(response.headers.get("Retry-After"))
        hint = f"; retrying after {wait:g} s as asked" if wait is not None else "; retrying with backoff"
        raise ChannelError(text + hint, unreachable=True, retry_after=wait)
    if code in (401, 403, 404, 410):
        text += f"; the webhook may have been revoked: check ${channel.url_env}"
    raise ChannelError(text, unreachable=code >= 500)
