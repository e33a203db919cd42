"""Fair share on real workers: an account's running cap holds across a Celery worker's
threads (jobs wait in the account's lane in Redis until a slot is freed), and every
card still runs once. First come, first served runs the three cards side by side."""

from __future__ import annotations

from itertools import pairwise

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.factories import make_planned_goal, make_tenant, plan_of
from tests.support.celery_worker import CeleryStack, wait_for
from web4os.accounts.models import Account
from web4os.goals.models import Goal, GoalStatus, Task, TaskStatus
from web4os.workers.dispatch import PREFIX


def test_an_accounts_running_cap_holds_on_a_worker_with_threads_to_spare(
        pg: Session, stack: CeleryStack) -> None:
    tenant = make_tenant(pg, "Capped Bakery", credits=5000)
    pg.execute(update(Account).where(Account.id == tenant.id).values(max_running=1))
    goal = make_planned_goal(pg, tenant, plan_of(("a", "researcher", []), ("b", "writer", []),
                                                 ("c", "analyst", [])), title="Three at once?")
    pg.commit()
    stack.start_worker(concurrency=8, env={"WEB4OS_OFFLINE_LATENCY_SECONDS": "0.3"})
    stack.queue().submit("advance_goal", {"goal_id": goal.id, "account_id": tenant.id})

    def completed() -> bool:
        pg.rollback()
        return pg.scalar(select(Goal.status).where(Goal.id == goal.id)) == GoalStatus.COMPLETED

    wait_for(completed, timeout=120, interval=0.3, what="the capped goal to complete")
    cards = pg.scalars(select(Task).where(Task.goal_id == goal.id)).all()
    assert {c.status for c in cards} == {TaskStatus.DONE} and len(cards) == 3
    spans = sorted((c.started_at, c.finished_at) for c in cards)
    for (_, end), (start, _) in pairwise(spans):
        assert end is not None and start is not None and end <= start, \
            f"two cards of a capped account ran at once: {spans}"
    redis = stack.redis()
    wait_for(lambda: redis.zcard(f"{PREFIX}inflight:{tenant.id}") == 0, timeout=10,
             what="every slot to be freed")
    assert int(redis.get(f"{PREFIX}waiting") or 0) == 0
