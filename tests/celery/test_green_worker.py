"""Waiting on a model costs no thread: a real worker on the gevent pool runs fifty
one-second cards side by side on a handful of native threads. A worker with one thread
per running card (the threads pool) would need fifty threads for that, and one with a
few threads would run the cards a few at a time. On that pool, a warm shutdown still lets
the cards waiting on their models finish, and an endpoint's 429s slow a card without
failing it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.agents.test_goal_on_endpoint import ACCEPT, deliverable, plan_json
from tests.factories import make_goal, make_planned_goal, make_tenant, plan_of
from tests.support.celery_worker import CeleryStack, wait_for
from tests.support.fake_openai import FakeOpenAI
from web4os.accounts.models import Account
from web4os.config import get_settings
from web4os.goals.models import Goal, GoalStatus, Task, TaskStatus

CARDS = 50
AGENTS = ("researcher", "writer", "analyst", "marketer", "operations")


def _threads(pid: int) -> int:
    """Native threads of a process now."""
    return len(list(Path(f"/proc/{pid}/task").iterdir()))


def _peak_overlap(spans: list[tuple[datetime, datetime]]) -> int:
    """Most cards running at one moment (ends sort before starts at the same instant)."""
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans],
                   key=lambda edge: (edge[0], edge[1]))
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def test_fifty_cards_wait_on_their_models_together_on_a_few_threads(
        pg: Session, stack: CeleryStack) -> None:
    tenant = make_tenant(pg, "Busy Bakery", credits=50_000)
    pg.execute(update(Account).where(Account.id == tenant.id).values(max_running=CARDS))
    goal = make_planned_goal(pg, tenant, plan_of(
        *((f"c{i}", AGENTS[i % len(AGENTS)], []) for i in range(CARDS))), title="Fifty at once")
    pg.commit()
    worker = stack.start_worker(concurrency=CARDS,
                                env={"WEB4OS_OFFLINE_LATENCY_SECONDS": "1"})
    threads_at_start = _threads(worker.pid)
    stack.queue().submit("advance_goal", {"goal_id": goal.id, "account_id": tenant.id})

    most_threads = threads_at_start

    def completed() -> bool:
        nonlocal most_threads
        most_threads = max(most_threads, _threads(worker.pid))
        pg.rollback()
        return pg.scalar(select(Goal.status).where(Goal.id == goal.id)) == GoalStatus.COMPLETED

    wait_for(completed, timeout=180, interval=0.1, what="the fifty cards to be done")
    cards = pg.scalars(select(Task).where(Task.goal_id == goal.id)).all()
    assert len(cards) == CARDS and {c.status for c in cards} == {TaskStatus.DONE}
    spans = [(c.started_at, c.finished_at) for c in cards]
    assert all(s is not None and e is not None for s, e in spans)
    overlap = _peak_overlap([(s, e) for s, e in spans if s is not None and e is not None])
    assert overlap >= CARDS * 3 // 4, f"only {overlap} of {CARDS} cards waited together"
    assert most_threads < CARDS // 3, (
        f"the worker used {most_threads} threads (from {threads_at_start}) for {overlap} "
        "cards waiting at once")


def test_a_warm_shutdown_lets_the_waiting_cards_finish(pg: Session, stack: CeleryStack) -> None:
    tenant = make_tenant(pg, "Closing Bakery", credits=10_000)
    goal = make_planned_goal(pg, tenant, plan_of(
        *((f"c{i}", AGENTS[i % len(AGENTS)], []) for i in range(8))), title="Stop midway")
    pg.commit()
    worker = stack.start_worker(concurrency=8, env={"WEB4OS_OFFLINE_LATENCY_SECONDS": "2"})
    stack.queue().submit("advance_goal", {"goal_id": goal.id, "account_id": tenant.id})

    def running() -> list[int]:
        pg.rollback()
        return list(pg.scalars(select(Task.id).where(Task.goal_id == goal.id,
                                                     Task.status == TaskStatus.RUNNING)))

    started = wait_for(lambda: len(running()) >= 4 and running(), timeout=60, interval=0.05,
                       what="cards to be waiting on their models")
    worker.stop(timeout=60)  # SIGTERM: a warm shutdown
    assert worker.proc.returncode == 0, "the worker had to be killed"
    pg.rollback()
    statuses = dict(pg.execute(select(Task.id, Task.status).where(Task.id.in_(started))).all())
    assert set(statuses.values()) == {TaskStatus.DONE}, (
        f"cards running at the shutdown did not finish: {statuses}")


def test_an_endpoints_429s_slow_a_green_workers_card_without_failing_it(
        pg: Session, stack: CeleryStack) -> None:
    tenant = make_tenant(pg, "Limited Bakery", credits=10_000)
    goal = make_goal(pg, tenant, "Launch a bakery newsletter")
    pg.commit()
    limits = get_settings().max_task_attempts + 2
    with FakeOpenAI() as fake:
        fake.reply_json(plan_json(("research", "researcher", [])))
        for _ in range(limits):
            fake.error(429, "Slow down", headers={"retry-after-ms": "20"})
        fake.reply_json(deliverable("Research"))
        fake.reply_json(ACCEPT)
        fake.reply_json({"summary": "Done."})
        stack.start_worker(concurrency=8, env={
            "WEB4OS_OPENAI_BASE_URL": fake.base_url, "WEB4OS_OPENAI_API_KEY": "sk-test",
            "WEB4OS_OPENAI_MODEL": "fake-model", "WEB4OS_MODEL_MAX_RETRIES": "0"})
        stack.queue().submit("plan_goal", {"goal_id": goal.id, "account_id": tenant.id})

        def ended() -> GoalStatus | None:
            pg.rollback()
            status = pg.scalar(select(Goal.status).where(Goal.id == goal.id))
            return status if status in (GoalStatus.COMPLETED, GoalStatus.FAILED) else None

        assert wait_for(ended, timeout=120, what="the limited goal to end") == \
            GoalStatus.COMPLETED
        card = pg.scalars(select(Task).where(Task.goal_id == goal.id)).one()
        assert card.status == TaskStatus.DONE
        assert card.attempts == limits + 1  # past max_task_attempts, and none failed it
        fake.assert_all_used()
