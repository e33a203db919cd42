"""Outgoing email over SMTP (the ``WEB4OS_SMTP_*`` settings), plain text only.

Callers send after their transaction commits, so a slow or failing mail server never
holds a database lock, and a failure is reported to the person (a resend), not hidden.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr

from web4os.config import get_settings

log = logging.getLogger("web4os.mail")


@dataclass(frozen=True)
class OutgoingMail:
    """A message written inside a transaction, sent once it has committed."""

    to: str
    subject: str
    body: str

    def send(self) -> None:
        send_mail(self.to, self.subject, self.body)


class MailNotSent(Exception):
    """The message could not be handed to the mail server (its reason is logged)."""


def mail_configured() -> bool:
    settings = get_settings()
    return bool(settings.smtp_host and settings.smtp_from)


def send_mail(to: str, subject: str, body: str) -> None:
    """Hand one plain-text message to the configured SMTP server, or raise ``MailNotSent``."""
    settings = get_settings()
    if not mail_configured():
        raise MailNotSent("no SMTP server is configured (WEB4OS_SMTP_HOST, WEB4OS_SMTP_FROM)")
    msg = EmailMessage()
    msg["From"] = settings.smtp_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain=parseaddr(settings.smtp_from)[1].rpartition("@")[2]
                                   or None)
    msg.set_content(body)
    host, port, timeout = settings.smtp_host, settings.smtp_port, settings.smtp_timeout_seconds
    try:
        smtp: smtplib.SMTP
        if settings.smtp_tls == "ssl":
            smtp = smtplib.SMTP_SSL(host, port, timeout=timeout,
                                    context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        with smtp:
            if settings.smtp_tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("could not send %r to %s via %s:%s: %s", subject, to, host, port, exc)
        raise MailNotSent(str(exc)) from exc
