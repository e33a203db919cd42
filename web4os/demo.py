"""``web4os demo``: one goal end to end, headless, with the cards printed."""

from __future__ import annotations

import time

from web4os.accounts.models import AccountKind
from web4os.config import get_settings
from web4os.db import session_factory
from web4os.goals import service as goals
from web4os.goals.models import GoalStatus
from web4os.goals.schemas import GoalCreate
from web4os.migrate import upgrade
from web4os.onboarding import service as onboarding
from web4os.queue import set_queue
from web4os.tenancy import AccountId, TenantContext, bind_account
from web4os.workers.embedded import EmbeddedRunner

TERMINAL = {GoalStatus.COMPLETED, GoalStatus.FAILED, GoalStatus.CANCELLED, GoalStatus.PAUSED}


def run_demo(title: str, *, timeout: float = 120.0) -> int:
    """Create a demo account, submit ``title``, wait, print every card."""
    upgrade()
    runner = EmbeddedRunner()
    set_queue(runner)
    factory = session_factory()
    with factory() as s:
        account = onboarding.create_account(s, name=f"Demo {int(time.time())}",
                                          kind=AccountKind.INDIVIDUAL,
                                          credit_grant=get_settings().signup_credit_grant,
                                          actor="demo")
        ctx = TenantContext.system(account.id, actor="demo")
        bind_account(s, ctx.account_id)
        goal = goals.create_goal(s, ctx, GoalCreate(title=title))
        s.commit()
        goal_id, aid = goal.id, AccountId(account.id)
    deadline = time.monotonic() + timeout
    status = GoalStatus.PLANNING
    while time.monotonic() < deadline:
        runner.wait_idle(timeout=1.0)
        with factory() as s:
            status = goals.get_goal(s, aid, goal_id).status
        if status in TERMINAL:
            break
        time.sleep(0.1)
    runner.shutdown()
    return _print(goal_id, aid, status)


def _print(goal_id: int, aid: AccountId, status: GoalStatus) -> int:
    with session_factory()() as s:
        goal = goals.get_goal(s, aid, goal_id)
        tasks = goals.goal_tasks(s, aid, goal_id)
        deps = goals.dependency_map(s, aid, goal_id)
        by_id = {t.id: t for t in tasks}
        print(f"Goal #{goal.id}: {goal.title}  [{goal.status.value}]  "
              f"{goal.credits_spent} credits")
        if get_settings().offline_model:
            print("(offline model: results are built-in templates, not real AI work)")
        for t in tasks:
            after = ", ".join(by_id[d].key for d in deps.get(t.id, []) if d in by_id)
            print(f"\n┌ [{t.status.value:^12}] {t.title}")
            print(f"│ agent: {t.agent.name}  credits: {t.actual_credits}/{t.estimated_credits}"
                  f"{'  after: ' + after if after else ''}")
            if t.note:
                print(f"│ note: {t.note}")
            print("└" + "─" * 60)
        if goal.summary:
            print("\nSummary:\n" + goal.summary)
        if goal.status_reason and status != GoalStatus.COMPLETED:
            print(f"\n{goal.status_reason}")
    return 0 if status == GoalStatus.COMPLETED else 1
