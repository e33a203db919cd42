"""Production dispatch end to end: real ``web4os worker`` processes, Redis, Postgres.

Plans are written straight into the database (the CEO agent's planning is tested
elsewhere) and the goal is started by sending ``advance_goal`` through Redis.
The offline model gets a latency so tasks overlap and crashes land mid-task.
"""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories import make_planned_goal, make_tenant, plan_of
from tests.support.celery_worker import CeleryStack, wait_for
from web4os.credits.models import CreditLedgerEntry, EntryKind
from web4os.goals.models import Goal, GoalStatus, Task, TaskDependency, TaskEvent, TaskStatus
from web4os.workers.liveness import queue_depth, try_sweep_lock

AGENTS = ("researcher", "writer", "analyst", "marketer", "operations")


def _start_goal(pg: Session, stack: CeleryStack, specs: list[tuple[str, str, list[str]]]) -> Goal:
    tenant = make_tenant(pg, "Celery Bakery", credits=5000)
    goal = make_planned_goal(pg, tenant, plan_of(*specs), title="Run on Celery")
    pg.commit()
    stack.queue().submit("advance_goal", {"goal_id": goal.id, "account_id": goal.account_id})
    return goal


def _goal_status(pg: Session, goal_id: int) -> GoalStatus:
    pg.rollback()  # a fresh snapshot: the workers commit in other processes
    return pg.scalars(select(Goal.status).where(Goal.id == goal_id)).one()


def _wait_completed(pg: Session, goal: Goal, timeout: float, stack: CeleryStack) -> None:
    try:
        wait_for(lambda: _goal_status(pg, goal.id) == GoalStatus.COMPLETED, timeout=timeout,
                 interval=0.3, what=f"goal {goal.id} to complete")
    except TimeoutError:
        statuses = pg.execute(select(Task.title, Task.status).where(Task.goal_id == goal.id)).all()
        logs = "\n\n".join(w.log_tail(25) for w in stack.workers)
        raise AssertionError(f"goal stuck at {_goal_status(pg, goal.id)}: {statuses}\n{logs}") \
            from None


def _claims(pg: Session, goal_id: int) -> Counter[int]:
    """How many times each task was claimed (moved to running) by a worker."""
    rows = pg.scalars(select(TaskEvent.task_id).where(
        TaskEvent.goal_id == goal_id, TaskEvent.kind == "status",
        TaskEvent.to_status == TaskStatus.RUNNING.value))
    return Counter(t for t in rows if t is not None)


def _ledger_kinds(pg: Session, task_id: int) -> Counter[EntryKind]:
    return Counter(pg.scalars(select(CreditLedgerEntry.kind)
                              .where(CreditLedgerEntry.task_id == task_id)))


def _model_call_count(pg: Session, task_id: int) -> int:
    return int(pg.scalar(select(func.count()).select_from(TaskEvent).where(
        TaskEvent.task_id == task_id, TaskEvent.kind == "model_call")) or 0)


def _net_charge(pg: Session, task_id: int) -> int:
    """Credits the ledger took for one task, all attempts together."""
    return -int(pg.scalar(select(func.sum(CreditLedgerEntry.amount))
                          .where(CreditLedgerEntry.task_id == task_id)) or 0)


def test_goal_with_parallel_branches_runs_every_task_once_in_order(
        pg: Session, stack: CeleryStack) -> None:
    # a → four parallel branches (b_i → c_i) → d → two closing tasks: 12 tasks.
    specs: list[tuple[str, str, list[str]]] = [("a", "researcher", [])]
    for i in range(1, 5):
        specs += [(f"b{i}", AGENTS[i % 5], ["a"]), (f"c{i}", AGENTS[(i + 1) % 5], [f"b{i}"])]
    specs += [("d", "analyst", [f"c{i}" for i in range(1, 5)]),
              ("e1", "writer", ["d"]), ("e2", "marketer", ["d"])]
    stack.start_worker(concurrency=8, env={"WEB4OS_OFFLINE_LATENCY_SECONDS": "0.3"})
    goal = _start_goal(pg, stack, specs)

    _wait_completed(pg, goal, timeout=120, stack=stack)

    tasks = pg.scalars(select(Task).where(Task.goal_id == goal.id)).all()
    assert len(tasks) == 12
    assert {t.status for t in tasks} == {TaskStatus.DONE}
    claims = _claims(pg, goal.id)
    assert claims == Counter({t.id: 1 for t in tasks}), "every task runs exactly once"

    # Order: a task is claimed only after each task it depends on was done.
    done_at = dict(pg.execute(select(TaskEvent.task_id, TaskEvent.id).where(
        TaskEvent.goal_id == goal.id, TaskEvent.to_status == TaskStatus.DONE.value)).all())
    claimed_at = dict(pg.execute(select(TaskEvent.task_id, TaskEvent.id).where(
        TaskEvent.goal_id == goal.id, TaskEvent.to_status == TaskStatus.RUNNING.value)).all())
    edges = pg.execute(select(TaskDependency.task_id, TaskDependency.depends_on_id)
                       .join(Task, Task.id == TaskDependency.task_id)
                       .where(Task.goal_id == goal.id)).all()
    assert len(edges) == 4 + 4 + 4 + 2
    for task_id, dep_id in edges:
        assert done_at[dep_id] < claimed_at[task_id], f"task {task_id} ran before {dep_id}"

    # The four branches really ran side by side.
    by_key = {t.title.removeprefix("Task "): t for t in tasks}
    branches = [by_key[f"b{i}"] for i in range(1, 5)]
    latest_start = max(t.started_at for t in branches if t.started_at)
    earliest_end = min(t.finished_at for t in branches if t.finished_at)
    assert latest_start < earliest_end, "independent branches should overlap"

    # One reservation and one settlement per task; the ledger charged what the task shows.
    for t in tasks:
        assert _ledger_kinds(pg, t.id) == Counter({EntryKind.RESERVATION: 1,
                                                   EntryKind.SETTLEMENT: 1})
        assert _net_charge(pg, t.id) == t.actual_credits > 0


def test_sigkilled_worker_task_finishes_elsewhere_exactly_once(
        pg: Session, stack: CeleryStack) -> None:
    slow = {"WEB4OS_OFFLINE_LATENCY_SECONDS": "2"}
    first = stack.start_worker(concurrency=4, env=slow)
    goal = _start_goal(pg, stack, [("a", "researcher", []), ("b", "writer", ["a"])])

    def running() -> Task | None:
        pg.rollback()
        return pg.scalars(select(Task).where(Task.goal_id == goal.id,
                                             Task.status == TaskStatus.RUNNING)).first()

    victim = wait_for(running, timeout=60, what="a task to start running")
    first.kill()  # mid model call: nothing of this attempt was committed
    assert not first.alive()
    stack.start_worker(concurrency=4, env=slow)

    _wait_completed(pg, goal, timeout=120, stack=stack)

    task = pg.get(Task, victim.id)
    assert task is not None and task.status == TaskStatus.DONE
    assert task.attempts == 2
    assert _claims(pg, goal.id)[task.id] == 2  # the killed attempt, then the one that finished
    to_review = pg.scalar(select(func.count()).select_from(TaskEvent).where(
        TaskEvent.task_id == task.id, TaskEvent.to_status == TaskStatus.NEEDS_REVIEW.value))
    assert to_review == 1, "the result was delivered once"
    # Only the finished attempt's model calls were recorded and charged (do + review).
    assert _model_call_count(pg, task.id) == 2
    # Each attempt held credits once and was settled once (the dead one: released in full),
    # so the task costs what one attempt costs.
    assert _ledger_kinds(pg, task.id) == Counter({EntryKind.RESERVATION: 2,
                                                  EntryKind.SETTLEMENT: 2})
    assert _net_charge(pg, task.id) == task.actual_credits > 0
    released = pg.scalars(select(CreditLedgerEntry.amount).where(
        CreditLedgerEntry.task_id == task.id, CreditLedgerEntry.kind == EntryKind.SETTLEMENT)
        .order_by(CreditLedgerEntry.id)).first()
    held = pg.scalars(select(CreditLedgerEntry.amount).where(
        CreditLedgerEntry.task_id == task.id, CreditLedgerEntry.kind == EntryKind.RESERVATION)
        .order_by(CreditLedgerEntry.id)).first()
    assert released == -(held or 0), "the killed attempt's hold is given back whole"
    other = pg.scalars(select(Task).where(Task.goal_id == goal.id, Task.id != task.id)).one()
    assert other.status == TaskStatus.DONE and _claims(pg, goal.id)[other.id] == 1


def test_goal_completes_after_the_queue_is_flushed(pg: Session, stack: CeleryStack) -> None:
    # Twelve independent tasks on two threads: most wait in Redis when it is flushed.
    specs: list[tuple[str, str, list[str]]] = [(f"t{i}", AGENTS[i % 5], []) for i in range(12)]
    specs.append(("join", "analyst", [f"t{i}" for i in range(12)]))
    stack.start_worker(concurrency=2, env={"WEB4OS_OFFLINE_LATENCY_SECONDS": "0.2"})
    goal = _start_goal(pg, stack, specs)

    def some_running() -> bool:
        pg.rollback()
        return bool(pg.scalar(select(func.count()).select_from(Task).where(
            Task.goal_id == goal.id, Task.status == TaskStatus.RUNNING)))

    wait_for(some_running, timeout=60, what="tasks to start")
    client = stack.redis()
    waiting_before, _ = queue_depth(client)
    client.flushdb()  # the broker forgets every message, held or waiting
    assert waiting_before > 0, "the test must lose queued messages to mean anything"
    assert queue_depth(client) == (0, 0)

    _wait_completed(pg, goal, timeout=120, stack=stack)

    tasks = pg.scalars(select(Task).where(Task.goal_id == goal.id)).all()
    assert {t.status for t in tasks} == {TaskStatus.DONE}
    assert _claims(pg, goal.id) == Counter({t.id: 1 for t in tasks})


def test_health_reports_workers_and_queue(pg: Session, stack: CeleryStack) -> None:
    from web4os.config import get_settings
    from web4os.workers.health import collect

    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("WEB4OS_DISPATCH", "celery")
        mp.setenv("WEB4OS_BROKER_URL", stack.redis_url)
        get_settings.cache_clear()
        before = collect()
        assert before.status == "degraded" and before.workers == []
        assert before.http_status == 200
        worker = stack.start_worker(concurrency=3, sweeper=False)
        report = collect()
        assert report.status == "degraded"  # no worker sweeps
        assert [w.hostname for w in report.workers] == [worker.hostname]
        assert report.workers[0].concurrency == 3 and report.workers[0].age_seconds < 5
        stack.start_worker(concurrency=2)
        report = collect()
        body = report.public()
        assert report.status == "ok", report.problems
        assert body["workers"]["count"] == 2 and body["workers"]["threads"] == 5
        assert body["queue"] == {"waiting": 0, "reserved": 0}
        worker.stop()  # a clean stop removes the heartbeat at once
        assert collect().public()["workers"]["count"] == 1
        stack.workers[-1].kill()  # a dead worker's heartbeat expires by itself
        wait_for(lambda: collect().workers == [], timeout=10, what="the heartbeat to expire")
        mp.setenv("WEB4OS_BROKER_URL", "redis://127.0.0.1:1/0")
        get_settings.cache_clear()
        down = collect()
        assert down.status == "down" and down.http_status == 503
    finally:
        mp.undo()
        get_settings.cache_clear()


def test_workers_take_turns_with_the_sweep_lock(stack: CeleryStack) -> None:
    client = stack.redis()
    assert try_sweep_lock(client, "worker-a", 0.5)
    assert not try_sweep_lock(client, "worker-b", 0.5)  # one sweep per interval
    wait_for(lambda: try_sweep_lock(client, "worker-b", 0.5), timeout=5, interval=0.1,
             what="the lock to lapse")
