"""Chat and webhook messages in the persistent outbox, each channel retried on its own.

Why they share the email outbox and its file: queuing a channel message happens in the same
atomic save as the state change that caused it, so a notice is posted once per channel
across restarts and crashes, exactly like an email (see `_state`). Why per channel: a Slack
outage or a 429 must not hold back Teams or the webhook. A 429's `Retry-After` pauses the
whole channel until then (`state["channels"][name]["not_before"]`); other failures back off
1, 2, 4 ... minutes per message (at most hourly) until `outbox_expire_hours`.

`state["channels"][name]` is the channel's delivery state, shown on the Budgets page: last
delivery, last error and when, and the pause. The one duplicate window is the email's: a
crash after the receiver accepted a message and before the save re-posts it; a webhook
consumer recognises it by its `id` (`X-Monitor-Delivery`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ._channels import ChannelSettings
from ._chat_format import delivery_id, payload
from ._compose import subject_of
from ._observation import Observation
from ._outbox import backoff, expire_pending, pending
from ._post import ChannelError, post
from ._state import ChannelInfo, Message, Notice, SavedState


def is_post(message: Message) -> bool:
    return bool(message.get("channel"))


def enqueue_posts(
    state: SavedState,
    notice: Notice,
    names: tuple[str, ...],
    channels: dict[str, ChannelSettings],
    now: datetime,
    expire_hours: float,
) -> int:
    """One message per channel for `notice` (none twice); a channel not configured fails at once."""
    queued = 0
    for name in names:
        channel = channels.get(name)
        ident = delivery_id(notice.token, name)
        if any(is_post(m) and m["channel"] == name and m["id"] == ident for m in state["outbox"]):
            continue
        kind = channel.kind if channel else "unknown"
        fields: Message = {
            "id": ident,
            "channel": name,
            "kind": kind,
            "to": f"{kind}:{name}",
            "subject": subject_of(notice),
            "body": payload(kind, notice, ident, name, now) if channel else "",
            "keys": [notice.observation.key],
        }
        entry = pending(fields, now, expire_hours)
        if channel is None:
            entry["status"] = "failed"
            entry["last_error"] = (
                f"not sent: channel {name!r} is not configured; add "
                f"[alerts.channels.{name}] to the config or remove it from the budget"
            )
        state["outbox"].append(entry)
        queued += 1
    return queued


def _pending(state: SavedState, name: str | None = None) -> list[Message]:
    return [m for m in state["outbox"] if is_post(m) and m["status"] == "pending" and name in (None, m["channel"])]


def expire_posts(state: SavedState, now: datetime) -> int:
    return expire_pending(_pending(state), now)


def _paused(info: ChannelInfo, now: datetime) -> bool:
    until = info.get("not_before")
    return isinstance(until, str) and datetime.fromisoformat(until) > now


def attempt_post(message: Message, channel: ChannelSettings, info: ChannelInfo, now: datetime) -> ChannelError | None:
    """Post one message once; update it and the channel's state in place; the error if not delivered.

    A message built for another kind (the channel's `kind` changed in the config meanwhile)
    is marked failed at once: a Slack body posted to a Teams URL would only be refused.
    """
    if message.get("kind") != channel.kind:
        reason = f"not sent: built for a {message.get('kind')} channel, but {channel.name} is now {channel.kind}"
        message.update({"status": "failed", "attempts": message["attempts"] + 1, "last_error": reason})
        return ChannelError(reason)
    try:
        post(channel, message["body"], message["id"])
    except ChannelError as exc:
        message["attempts"] += 1
        message["last_error"] = str(exc)
        wait = backoff(message["attempts"])
        if exc.retry_after is not None:
            wait = timedelta(seconds=exc.retry_after)
            info["not_before"] = (now + wait).isoformat()
        message["next_attempt_at"] = (now + wait).isoformat()
        info.update({"last_error": str(exc), "last_error_at": now.isoformat()})
        return exc
    message.update(
        {"status": "sent", "sent_at": now.isoformat(), "attempts": message["attempts"] + 1, "last_error": None}
    )
    info.update({"last_ok_at": now.isoformat(), "not_before": None})
    return None


def drain_posts(
    state: SavedState, channels: dict[str, ChannelSettings], now: datetime, save: Callable[[], None]
) -> tuple[int, int]:
    """Post every due message channel by channel, saving after each; (delivered, not delivered).

    A channel that is down, or paused by a 429, stops its own drain; the others go on.
    """
    posted = failed = 0
    if expire_posts(state, now):
        save()
    for name, channel in sorted(channels.items()):
        info = state["channels"].setdefault(name, {})
        info["kind"] = channel.kind
        if _paused(info, now):
            continue
        for message in [m for m in _pending(state, name) if datetime.fromisoformat(m["next_attempt_at"]) <= now]:
            error = attempt_post(message, channel, info, now)
            save()
            if error is None:
                posted += 1
                continue
            failed += 1
            if error.unreachable:
                break
    return posted, failed


def send_test_post(channel: ChannelSettings, now: datetime) -> str:
    """Post a short test message now (no outbox); a sentence saying it worked, or ChannelError."""
    obs = Observation(
        key=f"test:{channel.name}",
        rule="test",
        scope="the organisation",
        level=None,
        subject="[Mistral usage monitor] test message: alerts will reach this channel",
        figures=(("Channel", f"{channel.name} ({channel.kind})"), ("Sent at", now.isoformat())),
    )
    notice = Notice("test", obs, now.isoformat())
    ident = delivery_id(notice.token, channel.name)
    post(channel, payload(channel.kind, notice, ident, channel.name, now), ident)
    return f"posted a test message to the {channel.label}"


def _status(info: ChannelInfo, now: datetime) -> str:
    if _paused(info, now):
        return f"paused until {info['not_before']} (HTTP 429 Retry-After)"
    if info.get("last_error_at") and (info.get("last_ok_at") or "") < info["last_error_at"]:
        return "failing"
    return "ok" if info.get("last_ok_at") else "nothing sent yet"


def channel_status(state: SavedState, channels: dict[str, ChannelSettings], now: datetime) -> list[dict[str, Any]]:
    """One row per configured channel for the Budgets page: state, counts, last delivery and error."""
    out = []
    for name, channel in sorted(channels.items()):
        info = state.get("channels", {}).get(name, {})
        mine = [m for m in state["outbox"] if is_post(m) and m["channel"] == name]
        count = {s: sum(1 for m in mine if m["status"] == s) for s in ("pending", "sent", "failed")}
        out.append(
            {
                "channel": name,
                "kind": channel.kind,
                "url from": f"${channel.url_env}",
                "state": _status(info, now),
                **count,
                "last delivered": info.get("last_ok_at"),
                "last error": info.get("last_error"),
                "last error at": info.get("last_error_at"),
            }
        )
    return out
