"""What the scheduler is told about each card: a goal under way ranks ahead of a goal's
first cards, an urgent goal ahead of both (and its waiting cards are sent again at
the new rank when an operator marks it); an admin sets an account's running cap and
weight on the admin page, and the runners read them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import HeldQueue, Tenant, csrf_from, login, make_planned_goal, plan_of
from web4os.accounts import service as accounts
from web4os.accounts import tokens
from web4os.accounts.models import Account, Role
from web4os.accounts.shares import Share, forget_shares, share_of
from web4os.config import get_settings
from web4os.goals import scheduling
from web4os.goals.models import Goal, Task, TaskStatus
from web4os.goals.ranks import rank_of
from web4os.queue import RANK


def _ranks(queue: HeldQueue) -> dict[int, int]:
    return {kw["task_id"]: kw[RANK] for name, kw in queue.jobs if name == "run_task"}


def _chain(db: Session, tenant: Tenant, title: str) -> Goal:
    return make_planned_goal(db, tenant, plan_of(("a", "researcher", []), ("b", "writer", ["a"])),
                             title=title)


def test_a_goal_under_way_ranks_ahead_of_a_new_goals_first_card(
        db: Session, tenant: Tenant, held_queue: HeldQueue) -> None:
    older, newer = _chain(db, tenant, "Older"), _chain(db, tenant, "Newer")
    db.commit()
    scheduling.advance_goal(older.id, account_id=tenant.id)
    first_card = held_queue.jobs[-1][1]
    assert first_card[RANK] == rank_of(older.id, urgent=False, first=True)
    db.rollback()
    a = db.scalars(select(Task).where(Task.goal_id == older.id, Task.key == "a")).one()
    a.status, a.attempts = TaskStatus.DONE, 1  # the first card is done: the goal is under way
    db.commit()
    scheduling.advance_goal(older.id, account_id=tenant.id)
    scheduling.advance_goal(newer.id, account_id=tenant.id)
    ranks = {kw["task_id"]: kw[RANK] for _, kw in held_queue.jobs[1:]}
    b = db.scalars(select(Task.id).where(Task.goal_id == older.id, Task.key == "b")).one()
    new_a = db.scalars(select(Task.id).where(Task.goal_id == newer.id, Task.key == "a")).one()
    assert ranks[b] < ranks[new_a]  # finish before starting, though the newer goal is newer
    assert ranks[b] < rank_of(older.id, urgent=False, first=True)


def test_marking_a_goal_urgent_sends_its_waiting_cards_again_ahead(
        client: TestClient, db: Session, tenant: Tenant, held_queue: HeldQueue) -> None:
    plain, rushed = _chain(db, tenant, "Plain"), _chain(db, tenant, "Rushed")
    db.commit()
    scheduling.advance_goal(plain.id, account_id=tenant.id)
    scheduling.advance_goal(rushed.id, account_id=tenant.id)
    login(client, tenant.operator)
    page = client.get(f"/goals/{rushed.id}")
    assert "Mark urgent" in page.text
    resp = client.post(f"/goals/{rushed.id}/urgent", data={"csrf_token": csrf_from(page.text)},
                       follow_redirects=False)
    assert resp.status_code == 303
    db.rollback()
    assert db.get(Goal, rushed.id).urgent  # type: ignore[union-attr]
    rushed_a = db.scalars(select(Task.id).where(Task.goal_id == rushed.id, Task.key == "a")).one()
    plain_a = db.scalars(select(Task.id).where(Task.goal_id == plain.id, Task.key == "a")).one()
    ranks = _ranks(held_queue)
    assert ranks[rushed_a] == rank_of(rushed.id, urgent=True, first=False)
    assert ranks[rushed_a] < ranks[plain_a]
    assert "Urgent ✓" in client.get(f"/goals/{rushed.id}").text


def test_a_viewer_cannot_mark_a_goal_urgent(client: TestClient, db: Session,
                                            tenant: Tenant) -> None:
    goal = _chain(db, tenant, "Plain")
    db.commit()
    login(client, tenant.viewer)
    page = client.get(f"/goals/{goal.id}")
    resp = client.post(f"/goals/{goal.id}/urgent", data={"csrf_token": csrf_from(page.text)},
                       follow_redirects=False)
    assert resp.status_code == 403
    db.rollback()
    assert not db.get(Goal, goal.id).urgent  # type: ignore[union-attr]


def test_an_admin_sets_an_accounts_share(client: TestClient, db: Session,
                                         tenant: Tenant) -> None:
    admin = accounts.ensure_admin(db, "admin@example.com", "correct horse battery")
    db.commit()
    forget_shares()
    assert share_of(tenant.id) == Share(get_settings().account_max_running, 1)
    login(client, admin, password="correct horse battery")
    base = f"/admin/accounts/{tenant.id}"
    page = client.get(base)
    assert "Cards running at once" in page.text
    csrf = csrf_from(page.text)
    resp = client.post(f"{base}/share", data={"max_running": "0", "share_weight": "2",
                                              "csrf_token": csrf})
    assert resp.status_code == 422 and "whole number from 1" in resp.text
    resp = client.post(f"{base}/share", data={"max_running": "3", "share_weight": "2",
                                              "csrf_token": csrf}, follow_redirects=False)
    assert resp.status_code == 303
    db.rollback()
    account = db.get(Account, tenant.id)
    assert account is not None and (account.max_running, account.share_weight) == (3, 2)
    assert share_of(tenant.id) == Share(3, 2)  # the runners see it at once here
    client.post(f"{base}/share", data={"max_running": "", "share_weight": "1",
                                       "csrf_token": csrf})
    assert share_of(tenant.id) == Share(get_settings().account_max_running, 1)


@pytest.mark.parametrize("urgent", [True, False])
def test_the_api_marks_a_goal_urgent(client: TestClient, db: Session, tenant: Tenant,
                                     urgent: bool) -> None:
    goal = _chain(db, tenant, "Via the API")
    goal.urgent = not urgent
    issued = tokens.create_token(db, tenant.ctx(), name="t", role=Role.OPERATOR)
    db.commit()
    resp = client.post(f"/api/v1/goals/{goal.id}/urgent", json={"urgent": urgent},
                       headers={"Authorization": f"Bearer {issued.secret}"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["urgent"] is urgent
