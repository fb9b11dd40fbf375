"""The persistent outbox: every email waits here until the SMTP server accepts it.

(Chat and webhook messages share the list; `_channel_outbox` sends those, each channel on its own.)

Why persistent, with backoff and an expiry: an SMTP outage must lose nothing, hammer nothing
and not hide forever. A message is retried after 1, 2, 4 ... minutes (at most an hour apart)
until delivered; after `outbox_expire_hours` it is marked failed, with the last error in
plain words, and the Budgets page shows it. Each delivery is recorded (one atomic state
write) before the next message is tried, so a crash re-sends at most the one in flight.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage

from ._compose import to_email
from ._settings import SmtpSettings, is_email
from ._smtp import DeliveryError, send
from ._state import Message, SavedState
from .errors import AlertError

MAX_BACKOFF = timedelta(hours=1)


def pending(fields: Message, now: datetime, expire_hours: float) -> Message:
    """An outbox entry (email or post) due now, never tried, expiring after `expire_hours`."""
    return {
        **fields,
        "status": "pending",
        "attempts": 0,
        "created_at": now.isoformat(),
        "next_attempt_at": now.isoformat(),
        "sent_at": None,
        "last_error": None,
        "expires_at": (now + timedelta(hours=expire_hours)).isoformat(),
    }


def enqueue(state: SavedState, fields: Message, now: datetime, expire_hours: float) -> None:
    """Add a composed email (see `compose`) unless a message with its id is already there."""
    if any(m["id"] == fields["id"] and m["to"] == fields["to"] for m in state["outbox"]):
        return
    state["outbox"].append(pending(fields, now, expire_hours))


def backoff(attempts: int) -> timedelta:
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def _pending(state: SavedState) -> list[Message]:
    return [m for m in state["outbox"] if m["status"] == "pending" and not m.get("channel")]


def due(state: SavedState, now: datetime) -> list[Message]:
    return [m for m in _pending(state) if datetime.fromisoformat(m["next_attempt_at"]) <= now]


def expire(state: SavedState, now: datetime) -> int:
    """Mark pending emails past their expiry as failed; how many."""
    return expire_pending(_pending(state), now)


def expire_pending(pending: list[Message], now: datetime) -> int:
    """Mark the messages of `pending` (emails or channel posts) past their expiry as failed; how many."""
    expired = [m for m in pending if datetime.fromisoformat(m["expires_at"]) <= now]
    for message in expired:
        message["status"] = "failed"
        message["last_error"] = f"not delivered after {message['attempts']} attempts: {message['last_error']}"
    return len(expired)


class Unsendable(AlertError):
    """This message can never go out as it is (a bad recipient, a corrupt entry): it fails alone."""


def build(message: Message, sender: str) -> EmailMessage:
    """The email for an outbox entry, or Unsendable saying why not."""
    to = message.get("to")
    if not is_email(to):
        raise Unsendable(f"the recipient {to!r} is not an email address (one address, no control characters)")
    try:
        return to_email(message, sender)
    except Exception as exc:  # noqa: BLE001 - one corrupt entry must not stop the others
        raise Unsendable(f"the email could not be composed ({type(exc).__name__}: {exc})") from None


def attempt(message: Message, smtp: SmtpSettings | None, now: datetime) -> DeliveryError | None:
    """Try one pending message once and update it in place; the error if not delivered.

    A message that can never be sent is marked failed at once, with the reason.
    """
    try:
        if smtp is None:
            raise DeliveryError("SMTP is not configured; add an [smtp] section with host and sender to the config")
        send(smtp, build(message, smtp.sender))
    except Unsendable as exc:
        message.update({"status": "failed", "attempts": message["attempts"] + 1, "last_error": f"not sent: {exc}"})
        return DeliveryError(str(exc), temporary=False)
    except DeliveryError as exc:
        message["attempts"] += 1
        message["last_error"] = str(exc)
        message["next_attempt_at"] = (now + backoff(message["attempts"])).isoformat()
        return exc
    message.update(
        {"status": "sent", "sent_at": now.isoformat(), "attempts": message["attempts"] + 1, "last_error": None}
    )
    return None


def drain(state: SavedState, smtp: SmtpSettings | None, now: datetime, save: Callable[[], None]) -> tuple[int, int]:
    """Send every due message, saving after each; (delivered, not delivered).

    An unreachable server ends the drain: the rest wait for the next run instead of each
    waiting out its own connection timeout.
    """
    sent = failed = 0
    if expire(state, now):
        save()
    for message in due(state, now):
        error = attempt(message, smtp, now)
        save()
        if error is None:
            sent += 1
            continue
        failed += 1
        if error.unreachable or smtp is None:
            break
    return sent, failed
