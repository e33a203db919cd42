"""Events are raised where they happen, in the transaction of the change: a card that
waits on the operator, a goal that completes or pauses, a tool call that waits, credits
that fall below the account's threshold. Nothing is recorded for a change that rolls
back or for a move undone within the same transaction, and a repeat records nothing."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.factories import Tenant, make_card_in_review, make_planned_goal, plan_of
from web4os.accounts.models import Account
from web4os.credits import service as credits
from web4os.credits.models import EntryKind
from web4os.credits.service import Refs
from web4os.goals.models import GoalStatus, Task, TaskStatus
from web4os.goals.scheduling import queue_task
from web4os.goals.statemachine import transition, transition_goal
from web4os.notifications.events import Event
from web4os.notifications.models import Notification
from web4os.notifications.service import notify
from web4os.tools.models import CallStatus, ToolCall


def _notes(db: Session, tenant: Tenant) -> list[Notification]:
    db.rollback()
    return list(db.scalars(select(Notification).where(Notification.account_id == tenant.id)
                           .order_by(Notification.id)))


def _card(db: Session, tenant: Tenant, key: str = "a") -> Task:
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", []), ("b", "writer", ["a"])))
    return db.scalars(select(Task).where(Task.goal_id == goal.id, Task.key == key)).one()


def _run(db: Session, task: Task) -> None:
    for status in (TaskStatus.QUEUED, TaskStatus.RUNNING):
        transition(db, task, status, actor="test")


def test_a_card_in_review_is_announced_with_its_link(db: Session, tenant: Tenant) -> None:
    task = make_card_in_review(db, tenant, "A draft")
    [note] = _notes(db, tenant)
    assert note.event == Event.CARD_NEEDS_REVIEW
    assert note.link == f"/goals/{task.goal_id}/tasks/{task.id}"
    assert (note.goal_id, note.task_id) == (task.goal_id, task.id)
    assert "needs your review" in note.title and task.title in note.title


def test_a_card_sent_back_in_the_same_transaction_was_never_waiting(
        db: Session, tenant: Tenant) -> None:
    task = _card(db, tenant)
    _run(db, task)
    transition(db, task, TaskStatus.NEEDS_REVIEW, actor="agent:writer")
    transition(db, task, TaskStatus.QUEUED, actor="ceo", reason="Sent back")
    db.commit()
    assert _notes(db, tenant) == []


def test_a_rolled_back_change_announces_nothing(db: Session, tenant: Tenant) -> None:
    task = _card(db, tenant)
    _run(db, task)
    db.commit()
    transition(db, task, TaskStatus.FAILED, actor="agent:writer", reason="boom")
    db.rollback()
    db.commit()
    assert _notes(db, tenant) == []


def test_a_failed_card_and_a_completed_goal(db: Session, tenant: Tenant) -> None:
    task = _card(db, tenant)
    _run(db, task)
    transition(db, task, TaskStatus.FAILED, actor="agent:writer", reason="The model gave up.")
    db.commit()
    goal = task.goal
    transition_goal(db, goal, GoalStatus.COMPLETING, actor="ceo")
    transition_goal(db, goal, GoalStatus.COMPLETED, actor="ceo", reason="Goal complete.")
    db.commit()
    failed, done = _notes(db, tenant)
    assert failed.event == Event.CARD_FAILED and failed.body == "The model gave up."
    assert done.event == Event.GOAL_COMPLETED and done.link == f"/goals/{goal.id}"


def test_the_same_occurrence_is_recorded_once(db: Session, tenant: Tenant) -> None:
    """A redelivered job raising the same occurrence (same once_key) records nothing."""
    assert notify(db, tenant.id, Event.ROUTINE_FAILED, title="Run failed", once_key="r:1")
    assert not notify(db, tenant.id, Event.ROUTINE_FAILED, title="Run failed", once_key="r:1")
    db.commit()
    assert not notify(db, tenant.id, Event.ROUTINE_FAILED, title="Run failed", once_key="r:1")
    db.commit()
    assert len(_notes(db, tenant)) == 1


def test_cards_blocked_for_credits_say_so_once_per_goal(db: Session, tenant: Tenant) -> None:
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", []), ("b", "writer", []),
                                                 credits=50))
    db.execute(update(Account).where(Account.id == tenant.id).values(credit_balance=0))
    db.commit()
    for task in db.scalars(select(Task).where(Task.goal_id == goal.id)):
        assert not queue_task(db, task, actor="ceo", reason="ready")
    db.commit()
    [note] = _notes(db, tenant)
    assert note.event == Event.WORK_BLOCKED and "credits" in note.body.lower()
    # the ledger is put back the way it was (the conftest checks it against the balance)
    db.execute(update(Account).where(Account.id == tenant.id).values(credit_balance=1000))
    db.commit()


def test_a_goal_paused_by_its_cap_says_which_cap(db: Session, tenant: Tenant) -> None:
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", []), credits=50))
    goal.credit_cap = 10
    db.commit()
    task = db.scalars(select(Task).where(Task.goal_id == goal.id)).one()
    assert not queue_task(db, task, actor="ceo", reason="ready")
    db.commit()
    [note] = _notes(db, tenant)  # the pause, not also the card it stopped
    assert note.event == Event.WORK_BLOCKED and note.goal_id == goal.id
    assert "cap" in note.body and "paused" in note.title


def test_a_tool_call_waiting_is_its_own_event(db: Session, tenant: Tenant) -> None:
    task = _card(db, tenant)
    _run(db, task)
    db.add(ToolCall(account_id=tenant.id, task_id=task.id, server_name="crm",
                    tool_name="send_invoice", idempotency_key="n-call-1",
                    status=CallStatus.AWAITING))
    transition(db, task, TaskStatus.BLOCKED, actor="agent:writer",
               reason="Waiting for your approval of crm.send_invoice.")
    db.commit()
    [note] = _notes(db, tenant)
    assert note.event == Event.TOOL_CALL_WAITING
    assert "crm.send_invoice" in note.title


def test_credits_low_once_per_crossing(db: Session, tenant: Tenant) -> None:
    """Falling below the threshold says so once; swaying around it (holds taken and given
    back) says nothing more; after a top-up, the next fall says it again."""
    db.execute(update(Account).where(Account.id == tenant.id).values(low_credit_threshold=500))
    db.commit()
    refs = Refs()
    assert credits.reserve(db, tenant.id, "t:1", 400, refs=refs, reason="hold")  # 1000 → 600
    db.commit()
    assert _notes(db, tenant) == []
    assert credits.reserve(db, tenant.id, "t:2", 200, refs=refs, reason="hold")  # → 400
    db.commit()
    [low] = _notes(db, tenant)
    assert low.event == Event.CREDITS_LOW and "400" in low.title
    credits.release(db, tenant.id, "t:2", refs=refs, reason="back")  # → 600
    assert credits.reserve(db, tenant.id, "t:3", 200, refs=refs, reason="hold")  # → 400
    db.commit()
    assert len(_notes(db, tenant)) == 1
    credits.grant(db, tenant.id, 500, actor="test", reason="top-up", kind=EntryKind.TOPUP)
    assert credits.reserve(db, tenant.id, "t:4", 600, refs=refs, reason="hold")  # 900 → 300
    db.commit()
    assert [n.event for n in _notes(db, tenant)] == [Event.CREDITS_LOW] * 2


def test_a_threshold_of_zero_is_silent(db: Session, tenant: Tenant) -> None:
    db.execute(update(Account).where(Account.id == tenant.id).values(low_credit_threshold=0))
    db.commit()
    assert credits.reserve(db, tenant.id, "t:1", 999, refs=Refs(), reason="hold")
    db.commit()
    assert _notes(db, tenant) == []


def test_a_public_link_needs_an_address(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from web4os.config import get_settings
    from web4os.notifications import mailing

    monkeypatch.setattr(mailing, "_base_seen", [])
    assert mailing.public_link("/goals/1") is None
    monkeypatch.setenv("WEB4OS_PUBLIC_URL", "https://ops.example.com/")
    get_settings.cache_clear()
    assert mailing.public_link("/goals/1") == "https://ops.example.com/goals/1"
    assert mailing.public_link("") is None
