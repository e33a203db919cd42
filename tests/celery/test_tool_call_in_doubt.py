"""Exactly once with real workers: a Celery worker SIGKILLed after it sent an approved,
side-effecting MCP call and before its result never leads to a second, silent call; the
call goes back to the operator as in doubt."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import make_planned_goal, make_tenant, plan_of, roster
from tests.support.celery_worker import CeleryStack, wait_for
from tests.support.mcp_server import RunningServer
from web4os.config import get_settings
from web4os.goals import approvals
from web4os.goals.models import Task, TaskEvent, TaskStatus
from web4os.goals.statemachine import transition
from web4os.queue import set_queue
from web4os.tenancy import bind_account
from web4os.tools import calls as tool_calls
from web4os.tools import service
from web4os.tools.models import CallStatus, ToolCall

ALLOW = {"WEB4OS_NET_ALLOWED_HOSTS": "127.0.0.1"}


@pytest.fixture
def mcp_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningServer]:
    monkeypatch.setenv("WEB4OS_NET_ALLOWED_HOSTS", "127.0.0.1")  # explicitly, for this test
    get_settings.cache_clear()
    server = RunningServer(tmp_path / "orders.txt")
    yield server
    server.stop()
    get_settings.cache_clear()


def test_a_worker_killed_mid_call_never_repeats_it_silently(
        pg: Session, stack: CeleryStack, mcp_server: RunningServer) -> None:
    tenant = make_tenant(pg, "Doubtful Bakery", credits=5000)
    goal = make_planned_goal(pg, tenant, plan_of(("order", "researcher", [])))
    bind_account(pg, tenant.id)
    row = service.add_server(pg, tenant.id, name="bakery", url=mcp_server.url)
    service.refresh_tools(pg, tenant.id, row.id)
    order = next(t for t in row.tools if t.name == "place_order")
    service.set_policy(pg, tenant.id, roster(pg, tenant)["researcher"].id, order.id, "default")
    [task] = pg.scalars(select(Task).where(Task.goal_id == goal.id))
    # Where an ask-first call leaves the card: blocked, the call awaiting the operator.
    call = tool_calls.start_call(pg, tenant.id, task_id=task.id, tool=order,
                                 arguments={"item": "slow", "quantity": 1},
                                 reason="Restock.", key=f"task{task.id}-call1",
                                 status=CallStatus.AWAITING)
    transition(pg, task, TaskStatus.BLOCKED, actor="agent:researcher", reason="Waiting.")
    pg.commit()

    first = stack.start_worker(concurrency=2, env=ALLOW)
    set_queue(stack.queue())
    try:
        approvals.decide(pg, tenant.ctx(), task.id, call.id, "approve")
        pg.commit()  # the approval queues the card; a worker sends the call
    finally:
        set_queue(None)
    wait_for(lambda: mcp_server.orders() == ["order slow 1"], timeout=60,
             what="the approved order to reach the server")
    first.kill()  # the call went out; its answer never comes back to this worker
    stack.start_worker(concurrency=2, env=ALLOW)  # its sweeper finds the expired lease

    call_id = call.id

    def in_doubt_and_blocked() -> bool:
        # The call is put in doubt, then the card is blocked in the next transaction.
        pg.rollback()
        status = pg.scalar(select(ToolCall.status).where(ToolCall.id == call_id))
        card = pg.scalar(select(Task.status).where(Task.id == task.id))
        return status == CallStatus.IN_DOUBT and card != TaskStatus.RUNNING

    try:
        wait_for(in_doubt_and_blocked, timeout=60,
                 what="the cut-off call to be put in doubt and its card to stop")
    except TimeoutError:
        pg.rollback()
        events = [(e.kind, e.to_status, e.message) for e in pg.scalars(
            select(TaskEvent).where(TaskEvent.task_id == task.id).order_by(TaskEvent.id))]
        raise AssertionError(f"the card's history: {events}") from None
    pg.rollback()
    card = pg.get(Task, task.id)
    assert card is not None and card.status == TaskStatus.BLOCKED
    assert "may or may not have run" in card.status_reason
    assert mcp_server.orders() == ["order slow 1"]  # never sent a second time
