"""Passwords, random tokens and their hashes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# Moderate parameters: safe for a web login, quick enough for tests on 2 cores.
_hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
_DUMMY = _hasher.hash("web4os-dummy-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-ish time: a missing user still costs one verification."""
    try:
        return _hasher.verify(password_hash or _DUMMY, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token(nbytes: int = 32) -> str:
    """A URL-safe random secret."""
    return secrets.token_urlsafe(nbytes)


def token_hash(token: str) -> str:
    """What we store instead of a secret token (SHA-256 is enough for 256-bit randoms)."""
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class BadSignature(Exception):
    """A signed value that was altered, cut short or signed for another purpose."""


class SignatureExpired(Exception):
    """A signed value that is genuine but older than it may be."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, purpose: str, body: str) -> str:
    key = hashlib.sha256(f"web4os:{purpose}:{secret}".encode()).digest()
    return _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())


def sign(secret: str, purpose: str, payload: dict[str, Any], *, issued_at: float | None = None
         ) -> str:
    """``payload`` (JSON) with its issue time, signed for one ``purpose``: a link can
    carry it and nobody can change it or use it for something else."""
    issued = int(time.time() if issued_at is None else issued_at)
    body = _b64(json.dumps({**payload, "iat": issued}, separators=(",", ":")).encode())
    return f"{body}.{_mac(secret, purpose, body)}"


def unsign(secret: str, purpose: str, token: str, max_age_seconds: int) -> dict[str, Any]:
    """The payload of a value made by ``sign``; raises ``BadSignature`` or ``SignatureExpired``."""
    body, _, mac = token.partition(".")
    if not body or not mac or not same(mac, _mac(secret, purpose, body)):
        raise BadSignature(purpose)
    try:
        payload = json.loads(_unb64(body))
    except ValueError as exc:
        raise BadSignature(purpose) from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("iat"), int):
        raise BadSignature(purpose)
    if time.time() - payload["iat"] > max_age_seconds:
        raise SignatureExpired(purpose)
    return payload
