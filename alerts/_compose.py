"""Turning the notices of one run into one email per recipient: subject, plain text and HTML.

Why one email per recipient per run: a budget at 100% usually also trips its forecast and an
anomaly at once; three emails in the same minute teach people to filter them away. The
subject names the most important notice and counts the rest.

Why a deterministic Message-ID (a hash of the notices and the recipient): if the process dies
after the SMTP server accepted a message but before the outbox marked it sent, the retry
carries the same Message-ID, which mail clients use to fold the duplicate.
"""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.utils import formatdate
from html import escape

from ._names import printable
from ._observation import Contributor
from ._state import Message, Notice

DOMAIN = "mistral-usage-monitor.local"
_ORDER = {"fired": 0, "repeat": 1, "resolved": 2}
_RULE_ORDER = ("threshold", "forecast", "error_rate", "rate_429", "anomaly_day", "anomaly_hour")
_SCOPE_ORDER = ("api_key", "project", "model")
"""Anomalies of one run: the key behind a runaway leads the subject, then its project, then models."""
_PREFIX = {"fired": "", "repeat": "[Reminder] ", "resolved": "[Resolved] ", "test": "[Test] "}


def message_id(tokens: list[str], recipient: str) -> str:
    digest = hashlib.sha256("\n".join(sorted(tokens) + [recipient]).encode()).hexdigest()[:32]
    return f"<{digest}@{DOMAIN}>"


def _rank(notice: Notice) -> tuple[int, int, int]:
    rule = notice.observation.rule
    parts = notice.observation.key.split(":")
    scope = _SCOPE_ORDER.index(parts[1]) if len(parts) > 2 and parts[1] in _SCOPE_ORDER else -1
    return _ORDER[notice.kind], _RULE_ORDER.index(rule) if rule in _RULE_ORDER else len(_RULE_ORDER), scope


def subject_of(notice: Notice) -> str:
    """The subject on one line: a project or model name from traffic may hold a newline."""
    return printable(_PREFIX[notice.kind] + notice.observation.subject)


def compose(recipient: str, notices: list[Notice]) -> Message:
    """The outbox fields of one email to `recipient` covering `notices`."""
    ordered = sorted(notices, key=_rank)
    subject = subject_of(ordered[0])
    if len(ordered) > 1:
        subject += f" (+{len(ordered) - 1} more)"
    return {
        "id": message_id([n.token for n in ordered], recipient),
        "to": recipient,
        "subject": subject,
        "text": "\n\n".join(_text(n) for n in ordered) + "\n",
        "html": _html(ordered),
        "keys": [n.observation.key for n in ordered],
    }


def _contributor(c: Contributor) -> str:
    share = f" ({100 * c.share:.0f}%)" if c.share is not None else ""
    return f"{printable(c.name)}: {c.value:,.2f}{share}"


def _text(notice: Notice) -> str:
    obs = notice.observation
    lines = [subject_of(notice), ""]
    lines += [f"{printable(label)}: {printable(value)}" for label, value in obs.figures]
    for title, people in obs.contributors:
        if people:
            lines += ["", f"{title}:"] + [f"  - {_contributor(c)}" for c in people]
    if obs.link:
        lines += ["", f"Dashboard: {obs.link}"]
    return "\n".join(lines)


def _html_one(notice: Notice) -> str:
    obs = notice.observation
    rows = "".join(
        f"<tr><th align='left'>{escape(printable(k))}</th><td>{escape(printable(v))}</td></tr>" for k, v in obs.figures
    )
    parts = [f"<h2 style='font-size:16px'>{escape(subject_of(notice))}</h2>", f"<table>{rows}</table>"]
    for title, people in obs.contributors:
        if people:
            items = "".join(f"<li>{escape(_contributor(c))}</li>" for c in people)
            parts.append(f"<p><b>{escape(title)}</b></p><ul>{items}</ul>")
    if obs.link:
        parts.append(f'<p><a href="{escape(obs.link, quote=True)}">Open the dashboard with these filters</a></p>')
    return "".join(parts)


def _html(notices: list[Notice]) -> str:
    body = "<hr>".join(_html_one(n) for n in notices)
    return f"<!doctype html><html><body style='font-family:sans-serif'>{body}</body></html>"


def to_email(entry: Message, sender: str) -> EmailMessage:
    """A multipart/alternative message (plain text first, HTML second) from an outbox entry.

    The subject is escaped again: an entry queued by an older version may hold a raw newline.
    """
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = entry["to"]
    msg["Subject"] = printable(entry["subject"])
    msg["Message-ID"] = entry["id"]
    msg["Date"] = formatdate(localtime=False)
    msg.set_content(entry["text"])
    msg.add_alternative(entry["html"], subtype="html")
    return msg
