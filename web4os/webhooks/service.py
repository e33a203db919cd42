"""An account's webhooks: its endpoints (owners configure them; the routes check the role),
and the outbox every event of the account writes its deliveries to.

Queries go through ``tenancy``, so another account's endpoints and deliveries are simply
not found. Nothing is sent from here: deliveries are rows written in the caller's
transaction, handed to the senders (``webhooks.sender``) only once it commits.
"""

from __future__ import annotations

import ipaddress
import json
import secrets as random_tokens
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from web4os import sealing as sealed
from web4os.db import utcnow
from web4os.errors import Conflict, InvalidInput, NotFound
from web4os.netguard import AddressRefused, refusal_reason, resolve_public, split_http_url
from web4os.tenancy import AccountId, get_owned, scoped
from web4os.webhooks import sender
from web4os.webhooks.events import EVENTS, TEST_EVENT
from web4os.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from web4os.webhooks.signing import new_secret, secret_hint

MAX_URL = 500
MAX_DESCRIPTION = 200
LOG_SIZE = 100  # deliveries a log page shows, newest first


@dataclass(frozen=True)
class NewSecret:
    """An endpoint with the secret it signs with: shown this once, never again."""

    endpoint: WebhookEndpoint
    secret: str


def new_message_id() -> str:
    """A delivery's ``webhook-id``: unique across accounts and servers."""
    return "msg_" + random_tokens.token_urlsafe(18)


def check_url(url: str) -> str:
    """The URL cleaned, or ``InvalidInput`` on ``url``: it must pass the address guard, and
    be https unless it reaches a private host the server admin allowed (a receiver on the
    office network, or loopback in tests), where plain http does not cross the internet."""
    url = url.strip()
    if not url:
        raise InvalidInput("Give the URL your receiver listens on.", field="url")
    if len(url) > MAX_URL:
        raise InvalidInput(f"Keep the URL under {MAX_URL} characters.", field="url")
    try:
        scheme, host, port = split_http_url(url)
        addresses = resolve_public(host, port)
    except AddressRefused as exc:
        raise InvalidInput(exc.message, field="url") from None
    allowed_private = all(refusal_reason(ipaddress.ip_address(a.split("%", 1)[0])) is not None
                          for a in addresses)
    if scheme != "https" and not allowed_private:
        raise InvalidInput("Use an https:// URL: deliveries carry your account's events. (Plain "
                           "http is accepted only for private hosts the server admin allows.)",
                           field="url")
    return url


def check_events(events: Iterable[str]) -> list[str]:
    """The chosen events in the usual order; refuses unknown names and an empty choice."""
    chosen = {e.strip() for e in events if e.strip()}
    unknown = sorted(chosen - set(EVENTS))
    if unknown:
        raise InvalidInput(f"Unknown event: {', '.join(unknown)}. Choose from "
                           f"{', '.join(EVENTS)}.", field="events")
    if not chosen:
        raise InvalidInput("Choose at least one event to send.", field="events")
    return [e for e in EVENTS if e in chosen]


def _description(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > MAX_DESCRIPTION:
        raise InvalidInput(f"Keep the description under {MAX_DESCRIPTION} characters.",
                           field="description")
    return text


def list_endpoints(session: Session, account_id: AccountId) -> list[WebhookEndpoint]:
    return list(session.scalars(scoped(WebhookEndpoint, account_id)
                                .order_by(WebhookEndpoint.id)))


def get_endpoint(session: Session, account_id: AccountId, endpoint_id: int) -> WebhookEndpoint:
    return get_owned(session, WebhookEndpoint, endpoint_id, account_id)


def create_endpoint(session: Session, account_id: AccountId, *, url: str,
                    events: Iterable[str], description: str = "",
                    enabled: bool = True) -> NewSecret:
    """A new endpoint and its signing secret, which the caller shows once."""
    endpoint = WebhookEndpoint(account_id=account_id, url=check_url(url),
                               events=check_events(events), description=_description(description),
                               enabled=enabled)
    secret = _seal(endpoint)
    session.add(endpoint)
    session.flush()
    return NewSecret(endpoint, secret)


def _seal(endpoint: WebhookEndpoint) -> str:
    secret = new_secret()
    endpoint.secret_encrypted = sealed.encrypt(secret)
    endpoint.secret_hint = secret_hint(secret)
    return secret


def update_endpoint(session: Session, account_id: AccountId, endpoint_id: int, *,
                    url: str | None = None, events: Iterable[str] | None = None,
                    description: str | None = None,
                    enabled: bool | None = None) -> WebhookEndpoint:
    """Change what is given; the rest stays. The secret changes only by ``rotate_secret``."""
    endpoint = get_endpoint(session, account_id, endpoint_id)
    if url is not None:
        endpoint.url = check_url(url)
    if events is not None:
        endpoint.events = check_events(events)
    if description is not None:
        endpoint.description = _description(description)
    if enabled is not None:
        endpoint.enabled = enabled
    session.flush()
    return endpoint


ROTATION_OVERLAP = timedelta(hours=24)


def rotate_secret(session: Session, account_id: AccountId, endpoint_id: int) -> NewSecret:
    """A new secret for the endpoint. Every attempt from now on is signed with it, and for
    ``ROTATION_OVERLAP`` with the old one too, so the receiver can switch without a gap."""
    endpoint = get_endpoint(session, account_id, endpoint_id)
    endpoint.previous_secret_encrypted = endpoint.secret_encrypted
    endpoint.previous_secret_until = utcnow() + ROTATION_OVERLAP
    secret = _seal(endpoint)
    session.flush()
    return NewSecret(endpoint, secret)


def delete_endpoint(session: Session, account_id: AccountId, endpoint_id: int) -> None:
    """Remove the endpoint and its delivery log (deliveries not sent yet are dropped)."""
    endpoint = get_endpoint(session, account_id, endpoint_id)
    session.execute(delete(WebhookDelivery).where(
        WebhookDelivery.account_id == account_id, WebhookDelivery.endpoint_id == endpoint.id)
        .execution_options(synchronize_session=False))
    session.delete(endpoint)
    session.flush()


def subscribed(endpoint: WebhookEndpoint, event: str) -> bool:
    return endpoint.enabled and event in (endpoint.events or [])


def _outbox(session: Session, account_id: AccountId, endpoints: list[WebhookEndpoint],
            event: str, payload: dict[str, Any]) -> list[WebhookDelivery]:
    now = utcnow()
    rows = [WebhookDelivery(account_id=account_id, endpoint_id=e.id, message_id=new_message_id(),
                            event=event, payload=payload, status=DeliveryStatus.PENDING,
                            attempts=0, next_attempt_at=now) for e in endpoints]
    session.add_all(rows)
    session.flush()
    sender.send_after_commit(session, [(r.id, account_id) for r in rows])
    return rows


def enqueue_deliveries(session: Session, account_id: AccountId, event: str,
                       payload: dict[str, Any]) -> int:
    """One pending delivery per enabled endpoint of the account subscribed to ``event``,
    written in the caller's transaction and sent once it commits (never if it rolls back).
    Returns how many were written."""
    endpoints = [e for e in list_endpoints(session, account_id) if subscribed(e, event)]
    if not endpoints:
        return 0
    # JSON as stored and sent: a value JSON has no type for (a datetime) becomes its text,
    # so an odd payload never fails the caller's transaction.
    plain: dict[str, Any] = json.loads(json.dumps(payload, default=str))
    return len(_outbox(session, account_id, endpoints, str(event), plain))


def send_test(session: Session, account_id: AccountId, endpoint_id: int) -> WebhookDelivery:
    """A ``webhook.test`` delivery to this endpoint alone, whatever events it chose."""
    endpoint = get_endpoint(session, account_id, endpoint_id)
    payload: dict[str, Any] = {
        "id": None, "event": TEST_EVENT, "created_at": utcnow().isoformat(),
        "account_id": int(account_id), "title": "Test event from web4os",
        "body": "This endpoint receives web4os events. Nothing happened in the account.",
        "url": None, "goal_id": None, "task_id": None,
    }
    return _outbox(session, account_id, [endpoint], TEST_EVENT, payload)[0]


def list_deliveries(session: Session, account_id: AccountId, endpoint_id: int,
                    limit: int = LOG_SIZE) -> list[WebhookDelivery]:
    """The endpoint's delivery log, newest first."""
    endpoint = get_endpoint(session, account_id, endpoint_id)
    return list(session.scalars(scoped(WebhookDelivery, account_id)
                                .where(WebhookDelivery.endpoint_id == endpoint.id)
                                .order_by(WebhookDelivery.id.desc()).limit(limit)))


def get_delivery(session: Session, account_id: AccountId, endpoint_id: int,
                 delivery_id: int) -> WebhookDelivery:
    delivery = get_owned(session, WebhookDelivery, delivery_id, account_id)
    if delivery.endpoint_id != endpoint_id:
        raise NotFound("No such webhookdelivery.")
    return delivery


def retry_now(session: Session, account_id: AccountId, endpoint_id: int,
              delivery_id: int) -> WebhookDelivery:
    """Send a failed (or given up) delivery again now, once it commits. One given up
    gets this one attempt: its retry window has passed."""
    delivery = get_delivery(session, account_id, endpoint_id, delivery_id)
    if delivery.status not in (DeliveryStatus.FAILED, DeliveryStatus.GAVE_UP):
        raise Conflict(f"Only a failed delivery can be retried; this one is {delivery.status}.")
    delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, utcnow()
    session.flush()
    sender.send_after_commit(session, [(delivery.id, account_id)])
    return delivery
