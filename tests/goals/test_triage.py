"""Triage over HTTP: the goal's status says what is true, "approve selected" approves
only what the caller may, inline actions open the next item, and work waiting for
credits tells one story (resumes by itself; the owner asks the admin)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import (
    HeldQueue,
    Tenant,
    csrf_from,
    login,
    make_planned_goal,
    make_tenant,
    plan_of,
)
from web4os.credits import service as credits
from web4os.credits import topups
from web4os.goals.models import Goal, GoalStatus, Task, TaskEvent, TaskStatus
from web4os.goals.scheduling import OUT_OF_CREDITS
from web4os.goals.statemachine import transition, transition_goal

S = TaskStatus
THREE = plan_of(("a", "researcher", []), ("b", "writer", []), ("c", "marketer", []))


def _goal_with(db: Session, tenant: Tenant, *moves: tuple[S, ...], title: str = "Spring promo"
               ) -> tuple[Goal, list[Task]]:
    """A three-card goal (no dependencies) whose cards are walked through ``moves``."""
    goal = make_planned_goal(db, tenant, THREE, title=title)
    cards = list(db.scalars(select(Task).where(Task.goal_id == goal.id).order_by(Task.position)))
    for card, path in zip(cards, moves, strict=False):
        for status in path:
            reason = OUT_OF_CREDITS if status == S.BLOCKED else ""
            transition(db, card, status, actor="test", reason=reason)
        if S.NEEDS_REVIEW in path:
            card.output = f"Draft of {card.title}"
    db.commit()
    return goal, cards


REVIEW = (S.QUEUED, S.RUNNING, S.NEEDS_REVIEW)
HOLD = (S.BLOCKED,)
CANCEL = (S.CANCELLED,)


def _status(page: str) -> str:
    m = re.search(r'id="goal-status" data-status="\w+"[^>]*>([^<]+)<', page)
    assert m, "no goal status on the page"
    return m.group(1)


def test_a_goal_whose_cards_wait_for_review_says_so_and_is_not_live(
        client: TestClient, db: Session, tenant: Tenant, held_queue: HeldQueue) -> None:
    goal, _ = _goal_with(db, tenant, REVIEW, REVIEW, CANCEL)
    login(client, tenant.operator)
    page = client.get(f"/goals/{goal.id}").text
    assert _status(page) == "Waiting for you (2)"
    assert 'id="goal-live"' not in page
    assert "Nothing is running" in page
    home = client.get("/").text  # the list of goals says the same, and is not live either
    assert re.search(r'class="badge badge-waiting goal-state" data-status="running">'
                     r'Waiting for you \(2\)<', home)
    assert 'class="live-dot"' not in home


def test_a_running_card_makes_the_goal_live(client: TestClient, db: Session, tenant: Tenant,
                                            held_queue: HeldQueue) -> None:
    goal, _ = _goal_with(db, tenant, (S.QUEUED, S.RUNNING), REVIEW)
    login(client, tenant.owner)
    page = client.get(f"/goals/{goal.id}").text
    assert _status(page) == "Working (1 running)"
    assert 'id="goal-live"' in page


def test_work_waiting_for_credits_tells_one_story(client: TestClient, db: Session,
                                                  tenant: Tenant, held_queue: HeldQueue) -> None:
    goal, cards = _goal_with(db, tenant, HOLD, HOLD, (S.QUEUED, S.RUNNING, S.FAILED))
    login(client, tenant.operator)
    page = client.get(f"/goals/{goal.id}").text
    assert _status(page) == "Waiting for you (1)"  # the failed card; credits are no decision
    assert "2 cards wait for credits." in page
    assert "resumes by itself" in page
    on_hold = page[page.index('id="col-on_hold"'):page.index('id="col-stuck"')]
    start = page.index('id="col-stuck"')
    stuck = page[start:page.index("</section>", start)]
    assert on_hold.count('class="card card-blocked') == 2  # not lumped with the failed one
    assert "card-blocked" not in stuck and "card card-failed" in stuck
    # an operator is told whom to ask; the card offers no Retry that can only fail
    assert f"ask the owner: {tenant.owner.email}" in page
    card = client.get(f"/goals/{goal.id}/tasks/{cards[0].id}").text
    assert 'data-action="retry"' not in card
    assert "Ask the admin for credits" not in card and tenant.owner.email in card


def test_only_credit_blocked_cards_say_waiting_for_credits(
        client: TestClient, db: Session, tenant: Tenant, held_queue: HeldQueue) -> None:
    goal, _ = _goal_with(db, tenant, HOLD, CANCEL, CANCEL)
    login(client, tenant.owner)
    assert _status(client.get(f"/goals/{goal.id}").text) == "Waiting for credits (1)"


def test_an_owner_asks_the_admin_for_credits_and_credits_answer_it(
        client: TestClient, db: Session, tenant: Tenant, held_queue: HeldQueue) -> None:
    tenant.owner.is_platform_admin = True  # the owner also runs the platform: sees /admin
    goal, cards = _goal_with(db, tenant, HOLD)
    login(client, tenant.owner)
    page = client.get(f"/goals/{goal.id}/tasks/{cards[0].id}").text
    assert "Ask the admin for credits" in page
    back = f"/goals/{goal.id}/tasks/{cards[0].id}"
    for _ in range(2):  # asking twice keeps one request
        resp = client.post("/credits/request", data={"csrf_token": csrf_from(page), "back": back},
                           follow_redirects=False)
        assert resp.status_code == 303 and resp.headers["location"] == back
    assert "You asked the platform admin for credits" in client.get(back).text
    admin = client.get("/admin").text
    assert 'id="topup-requests"' in admin and tenant.account.name in admin
    db.rollback()  # see what the requests committed
    assert len(topups.pending_requests(db)) == 1

    db.rollback()
    credits.grant(db, tenant.id, 500, reason="Top-up", actor="admin")
    db.commit()
    assert topups.pending_requests(db) == []
    assert 'id="topup-requests"' not in client.get("/admin").text


def test_an_operator_cannot_ask_for_credits_and_back_stays_on_site(
        client: TestClient, db: Session, tenant: Tenant) -> None:
    login(client, tenant.operator)
    token = csrf_from(client.get("/inbox").text)
    resp = client.post("/credits/request", data={"csrf_token": token}, follow_redirects=False)
    assert resp.status_code == 403
    assert topups.pending_requests(db) == []
    client.cookies.clear()
    login(client, tenant.owner)
    token = csrf_from(client.get("/inbox").text)
    resp = client.post("/credits/request", data={"csrf_token": token,
                                                  "back": "//evil.example/"},
                       follow_redirects=False)
    assert resp.headers["location"] == "/usage"


def _bulk(client: TestClient, token: str, ids: list[int], **extra: str) -> object:
    return client.post("/tasks/approve-selected",
                       data={"csrf_token": token, "task_ids": [str(i) for i in ids], **extra},
                       follow_redirects=False)


def test_approve_selected_approves_each_ticked_card_through_the_state_machine(
        client: TestClient, db: Session, tenant: Tenant, held_queue: HeldQueue) -> None:
    goal, cards = _goal_with(db, tenant, REVIEW, REVIEW, REVIEW)
    login(client, tenant.operator)
    page = client.get("/inbox").text
    assert 'id="bulk-approve"' in page
    resp = _bulk(client, csrf_from(page), [cards[0].id, cards[1].id, 999_999])
    assert resp.status_code == 303  # type: ignore[attr-defined]
    assert resp.headers["location"] == "/inbox?approved=2&skipped=1"  # type: ignore[attr-defined]
    db.rollback()
    assert [db.get(Task, c.id).status for c in cards] == [S.DONE, S.DONE, S.NEEDS_REVIEW]  # type: ignore[union-attr]
    events = db.scalars(select(TaskEvent).where(TaskEvent.goal_id == goal.id,
                                                TaskEvent.to_status == "done")).all()
    assert sorted(e.task_id or 0 for e in events) == sorted([cards[0].id, cards[1].id])
    assert {(e.from_status, e.actor, e.message) for e in events} == {
        ("needs_review", f"user:{tenant.operator.email}", "Approved.")}
    assert "advance_goal" in held_queue.names()
    assert "Approved 2 cards. 1 had changed meanwhile" in client.get(
        "/inbox?approved=2&skipped=1").text


def test_a_viewer_cannot_approve_selected(client: TestClient, db: Session, tenant: Tenant,
                                          held_queue: HeldQueue) -> None:
    _, cards = _goal_with(db, tenant, REVIEW, REVIEW)
    login(client, tenant.viewer)
    page = client.get("/inbox").text
    assert 'id="bulk-approve"' not in page and "data-triage-approve" not in page
    resp = _bulk(client, csrf_from(page), [c.id for c in cards[:2]])
    assert resp.status_code == 403  # type: ignore[attr-defined]
    db.rollback()
    assert {db.get(Task, c.id).status for c in cards[:2]} == {S.NEEDS_REVIEW}  # type: ignore[union-attr]


def test_another_account_cannot_approve_our_cards(client: TestClient, db: Session,
                                                  tenant: Tenant, held_queue: HeldQueue) -> None:
    _, cards = _goal_with(db, tenant, REVIEW, REVIEW)
    other = make_tenant(db, "Other Co")
    db.commit()
    login(client, other.owner)
    resp = _bulk(client, csrf_from(client.get("/inbox").text), [c.id for c in cards[:2]])
    assert resp.headers["location"] == "/inbox?approved=0&skipped=2"  # type: ignore[attr-defined]
    db.rollback()
    assert {db.get(Task, c.id).status for c in cards[:2]} == {S.NEEDS_REVIEW}  # type: ignore[union-attr]


def test_approve_selected_needs_the_csrf_token(client: TestClient, db: Session, tenant: Tenant,
                                               held_queue: HeldQueue) -> None:
    _, cards = _goal_with(db, tenant, REVIEW)
    login(client, tenant.owner)
    resp = client.post("/tasks/approve-selected", data={"task_ids": [str(cards[0].id)]},
                       follow_redirects=False)
    assert resp.status_code == 403
    db.rollback()
    assert db.get(Task, cards[0].id).status == S.NEEDS_REVIEW  # type: ignore[union-attr]


def test_inline_approve_opens_the_next_item(client: TestClient, db: Session, tenant: Tenant,
                                            held_queue: HeldQueue) -> None:
    goal, cards = _goal_with(db, tenant, REVIEW, REVIEW, REVIEW)
    login(client, tenant.owner)
    token = csrf_from(client.get(f"/goals/{goal.id}").text)
    resp = client.post(f"/tasks/{cards[0].id}/approve",
                       data={"csrf_token": token, "seen": "needs_review", "from": "board"},
                       follow_redirects=False)
    assert resp.headers["location"] == f"/goals/{goal.id}?open={cards[1].id}"
    page = client.get(resp.headers["location"]).text
    assert re.search(rf'id="card-{cards[1].id}" data-status="needs_review" data-triage-item '
                     r'data-current', page)
    # sent back from the inbox: the next result in the inbox opens
    inbox = client.get("/inbox").text
    order = [int(i) for i in re.findall(r'id="inbox-card-(\d+)"', inbox)]
    resp = client.post(f"/tasks/{order[0]}/reject",
                       data={"csrf_token": token, "seen": "needs_review", "from": "inbox",
                             "feedback": "Shorter, please"}, follow_redirects=False)
    assert resp.headers["location"] == f"/inbox?open={order[1]}"
    db.rollback()
    assert db.get(Task, order[0]).status == S.QUEUED  # type: ignore[union-attr]


def test_a_finished_goal_leads_with_its_result(client: TestClient, db: Session, tenant: Tenant,
                                               held_queue: HeldQueue) -> None:
    goal, _ = _goal_with(db, tenant, (*REVIEW, S.DONE), CANCEL, CANCEL)
    goal.summary = "We planned the spring promotion."
    transition_goal(db, goal, GoalStatus.COMPLETING, actor="test")
    transition_goal(db, goal, GoalStatus.COMPLETED, actor="test")
    db.commit()
    login(client, tenant.owner)
    page = client.get(f"/goals/{goal.id}").text
    assert _status(page) == "Finished"
    result = page.index("We planned the spring promotion.")
    assert page.index(f'href="/goals/{goal.id}/report"') > result
    cards_at = page.index('<details class="finished-cards" id="finished-cards"')
    assert cards_at > result and page.index('class="board"') > cards_at
    assert "Keyboard shortcuts" in page and 'id="goal-live"' not in page


def test_a_cards_page_offers_the_next_item_once_acted_on(
        client: TestClient, db: Session, tenant: Tenant, held_queue: HeldQueue) -> None:
    goal, cards = _goal_with(db, tenant, REVIEW, REVIEW)
    login(client, tenant.owner)
    url = f"/goals/{goal.id}/tasks/{cards[0].id}"
    page = client.get(url).text
    assert 'id="next-item"' not in page  # it waits for a decision here first
    client.post(f"/tasks/{cards[0].id}/approve",
                data={"csrf_token": csrf_from(page), "seen": "needs_review"})
    after = client.get(url).text
    assert f'id="next-item" href="/goals/{goal.id}/tasks/{cards[1].id}"' in after


def test_the_api_approves_selected_for_operators_only(client: TestClient, db: Session,
                                                      tenant: Tenant,
                                                      held_queue: HeldQueue) -> None:
    from web4os.accounts import tokens
    from web4os.accounts.models import Role

    _, cards = _goal_with(db, tenant, REVIEW, REVIEW, (S.QUEUED,))
    ids = [c.id for c in cards]

    def bearer(role: Role) -> dict[str, str]:
        secret = tokens.create_token(db, tenant.ctx(), name=f"api {role.value}", role=role).secret
        db.commit()
        return {"Authorization": f"Bearer {secret}"}

    viewer = client.post("/api/v1/tasks/approve-selected", json={"task_ids": ids},
                         headers=bearer(Role.VIEWER))
    assert viewer.status_code == 403
    resp = client.post("/api/v1/tasks/approve-selected", json={"task_ids": ids},
                       headers=bearer(Role.OPERATOR))
    assert resp.status_code == 200
    assert resp.json() == {"approved": ids[:2], "skipped": ids[2:]}
    db.rollback()
    assert [db.get(Task, i).status for i in ids] == [S.DONE, S.DONE, S.QUEUED]  # type: ignore[union-attr]
    empty = client.post("/api/v1/tasks/approve-selected", json={"task_ids": []},
                        headers=bearer(Role.OPERATOR))
    assert empty.status_code == 422
