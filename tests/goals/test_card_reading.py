"""Cards that read at a glance: plain labels, time working apart from time waiting for
review, a feed that says who did what (model calls one click away), and a card being
redone that labels its previous deliverable as such."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import HeldQueue, Tenant, csrf_from, login, make_card_in_review
from web4os.goals.history import event_row, write_events
from web4os.goals.models import Task

DRAFT = "## Suppliers\n\n- Bean & Co"


def _with_model_call(db: Session, task: Task) -> None:
    write_events(db, [event_row(account_id=task.account_id, goal_id=task.goal_id,
                                task_id=task.id, kind="model_call", from_status=None,
                                to_status=None, actor="agent:researcher", message="",
                                data={"purpose": "work", "model": "offline", "credits": 1,
                                      "prompt_tokens": 1200, "completion_tokens": 34})])
    db.commit()


def test_a_card_in_review_reads_in_plain_words(client: TestClient, db: Session, tenant: Tenant,
                                               held_queue: HeldQueue) -> None:
    task = make_card_in_review(db, tenant, DRAFT, title="Coffee suppliers")
    task.actual_credits, task.estimated_credits = 2, 3
    assert task.finished_at is not None  # set by the move to review
    task.started_at = task.finished_at - timedelta(seconds=42)
    db.commit()
    login(client, tenant.owner)
    board = client.get(f"/goals/{task.goal_id}").text
    card = board[board.index(f'id="card-{task.id}"'):]
    card = card[:card.index("</article>")]
    assert "2 of ~3 credits" in card and " cr<" not in card and "\u00d7" not in card
    assert 'class="card-time">worked 42 s<' in card
    assert re.search(r'class="card-wait">waiting for review [^<]+<', card)
    page = client.get(f"/goals/{task.goal_id}/tasks/{task.id}").text
    assert "Time working" in page and "Waiting for your review" in page


def test_the_feed_says_who_did_what_and_keeps_tokens_one_click_away(
        client: TestClient, db: Session, tenant: Tenant, held_queue: HeldQueue) -> None:
    task = make_card_in_review(db, tenant, DRAFT, title="Coffee suppliers")
    _with_model_call(db, task)
    login(client, tenant.operator)
    token = csrf_from(client.get(f"/goals/{task.goal_id}/tasks/{task.id}").text)
    client.post(f"/tasks/{task.id}/approve", data={"csrf_token": token, "seen": "needs_review"})
    board = client.get(f"/goals/{task.goal_id}").text
    feed = board[board.index('id="activity-feed"'):board.index('id="activity-technical"')]
    first = feed[:feed.index("</li>")]
    assert tenant.operator.email in first and ">approved<" in first and "Task a" in first
    assert "tokens" not in feed
    technical = board[board.index('id="activity-technical"'):]
    assert "called the model (1,234 tokens)" in technical
    card = client.get(f"/goals/{task.goal_id}/tasks/{task.id}").text
    timeline = card[card.index('id="card-timeline"'):card.index('id="card-technical"')]
    assert "model call" not in timeline and "Approved." in timeline
    assert "1,234 tokens" in card[card.index('id="card-technical"'):]


def test_a_card_being_redone_labels_the_previous_deliverable(
        client: TestClient, db: Session, tenant: Tenant, held_queue: HeldQueue) -> None:
    task = make_card_in_review(db, tenant, DRAFT, title="Coffee suppliers")
    login(client, tenant.owner)
    token = csrf_from(client.get(f"/goals/{task.goal_id}/tasks/{task.id}").text)
    client.post(f"/tasks/{task.id}/reject", data={"csrf_token": token, "seen": "needs_review",
                                                  "feedback": "Add prices"})
    page = client.get(f"/goals/{task.goal_id}/tasks/{task.id}").text
    assert "Previous attempt&#39;s deliverable" in page or "Previous attempt's deliverable" in page
    assert 'id="rerun-note"' in page and "Bean &amp; Co" in page
    board = client.get(f"/goals/{task.goal_id}").text
    card = board[board.index(f'id="card-{task.id}"'):]
    assert "Previous attempt:" in card[:card.index("</article>")]
