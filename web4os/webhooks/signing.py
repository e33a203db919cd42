"""Signing deliveries the Standard Webhooks way (standardwebhooks.com), so a receiver can
check them with that project's libraries in any language, or with a few lines of its own.

Headers: ``webhook-id`` (the delivery, the same on every retry), ``webhook-timestamp``
(Unix seconds of this attempt) and ``webhook-signature``: ``v1,`` and the base64 of
HMAC-SHA256 over ``{id}.{timestamp}.{body}``, keyed with the base64-decoded part of the
secret after ``whsec_``. The timestamp inside the signed text lets a receiver refuse a
replayed request.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_hint(secret: str) -> str:
    """What the pages show of a secret after it was shown once: its last four characters."""
    return f"{SECRET_PREFIX}…{secret[-4:]}"


def signed_headers(secrets: list[str], message_id: str, at: datetime,
                   body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt to send ``body``: one signature per
    secret, space-separated (a receiver accepts the request if any of them matches)."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(Webhook(s).sign(message_id, at, body) for s in secrets),
    }
