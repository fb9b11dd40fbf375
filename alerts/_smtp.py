"""Sending one message over SMTP, and saying in plain words why it failed.

Why plain words: the person reading "send test email failed" on the Budgets page needs "the
server refused the login for alerts@example.com: check username and $SMTP_PASSWORD", not
`SMTPAuthenticationError(535, b'5.7.8 ...')`. The password never appears in a message.

Example:
    >>> message = EmailMessage()
    >>> message["From"], message["To"] = "monitor@example.com", "ops@example.com"
    >>> settings = SmtpSettings(host="127.0.0.1", sender="monitor@example.com", port=9, security="none")
    >>> try:
    ...     send(settings, message)
    ... except DeliveryError as exc:
    ...     print(exc)
    could not connect to 127.0.0.1:9 (connection refused); is the SMTP server running and the port right?
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Collection
from email.message import EmailMessage

from ._settings import SmtpSettings, is_email
from .errors import AlertError


class DeliveryError(AlertError):
    """The message was not accepted; `str()` explains why for a person, `temporary` if worth retrying."""

    def __init__(self, message: str, temporary: bool = True, unreachable: bool = False) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.unreachable = unreachable
        """True when no other message would get through either (down, TLS, login)."""


def _context(settings: SmtpSettings) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    if settings.security == "tls":
        return smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout_seconds, context=_context(settings)
        )
    client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
    if settings.security == "starttls":
        try:
            client.starttls(context=_context(settings))
        except BaseException:
            client.close()  # a refused or failed STARTTLS leaves the connection open
            raise
    return client


def send(settings: SmtpSettings, message: EmailMessage) -> None:
    """Deliver `message` to its To: recipients; DeliveryError on any failure."""
    where = f"{settings.host}:{settings.port}"
    try:
        with _connect(settings) as client:
            if settings.username:
                client.login(settings.username, settings.password() or "")
            client.send_message(message)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one plain sentence
        unreachable = not isinstance(exc, _PER_MESSAGE)
        raise DeliveryError(explain(exc, settings, where), _temporary(exc), unreachable) from None


_PER_MESSAGE = (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, smtplib.SMTPSenderRefused)
"""Failures about one message; anything else means the server takes no message right now."""


def _temporary(exc: Exception) -> bool:
    code = getattr(exc, "smtp_code", None)
    return not (isinstance(code, int) and 500 <= code < 600)


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
    return f"{exc.smtp_code} {text}".strip()


def explain(exc: Exception, settings: SmtpSettings, where: str) -> str:
    """One sentence: what went wrong and what to check."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return (
            f"the server {where} refused the login for {settings.username} ({_reply(exc)}); "
            f"check smtp.username and the password in ${settings.password_env}"
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f'the server {where} does not offer {exc}; set smtp.security to "tls" or "none"'
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = "; ".join(
            f"{rcpt}: {code} {text.decode(errors='replace')}" for rcpt, (code, text) in exc.recipients.items()
        )
        return f"the server {where} refused the recipient ({replies})"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"the server {where} answered {_reply(exc)}"
    if isinstance(exc, ConnectionRefusedError):
        return f"could not connect to {where} (connection refused); is the SMTP server running and the port right?"
    if isinstance(exc, socket.timeout | TimeoutError):
        return f"no answer from {where} within {settings.timeout_seconds:g} s; check smtp.host and smtp.port"
    if isinstance(exc, socket.gaierror):
        return f"the host name {settings.host!r} does not resolve; check smtp.host"
    if isinstance(exc, ssl.SSLError):
        return f"TLS with {where} failed ({exc.reason or exc}); check smtp.security, smtp.port and smtp.ca_file"
    if isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionError | OSError):
        return f"the connection to {where} failed ({exc}); check smtp.host, smtp.port and smtp.security"
    return f"sending through {where} failed: {exc}"


def send_test_email(settings: SmtpSettings, recipient: str, allowed: Collection[str]) -> str:
    """Send a short test message now (no outbox); a sentence saying it worked, or DeliveryError.

    Only to one of `allowed`, the configured recipients: the page must not become a way to
    mail any address (or several, or a forged header) from the monitor's account.
    """
    if recipient not in allowed or not is_email(recipient):
        raise DeliveryError(
            f"{recipient!r} is not a configured recipient; pick one of "
            f"{', '.join(allowed) or 'none'} (add an address to a budget or to [alerts] recipients "
            "first)",
            temporary=False,
        )
    message = EmailMessage()
    message["From"], message["To"] = settings.sender, recipient
    message["Subject"] = "[Mistral spend] test email from the usage monitor"
    message.set_content(
        f"This is a test from the Mistral usage monitor via {settings.host}:{settings.port}.\n"
        "If you can read it, alert emails will reach you.\n"
    )
    send(settings, message)
    return f"sent a test email to {recipient} via {settings.host}:{settings.port} ({settings.security})"
