"""Sign-in and signup limits (issue 19, findings 3 to 5): a guesser is slowed down without
locking the owner out, signups per address are limited, a grant of 0 promises nothing,
and signup refuses the email's name as the password like an invite does."""

from __future__ import annotations

import html as htmllib

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories import PASSWORD, Tenant, csrf_from
from web4os.accounts import throttle
from web4os.accounts.models import Account, User, WebSession
from web4os.config import get_settings
from web4os.credits.models import CreditLedgerEntry

HOME, ELSEWHERE = "198.51.100.10", "203.0.113.66"


def _from(client: TestClient, address: str) -> TestClient:
    return TestClient(client.app, client=(address, 40000))


def _login(c: TestClient, email: str, password: str) -> tuple[int, str, str | None]:
    token = csrf_from(c.get("/login").text)
    resp = c.post("/login", data={"email": email, "password": password, "csrf_token": token},
                  follow_redirects=False)
    return resp.status_code, htmllib.unescape(resp.text), resp.headers.get("retry-after")


def _sessions(db: Session) -> int:
    db.rollback()
    return int(db.scalar(select(func.count()).select_from(WebSession)) or 0)


def test_wrong_passwords_elsewhere_do_not_lock_the_owner_out(client: TestClient, db: Session,
                                                             tenant: Tenant) -> None:
    guesser, owner = _from(client, ELSEWHERE), _from(client, HOME)
    email = tenant.owner.email
    for _ in range(5):
        status, page, _ = _login(guesser, email, "wrong guess!")
        assert status == 400 and "don't match" in page
    before = _sessions(db)
    status, page, retry = _login(guesser, email, PASSWORD)  # even the right one, from there
    assert status == 429
    assert "Too many wrong passwords for this email from your network" in page
    assert 'value="' + email + '"' in page  # the form is shown again, the email kept
    assert retry is not None and 800 <= int(retry) <= 900
    assert _sessions(db) == before

    status, _, _ = _login(owner, email, PASSWORD)
    assert status == 303  # the owner, from their own address, signs in


def test_many_addresses_only_slow_one_email_down_and_never_its_known_address(
        client: TestClient, db: Session, tenant: Tenant) -> None:
    email = tenant.owner.email
    assert _login(_from(client, HOME), email, PASSWORD)[0] == 303  # HOME is now known
    db.rollback()  # a fresh snapshot, so this session may write after the server did
    for i in range(throttle.EMAIL_FREE + 4):  # one wrong guess each from many addresses
        throttle.login_failed(db, email, f"192.0.2.{i}")
    db.commit()
    status, page, retry = _login(_from(client, "192.0.2.200"), email, PASSWORD)
    assert status == 429 and "slowed down" in page
    assert retry is not None and 1 <= int(retry) <= 16  # 2 ** 4 seconds after the last one
    db.rollback()
    throttle.login_failed(db, email, "192.0.2.201")
    db.commit()
    _, _, longer = _login(_from(client, "192.0.2.202"), email, PASSWORD)
    assert longer is not None and int(longer) > int(retry)  # each guess doubles the wait

    assert _login(_from(client, HOME), email, PASSWORD)[0] == 303


def test_one_address_guessing_many_emails_is_stopped(client: TestClient, db: Session,
                                                     tenant: Tenant) -> None:
    email = tenant.owner.email
    db.rollback()
    for i in range(throttle.ADDRESS_LIMIT):
        throttle.login_failed(db, f"someone{i}@example.com", ELSEWHERE)
    db.commit()
    status, page, retry = _login(_from(client, ELSEWHERE), email, PASSWORD)
    assert status == 429 and "Too many wrong passwords from your network" in page
    assert retry is not None
    assert _login(_from(client, HOME), email, PASSWORD)[0] == 303


# --- signup -------------------------------------------------------------------------------

def _signup(c: TestClient, email: str, password: str = "flour and sugar 42"
            ) -> tuple[int, str, str | None]:
    c.cookies.clear()
    token = csrf_from(c.get("/signup").text)
    resp = c.post("/signup", data={"account_name": "Rosie's Bakery", "email": email,
                                   "password": password, "csrf_token": token},
                  follow_redirects=False)
    return resp.status_code, htmllib.unescape(resp.text), resp.headers.get("retry-after")


def test_signups_per_address_are_limited(client: TestClient, db: Session,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB4OS_SIGNUPS_PER_ADDRESS_PER_HOUR", "2")
    get_settings.cache_clear()
    here = _from(client, ELSEWHERE)
    assert _signup(here, "one@example.com")[0] == 303
    assert _signup(here, "two@example.com")[0] == 303
    status, page, retry = _signup(here, "three@example.com")
    assert status == 429
    assert "Too many new accounts were made from your network" in page
    assert 'value="three@example.com"' in page and retry is not None
    db.rollback()
    assert db.scalar(select(User).where(User.email == "three@example.com")) is None
    assert _signup(_from(client, HOME), "three@example.com")[0] == 303


def test_a_grant_of_zero_promises_no_credits(client: TestClient, db: Session,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB4OS_SIGNUP_CREDIT_GRANT", "0")
    get_settings.cache_clear()
    page = htmllib.unescape(client.get("/signup").text)
    assert "credits" not in page
    status, _, _ = _signup(client, "rosie@example.com")
    assert status == 303
    home = htmllib.unescape(client.get("/?welcome=1").text)
    assert "Your account is ready. It has no credits yet" in home
    assert "starting credits" not in home
    db.rollback()
    account = db.scalars(select(Account)).one()
    assert account.credit_balance == 0 and not account.starting_credits_pending
    assert db.scalar(select(func.count()).select_from(CreditLedgerEntry)) == 0


def test_signup_refuses_the_email_name_as_password_like_invites(client: TestClient,
                                                                 db: Session) -> None:
    status, page, _ = _signup(client, "rosie.baker@example.com", password="Rosie.Baker")
    assert status == 400 and "Don't use your email name as the password." in page
    db.rollback()
    assert db.scalar(select(func.count()).select_from(User)) == 0
