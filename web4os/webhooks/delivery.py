"""One attempt to send one delivery: claim it, post it signed, write what happened.

A delivery is claimed by a guarded UPDATE (waiting, due, not claimed by a live attempt)
that also counts the attempt, so however many processes are handed the same row, one
sends it; the result is written only where the count is still the claimer's. Nothing is
held open while the receiver is asked: the claim commits first, and its lease
(``claimed_until``) lets the sweep try again if this process dies mid-attempt.

Retries back off exponentially with jitter (``RETRY_BASE`` doubling up to ``RETRY_CAP``,
each ±20 %) until ``RETRY_WINDOW`` after the first attempt; a failure after that gives up.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from web4os import sealing as sealed
from web4os.config import get_settings
from web4os.db import utcnow
from web4os.errors import DomainError
from web4os.netguard import AddressRefused
from web4os.nethttp import guarded_client
from web4os.tenancy import AccountId, get_owned, in_account, tenant_session
from web4os.webhooks.events import TEST_EVENT
from web4os.webhooks.models import WAITING, DeliveryStatus, WebhookDelivery, WebhookEndpoint
from web4os.webhooks.signing import signed_headers

log = logging.getLogger("web4os.webhooks")

RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=2)
RETRY_WINDOW = timedelta(hours=24)
JITTER = 0.2
USER_AGENT = "web4os-webhooks/1"


@dataclass(frozen=True)
class Outgoing:
    """What one claimed attempt sends, read while the claim committed."""

    delivery_id: int
    attempt: int  # the claim's count: the fence for writing its result
    url: str
    secrets: list[str]  # the endpoint's, and the one it replaced while that still signs
    message_id: str
    body: bytes
    send: bool  # False: the endpoint was turned off meanwhile (test events go anyway)


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def body_of(delivery: WebhookDelivery) -> bytes:
    """The request body: the payload as compact JSON (signed exactly as sent)."""
    return json.dumps(delivery.payload, separators=(",", ":")).encode()


def lease() -> timedelta:
    """How long a claim keeps others off: the longest attempt, with room to write it."""
    return timedelta(seconds=get_settings().webhook_timeout_seconds * 2 + 30)


def next_attempt_at(first_attempt_at: datetime, attempts: int, now: datetime,
                    rng: random.Random | None = None) -> datetime | None:
    """When to try again after ``attempts`` failed tries; None once the window is over."""
    deadline = first_attempt_at + RETRY_WINDOW
    if now >= deadline:
        return None
    delay = min(RETRY_BASE * 2 ** max(attempts - 1, 0), RETRY_CAP)
    jitter = (rng or random).uniform(1 - JITTER, 1 + JITTER)
    retry: datetime = min(now + delay * jitter, deadline)
    return retry


def _claim(session: Session, account_id: AccountId, delivery_id: int,
           now: datetime) -> Outgoing | None:
    t = WebhookDelivery
    claimed = session.execute(
        update(t).where(in_account(t), t.id == delivery_id, t.status.in_(WAITING),
                        t.next_attempt_at <= now,
                        or_(t.claimed_until.is_(None), t.claimed_until < now))
        .values(claimed_until=now + lease(), attempts=t.attempts + 1, last_attempt_at=now,
                first_attempt_at=func.coalesce(t.first_attempt_at, now))
        .execution_options(synchronize_session=False),
        {"tenant": account_id})
    if getattr(claimed, "rowcount", 0) != 1:
        return None
    delivery = get_owned(session, WebhookDelivery, delivery_id, account_id)
    session.refresh(delivery)
    endpoint = get_owned(session, WebhookEndpoint, delivery.endpoint_id, account_id)
    return Outgoing(delivery_id=delivery.id, attempt=delivery.attempts, url=endpoint.url,
                    secrets=_signing_secrets(endpoint, now), message_id=delivery.message_id,
                    body=body_of(delivery),
                    send=endpoint.enabled or delivery.event == TEST_EVENT)


def _signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets an attempt signs with: the endpoint's, and the one a rotation replaced
    while it still signs. Empty if this server's key cannot read the endpoint's own; an
    unreadable old one is left out (rotating is how an owner gets past a lost key)."""
    until = endpoint.previous_secret_until
    still_signs = bool(endpoint.previous_secret_encrypted) and until is not None and until > now
    readable: list[str] = []
    for token in [endpoint.secret_encrypted] + ([endpoint.previous_secret_encrypted]
                                                if still_signs else []):
        try:
            readable.append(sealed.decrypt(token))
        except DomainError:
            if not readable:
                return []
    return readable


def post(out: Outgoing) -> Outcome:
    """Send one attempt; never raises for what the receiver or the network did."""
    if not out.send:
        return Outcome(None, "Not sent: the endpoint is turned off.")
    if not out.secrets:
        return Outcome(None, "Not sent: the endpoint's secret cannot be read with this server's "
                             "key (WEB4OS_CREDENTIALS_KEY changed?). Rotate the secret.")
    limit = get_settings().webhook_timeout_seconds
    headers = {"content-type": "application/json", "user-agent": USER_AGENT,
               **signed_headers(out.secrets, out.message_id, utcnow(), out.body)}
    try:
        with guarded_client(timeout=httpx.Timeout(limit, connect=min(limit, 3.0)),
                            follow_redirects=False) as client, \
                client.stream("POST", out.url, content=out.body, headers=headers) as answer:
            code = answer.status_code  # the body is never read: it is not ours to keep
    except AddressRefused as exc:
        return Outcome(None, exc.message)
    except httpx.TimeoutException:
        return Outcome(None, f"No answer within {limit:g} s.")
    except httpx.HTTPError as exc:
        return Outcome(None, f"Could not reach the receiver: {exc.__class__.__name__}: {exc}"[:500])
    if 200 <= code < 300:
        return Outcome(code, "")
    if 300 <= code < 400:
        return Outcome(code, f"The receiver answered {code}; webhooks do not follow redirects.")
    return Outcome(code, f"The receiver answered {code}.")


def _record(session: Session, account_id: AccountId, out: Outgoing, outcome: Outcome) -> None:
    t = WebhookDelivery
    now = utcnow()
    values: dict[str, object] = {"last_status_code": outcome.status_code,
                                 "last_error": outcome.error[:1000], "claimed_until": None}
    if outcome.delivered:
        values.update(status=DeliveryStatus.DELIVERED, next_attempt_at=None)
    else:
        first = session.scalar(select(t.first_attempt_at).where(in_account(t), t.id == out.delivery_id),
                               {"tenant": account_id})
        retry = next_attempt_at(first or now, out.attempt, now) if out.send else None
        values.update(status=DeliveryStatus.FAILED if retry else DeliveryStatus.GAVE_UP,
                      next_attempt_at=retry)
    session.execute(update(t).where(in_account(t), t.id == out.delivery_id,
                                    t.attempts == out.attempt)
                    .values(**values).execution_options(synchronize_session=False),
                    {"tenant": account_id})


def attempt(delivery_id: int, *, account_id: int) -> Outcome | None:
    """Claim, send and record one attempt; None when the delivery was not this process's
    to send (not due, already sent, or another process is sending it now)."""
    aid = AccountId(account_id)
    with tenant_session(account_id) as s:
        out = _claim(s, aid, delivery_id, utcnow())
    if out is None:
        return None
    outcome = post(out)
    with tenant_session(account_id) as s:
        _record(s, aid, out, outcome)
    if not outcome.delivered:
        log.info("webhook delivery %s attempt %s failed: %s", delivery_id, out.attempt,
                 outcome.error)
    return outcome
