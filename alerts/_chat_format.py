"""One alert as a Slack Block Kit message, a Teams Adaptive Card, or a generic webhook JSON body.

Why every name is escaped for its format: project, model and key names come from traffic and
can hold anything. In Slack mrkdwn, `<!channel>` pings everyone and `<https://x|click>` is a
link, so `&`, `<` and `>` become entities, and every text object is `verbatim` (Slack then
turns no bare URL, `#channel` or mention into a link); the notification text, which has no
such switch, gets an invisible word joiner after `.`, `:`, `/`, `@` and `#`. Adaptive Card
text is markdown (a CommonMark subset), so each markdown character gets a backslash:
`[click](https://x)` shows as typed, never as a link. The webhook body is JSON (encoding is
escaping); its schema is in docs/alerts.md.

Example:
    >>> slack_escape("<!channel> & co")
    '&lt;!channel&gt; &amp; co'
    >>> teams_escape("[click](https://x)")
    '\\\\[click\\\\]\\\\(https\\\\:\\\\/\\\\/x\\\\)'
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

import orjson

from ._compose import subject_of
from ._names import printable
from ._observation import Contributor
from ._state import Notice

SCHEMA = "mistral-usage-monitor/alert/v1"
MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:&/])")
"""Every character Adaptive Card markdown (or an autolinker) could act on; CommonMark lets
any ASCII punctuation be backslash-escaped, and it then shows as itself."""
NAME_CLIP = 400
"""Characters of one name or figure kept in a chat message (Slack refuses a field over 2,000)."""
URL_MAX = 3000


def delivery_id(token: str, channel: str) -> str:
    """Stable across retries and restarts: a webhook consumer dedupes on it."""
    return hashlib.sha256(f"{token}\n{channel}".encode()).hexdigest()[:32]


def clip(text: str, limit: int = NAME_CLIP) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_escape(text: str) -> str:
    """Slack's three control characters as entities, control characters as escapes."""
    return printable(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def no_autolink(text: str) -> str:
    """A word joiner (invisible) after each character an autolinker keys on: no URL, domain,
    mention or channel name survives as one."""
    return re.sub(r"([.:/@#])", "\\1\u2060", text)


def teams_escape(text: str) -> str:
    """Adaptive Card markdown shown literally: a backslash before each markdown character."""
    return MD_SPECIAL.sub(r"\\\1", printable(text))


def _share(c: Contributor) -> str:
    share = f" ({100 * c.share:.0f}%)" if c.share is not None else ""
    return f"{c.value:,.2f}{share}"


def fit(escaped: str, limit: int) -> str:
    """Escaped Slack text cut to `limit` characters without splitting an entity (`&amp;`)."""
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def _mrkdwn(text: str, limit: int = 3000) -> dict[str, Any]:
    """A text object Slack shows as written: no auto-linked URL, channel or mention."""
    return {"type": "mrkdwn", "text": fit(text, limit), "verbatim": True}


def slack_payload(notice: Notice) -> dict[str, Any]:
    """Block Kit: the subject, the figures as fields, the top contributors, a dashboard button."""
    obs = notice.observation
    subject = clip(subject_of(notice), 500)
    blocks: list[dict[str, Any]] = [{"type": "section", "text": _mrkdwn(f"*{slack_escape(subject)}*")}]
    fields = [_mrkdwn(f"*{slack_escape(clip(k))}*\n{slack_escape(clip(v))}", 2000) for k, v in obs.figures]
    blocks += [{"type": "section", "fields": fields[i : i + 10]} for i in range(0, len(fields), 10)]
    for title, people in obs.contributors:
        if people:
            items = "\n".join(f"• {slack_escape(clip(c.name))}: {_share(c)}" for c in people[:10])
            blocks.append({"type": "section", "text": _mrkdwn(f"*{slack_escape(title)}*\n{items}")})
    if obs.link and len(obs.link) <= URL_MAX:
        button = {"type": "button", "text": {"type": "plain_text", "text": "Open the dashboard"}, "url": obs.link}
        blocks.append({"type": "actions", "elements": [button]})
    blocks.append({"type": "context", "elements": [_mrkdwn(f"Mistral usage monitor · {slack_escape(obs.key)}")]})
    return {"text": no_autolink(slack_escape(subject)), "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


def _block(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def teams_payload(notice: Notice) -> dict[str, Any]:
    """A workflow-webhook message carrying one Adaptive Card (1.4): subject, facts, lists, a link."""
    obs = notice.observation
    body: list[dict[str, Any]] = [_block(teams_escape(clip(subject_of(notice), 500)), weight="Bolder", size="Medium")]
    facts = [{"title": teams_escape(clip(k)), "value": teams_escape(clip(v))} for k, v in obs.figures]
    if facts:
        body.append({"type": "FactSet", "facts": facts})
    for title, people in obs.contributors:
        if people:
            body.append(_block(teams_escape(title), weight="Bolder", spacing="Medium"))
            body += [
                _block(f"{teams_escape(clip(c.name))}\\: {teams_escape(_share(c))}", spacing="None")
                for c in people[:10]
            ]
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "msteams": {"width": "Full"},
    }
    if obs.link and len(obs.link) <= URL_MAX:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open the dashboard", "url": obs.link}]
    attachment = {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
    return {"type": "message", "attachments": [attachment]}


def webhook_payload(notice: Notice, ident: str, channel: str, now: datetime) -> dict[str, Any]:
    """The documented JSON body (docs/alerts.md, schema `mistral-usage-monitor/alert/v1`)."""
    obs = notice.observation
    return {
        "schema": SCHEMA,
        "id": ident,
        "channel": channel,
        "event": notice.kind,
        "rule": obs.rule,
        "key": printable(obs.key),
        "scope": printable(obs.scope),
        "level": obs.level,
        "since": notice.since,
        "subject": subject_of(notice),
        "created_at": now.isoformat(),
        "figures": [{"label": printable(k), "value": printable(v)} for k, v in obs.figures],
        "contributors": [
            {"title": title, "items": [{"name": printable(c.name), "value": c.value, "share": c.share} for c in people]}
            for title, people in obs.contributors
            if people
        ],
        "link": obs.link,
    }


def payload(kind: str, notice: Notice, ident: str, channel: str, now: datetime) -> str:
    """The exact body to POST, as text (stored in the outbox so every retry sends the same bytes)."""
    if kind == "slack":
        data = slack_payload(notice)
    elif kind == "teams":
        data = teams_payload(notice)
    else:
        data = webhook_payload(notice, ident, channel, now)
    return orjson.dumps(data).decode()
