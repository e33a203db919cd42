"""Email verification before the starting credits (issue 19, finding 4), against a real
SMTP server (aiosmtpd on a loopback port): the mail arrives, its link grants the credits
once, altered and expired links say so, and resending is limited."""

from __future__ import annotations

import html as htmllib
import re
import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.factories import csrf_from
from web4os.accounts.models import Account, RateEvent, User
from web4os.accounts.security import sign
from web4os.config import DEV_SECRET_KEY, Settings, get_settings
from web4os.credits.models import CreditLedgerEntry
from web4os.db import utcnow
from web4os.onboarding.verification import PURPOSE


class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def link(self, index: int = -1) -> str:
        body = self.messages[index].get_payload(decode=True)
        assert isinstance(body, bytes)
        m = re.search(r"http://testserver(/verify-email/\S+)", body.decode())
        assert m, body
        return m.group(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    handler = Inbox()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    for key, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_TLS": "none",
                       "SMTP_FROM": "web4os@example.com", "SECRET_KEY": "a test secret",
                       "SIGNUP_REQUIRE_EMAIL_VERIFICATION": "true"}.items():
        monkeypatch.setenv(f"WEB4OS_{key}", value)
    get_settings.cache_clear()
    try:
        yield handler
    finally:
        controller.stop()


def _signup(client: TestClient, email: str = "rosie@example.com") -> str:
    token = csrf_from(client.get("/signup").text)
    resp = client.post("/signup", data={"account_name": "Rosie's Bakery", "email": email,
                                        "password": "flour and sugar 42", "csrf_token": token},
                       follow_redirects=False)
    assert resp.status_code == 303, resp.text
    return resp.headers["location"]


def _account(db: Session) -> Account:
    db.rollback()
    return db.scalars(select(Account)).one()


def _text(resp: Any) -> str:
    return htmllib.unescape(resp.text)


def test_the_link_confirms_the_email_and_grants_the_credits_once(
        client: TestClient, db: Session, inbox: Inbox) -> None:
    assert "1,000 free starting credits once you confirm your email" in _text(client.get("/signup"))
    target = _signup(client)
    assert target == "/?welcome=1&mail=sent"
    account = _account(db)
    assert account.credit_balance == 0 and account.starting_credits_pending
    home = _text(client.get(target))
    assert "we sent a confirmation link to rosie@example.com" in home
    assert "Your 1,000 starting credits arrive when you open it" in home

    assert len(inbox.messages) == 1
    mail = inbox.messages[0]
    assert mail["To"] == "rosie@example.com" and mail["From"] == "web4os@example.com"
    link = inbox.link()
    page = client.get(link)
    assert page.status_code == 200
    assert "rosie@example.com is confirmed" in _text(page)
    assert "Your 1,000 starting credits are in your account" in _text(page)
    account = _account(db)
    assert account.credit_balance == 1000 and not account.starting_credits_pending
    user = db.scalars(select(User)).one()
    assert user.email_verified_at is not None

    client.cookies.clear()  # a second opening, from anywhere, grants nothing more
    again = client.get(link)
    assert again.status_code == 200 and "(it already was)" in _text(again)
    assert "starting credits are in" not in _text(again)
    assert _account(db).credit_balance == 1000
    grants = db.scalars(select(CreditLedgerEntry)).all()
    assert [(g.amount, g.idempotency_key) for g in grants] == [
        (1000, f"starting-credits:{account.id}")]


def test_altered_and_expired_links_are_refused_with_a_clear_page(
        client: TestClient, db: Session, inbox: Inbox) -> None:
    _signup(client)
    link = inbox.link()
    body, _, mac = link.rpartition("/")[2].partition(".")
    tampered = f"/verify-email/{body}.{mac[:-2]}{'AA' if mac[-2:] != 'AA' else 'BB'}"
    for bad in (tampered, link[:-5], "/verify-email/nonsense"):
        resp = client.get(bad)
        assert resp.status_code == 400, bad
        assert "This confirmation link is not valid" in _text(resp)
    user = db.scalars(select(User)).one()
    old = sign(get_settings().secret_key, PURPOSE,
               {"u": user.id, "e": user.email, "a": _account(db).id},
               issued_at=time.time() - 49 * 3600)
    resp = client.get(f"/verify-email/{old}")
    assert resp.status_code == 400 and "This confirmation link has expired" in _text(resp)
    db.rollback()
    assert _account(db).credit_balance == 0
    assert db.scalars(select(User)).one().email_verified_at is None


def test_resending_the_link_is_limited(client: TestClient, db: Session, inbox: Inbox) -> None:
    _signup(client)
    csrf = csrf_from(client.get("/").text)
    resp = client.post("/verify-email/resend", data={"csrf_token": csrf}, follow_redirects=False)
    assert resp.status_code == 429 and "We just sent that email" in _text(resp)
    assert resp.headers["retry-after"]
    assert len(inbox.messages) == 1

    db.rollback()
    db.execute(update(RateEvent).values(created_at=utcnow() - timedelta(minutes=2)))
    db.commit()
    resp = client.post("/verify-email/resend", data={"csrf_token": csrf}, follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/?mail=sent"
    assert len(inbox.messages) == 2
    client.get(inbox.link(0))  # the first link still works (once)
    assert _account(db).credit_balance == 1000


def test_a_grant_of_zero_still_verifies_and_grants_nothing(
        client: TestClient, db: Session, inbox: Inbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB4OS_SIGNUP_CREDIT_GRANT", "0")
    get_settings.cache_clear()
    assert "credits" not in _text(client.get("/signup"))
    home = _text(client.get(_signup(client)))
    assert "It has no credits yet" in home and "We sent a link to confirm your email" in home
    assert not _account(db).starting_credits_pending
    page = _text(client.get(inbox.link()))
    assert "rosie@example.com is confirmed" in page and "credits" not in page.split("<main")[1]
    assert _account(db).credit_balance == 0
    assert db.scalars(select(CreditLedgerEntry)).all() == []


def test_an_unreachable_mail_server_is_said_and_resend_offered(
        client: TestClient, db: Session, inbox: Inbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB4OS_SMTP_PORT", str(_free_port()))  # nobody listens there
    get_settings.cache_clear()
    target = _signup(client)
    assert target == "/?welcome=1&mail=unsent"
    home = _text(client.get(target))
    assert "We couldn't send the confirmation email to rosie@example.com" in home
    assert 'action="/verify-email/resend"' in home
    assert _account(db).starting_credits_pending


def test_verification_without_a_mail_server_or_a_secret_stops_start_up() -> None:
    with pytest.raises(ValidationError, match="WEB4OS_SMTP_HOST"):
        Settings(signup_require_email_verification=True, smtp_host="", secret_key="s3cret")
    with pytest.raises(ValidationError, match="WEB4OS_SECRET_KEY of your own"):
        Settings(signup_require_email_verification=True, smtp_host="127.0.0.1",
                 smtp_from="web4os@example.com", secret_key=DEV_SECRET_KEY)
