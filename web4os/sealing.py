"""Secrets at rest (MCP credentials, webhook signing secrets): encrypted with a key from
the environment, read back only to use them where they belong."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from web4os.config import get_settings
from web4os.errors import InvalidInput


def _fernet() -> Fernet:
    """``WEB4OS_CREDENTIALS_KEY`` (a Fernet key, or any string hashed into one), else a key
    derived from ``WEB4OS_SECRET_KEY`` under its own label, so it is never the cookie key."""
    settings = get_settings()
    raw = settings.credentials_key
    if raw:
        try:
            return Fernet(raw.encode())
        except ValueError:
            material = b"web4os-credentials-key:" + raw.encode()
    else:
        material = b"web4os-credentials-from-secret:" + settings.secret_key.encode()
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(material).digest()))


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode() if value else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise InvalidInput("The server's saved credential cannot be read with this server's "
                           "key (WEB4OS_CREDENTIALS_KEY changed?). Save the credential again.",
                           field="credential") from None
