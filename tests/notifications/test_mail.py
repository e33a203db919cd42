"""Notification mail against a real SMTP server (aiosmtpd on loopback): who gets what
(roles, preferences), the digest, links that open the card after sign-in, and exactly
one mail per notification however often the jobs run."""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from tests.factories import (
    PASSWORD,
    HeldQueue,
    Tenant,
    add_member,
    csrf_from,
    login,
    make_card_in_review,
    make_tenant,
)
from tests.notifications.conftest import Inbox, free_port, run_mail_jobs
from web4os.accounts.models import Membership, Role
from web4os.config import get_settings
from web4os.db import utcnow
from web4os.notifications import mailing, prefs
from web4os.notifications.events import Event
from web4os.notifications.models import MailState, NotificationMail
from web4os.notifications.service import notify
from web4os.tenancy import bind_account


def _completed(db: Session, tenant: Tenant, n: int = 1) -> None:
    for i in range(n):
        notify(db, tenant.id, Event.GOAL_COMPLETED, title=f"Goal {i} completed",
               link=f"/goals/{i}")
    db.commit()


def test_a_card_in_review_mails_those_who_can_act(db: Session, tenant: Tenant, inbox: Inbox,
                                                  held_queue: HeldQueue) -> None:
    task = make_card_in_review(db, tenant, "A draft")
    assert run_mail_jobs(held_queue) == 2
    assert len(inbox.to(tenant.owner.email)) == 1 and len(inbox.to(tenant.operator.email)) == 1
    assert inbox.to(tenant.viewer.email) == []  # a viewer can't approve: not mailed by default
    [mail] = inbox.to(tenant.operator.email)
    assert task.title in mail["Subject"]
    body = Inbox.body(mail)
    assert (f"http://testserver/login?next=/goals/{task.goal_id}/tasks/{task.id}"
            f"&account={tenant.id}") in body
    assert "/notifications/settings" in body


def test_news_reaches_viewers_too(db: Session, tenant: Tenant, inbox: Inbox,
                                  held_queue: HeldQueue) -> None:
    _completed(db, tenant)
    run_mail_jobs(held_queue)
    assert {r for rcpts, _ in inbox.messages for r in rcpts} == {
        tenant.owner.email, tenant.operator.email, tenant.viewer.email}


def test_preferences_are_respected(db: Session, tenant: Tenant, inbox: Inbox,
                                   held_queue: HeldQueue) -> None:
    bind_account(db, tenant.id)
    prefs.save_preferences(db, tenant.ctx(tenant.operator, Role.OPERATOR),
                           [Event.CARD_FAILED.value], "0")
    prefs.save_preferences(db, tenant.ctx(tenant.viewer, Role.VIEWER),
                           [Event.CARD_NEEDS_REVIEW.value, Event.GOAL_COMPLETED.value], "0")
    db.commit()
    make_card_in_review(db, tenant, "A draft")
    run_mail_jobs(held_queue)
    assert inbox.to(tenant.operator.email) == []  # turned it off
    assert len(inbox.to(tenant.viewer.email)) == 1  # opted in
    assert len(inbox.to(tenant.owner.email)) == 1  # defaults


def test_no_mail_for_a_rolled_back_change(db: Session, tenant: Tenant, inbox: Inbox,
                                          held_queue: HeldQueue) -> None:
    notify(db, tenant.id, Event.GOAL_COMPLETED, title="Never happened")
    db.rollback()
    assert held_queue.jobs == []
    assert mailing.flush_mails() == 0
    run_mail_jobs(held_queue)
    assert inbox.messages == []
    assert db.scalars(select(NotificationMail)).all() == []


def test_a_redelivered_send_job_mails_once(db: Session, tenant: Tenant, inbox: Inbox,
                                           held_queue: HeldQueue) -> None:
    _completed(db, tenant)
    jobs = [kw for _, kw in held_queue.jobs]
    run_mail_jobs(held_queue)
    for kwargs in jobs:  # the broker delivers every job again
        mailing.send_mails(**kwargs)
    assert mailing.flush_mails() == 0
    assert len(inbox.messages) == 3


def test_racing_send_jobs_mail_once(db: Session, tenant: Tenant, inbox: Inbox,
                                    held_queue: HeldQueue) -> None:
    _completed(db, tenant, n=3)
    owner = {"account_id": tenant.id, "user_id": tenant.owner.id}
    threads = [threading.Thread(target=mailing.send_mails, kwargs=owner) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = inbox.to(tenant.owner.email)
    bodies = "".join(Inbox.body(m) for m in got)
    assert sorted(re.findall(r"Goal \d completed", bodies)) == [
        "Goal 0 completed", "Goal 1 completed", "Goal 2 completed"]


def test_a_lost_claim_is_sent_again_after_a_while(db: Session, tenant: Tenant, inbox: Inbox,
                                                  held_queue: HeldQueue) -> None:
    """A process that died after claiming leaves its rows 'sending'; the sweep gives
    them back after STALE_CLAIM, and the mail goes out (once)."""
    _completed(db, tenant)
    held_queue.jobs.clear()
    with_claim = mailing._claim
    bind_account(db, tenant.id)
    batch = with_claim(db, tenant.id, tenant.owner.id, utcnow())  # claimed, then "crashed"
    db.commit()
    assert batch is not None
    assert mailing.flush_mails() == 2  # the two others; the claim is still fresh
    held_queue.jobs.clear()
    assert mailing.flush_mails(utcnow() + mailing.STALE_CLAIM + timedelta(seconds=1)) == 3
    run_mail_jobs(held_queue)
    assert len(inbox.to(tenant.owner.email)) == 1


def test_a_refused_mail_is_retried_by_the_sweep(db: Session, tenant: Tenant, inbox: Inbox,
                                                held_queue: HeldQueue,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    _completed(db, tenant)
    monkeypatch.setenv("WEB4OS_SMTP_PORT", str(free_port()))  # nothing listens there
    get_settings.cache_clear()
    run_mail_jobs(held_queue)
    assert inbox.messages == []
    db.rollback()
    assert {m.state for m in db.scalars(select(NotificationMail))} == {MailState.PENDING}
    monkeypatch.setenv("WEB4OS_SMTP_PORT", str(inbox.port))  # the server is back
    get_settings.cache_clear()
    assert mailing.flush_mails() == 0  # not at once: the server was just refusing
    assert mailing.flush_mails(utcnow() + mailing.RETRY_AFTER + timedelta(seconds=1)) == 3
    run_mail_jobs(held_queue)
    assert len(inbox.messages) == 3


def test_the_digest_batches(db: Session, tenant: Tenant, inbox: Inbox,
                            held_queue: HeldQueue) -> None:
    bind_account(db, tenant.id)
    prefs.save_preferences(db, tenant.ctx(), [e.value for e in Event], "15")
    db.commit()
    _completed(db, tenant, n=2)
    run_mail_jobs(held_queue)  # the operator's and the viewer's, at once
    assert inbox.to(tenant.owner.email) == []  # the owner's wait for the digest
    assert mailing.flush_mails() == 0  # not yet 15 minutes
    _backdate(db, minutes=15)
    _completed(db, tenant, n=1)  # a third, new one: it rides along
    run_mail_jobs(held_queue)
    assert mailing.flush_mails() == 1
    run_mail_jobs(held_queue)
    [digest] = inbox.to(tenant.owner.email)
    assert "3 updates" in digest["Subject"]
    assert Inbox.body(digest).count("Open: http://testserver/login?next=") == 3
    # the window is now taken: another notification waits its 15 minutes
    _completed(db, tenant, n=1)
    run_mail_jobs(held_queue)
    assert mailing.flush_mails() == 0
    mailing.send_mails(account_id=tenant.id, user_id=tenant.owner.id)
    assert len(inbox.to(tenant.owner.email)) == 1


def _backdate(db: Session, *, minutes: int) -> None:
    """Let ``minutes`` pass for what is pending (the clock the digest reads is the rows')."""
    db.execute(update(NotificationMail).where(NotificationMail.state == MailState.PENDING)
               .values(created_at=utcnow() - timedelta(minutes=minutes)))
    db.commit()


def test_the_link_opens_the_card_after_sign_in(db: Session, tenant: Tenant, inbox: Inbox,
                                               client: TestClient) -> None:
    """The embedded runner sends the mail (a job after the commit); its link leads through
    sign-in to the card, and opening it changes nothing."""
    task = make_card_in_review(db, tenant, "A draft")
    deadline = time.monotonic() + 10
    while not inbox.to(tenant.operator.email) and time.monotonic() < deadline:
        time.sleep(0.05)
    [mail] = inbox.to(tenant.operator.email)
    link = re.search(r"Open: (\S+)", Inbox.body(mail))
    assert link
    url = urlsplit(link.group(1))
    page = client.get(f"{url.path}?{url.query}")
    assert page.status_code == 200
    carried = re.search(r'name="next" value="([^"]*)"', page.text)
    assert carried and carried.group(1) == f"/goals/{task.goal_id}/tasks/{task.id}"
    resp = client.post("/login", data={"email": tenant.operator.email, "password": PASSWORD,
                                       "csrf_token": csrf_from(page.text),
                                       "next": carried.group(1), "account": str(tenant.id)},
                       follow_redirects=False)
    assert resp.status_code == 303
    assert resp.headers["location"] == f"/goals/{task.goal_id}/tasks/{task.id}"
    card = client.get(resp.headers["location"])
    assert card.status_code == 200 and "A draft" in card.text
    db.rollback()
    after = db.get(type(task), task.id)
    assert after is not None and after.status.value == "needs_review"  # nothing was done


def test_members_of_another_account_are_never_mailed(db: Session, tenant: Tenant,
                                                     inbox: Inbox,
                                                     held_queue: HeldQueue) -> None:
    other = make_tenant(db, "Other Co")
    db.commit()
    _completed(db, tenant)
    run_mail_jobs(held_queue)
    for user in (other.owner, other.operator, other.viewer):
        assert inbox.to(user.email) == []


def test_sign_in_only_follows_a_path_of_this_site(client: TestClient, tenant: Tenant) -> None:
    for hostile in ("//evil.example/x", "/\\evil.example", "https://evil.example/",
                    "/\t/evil.example"):
        client.cookies.clear()
        page = client.get("/login")
        resp = client.post("/login", data={"email": tenant.owner.email, "password": PASSWORD,
                                           "csrf_token": csrf_from(page.text), "next": hostile},
                           follow_redirects=False)
        assert resp.status_code == 303 and resp.headers["location"] == "/", hostile


def test_a_link_into_another_of_ones_accounts_asks_before_switching(
        db: Session, tenant: Tenant, client: TestClient) -> None:
    """Someone in two accounts follows a mailed link into the one they are not looking at:
    signing in lands in it; already signed in, a page offers the switch (a GET never
    switches), and the switch opens the card."""
    home = make_tenant(db, "Home Co")
    other = make_tenant(db, "Stranger Co")
    add_member(db, tenant.account, home.owner, Role.OPERATOR)
    db.commit()
    task = make_card_in_review(db, tenant, "Their draft")
    card = f"/goals/{task.goal_id}/tasks/{task.id}"
    link = f"/login?next={card}&account={tenant.id}"
    page = client.get(link)
    resp = client.post("/login", data={"email": home.owner.email, "password": PASSWORD,
                                       "csrf_token": csrf_from(page.text), "next": card,
                                       "account": str(tenant.id)}, follow_redirects=False)
    assert resp.headers["location"] == card
    assert "Their draft" in client.get(card).text
    client.cookies.clear()
    login(client, home.owner)  # lands in the first account they joined: Home Co
    assert client.get(card).status_code == 404
    ask = client.get(link)
    assert ask.status_code == 200 and "Switch to Acme Bakery and open it" in ask.text
    assert client.get(card).status_code == 404  # looking did not switch
    resp = client.post("/switch-account", data={
        "csrf_token": csrf_from(ask.text), "account_id": str(tenant.id), "next": card},
        follow_redirects=False)
    assert resp.headers["location"] == card
    assert "Their draft" in client.get(card).text
    assert client.get(f"/login?next={card}&account={other.id}",
                      follow_redirects=False).headers["location"] == card  # not theirs


def test_a_member_removed_before_the_send_is_not_mailed(db: Session, tenant: Tenant,
                                                       inbox: Inbox,
                                                       held_queue: HeldQueue) -> None:
    _completed(db, tenant)
    db.execute(delete(Membership).where(Membership.user_id == tenant.viewer.id))
    db.commit()
    run_mail_jobs(held_queue)
    assert inbox.to(tenant.viewer.email) == []
    assert len(inbox.messages) == 2
    db.rollback()
    states = {m.user_id: m.state for m in db.scalars(select(NotificationMail))}
    assert states[tenant.viewer.id] == MailState.FAILED
    assert mailing.flush_mails() == 0
