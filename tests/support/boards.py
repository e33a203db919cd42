"""A goal with many cards in every column, for board tests (built with direct rows:
the plan rules cap a real plan at 200 cards, and no model needs to run)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tests.factories import Tenant, make_goal, roster
from web4os.goals.models import Goal, GoalStatus, Task, TaskDependency, TaskStatus
from web4os.goals.statemachine import transition_goal

S = TaskStatus
MIX = ((S.DONE, 120), (S.PLANNED, 80), (S.NEEDS_REVIEW, 60), (S.FAILED, 30), (S.QUEUED, 6),
       (S.RUNNING, 4))
"""300 cards: how many of each status."""


def big_goal(db: Session, tenant: Tenant, mix: tuple[tuple[TaskStatus, int], ...] = MIX,
             title: str = "Open a second bakery") -> Goal:
    goal = make_goal(db, tenant, title)
    transition_goal(db, goal, GoalStatus.RUNNING, actor="test")
    agents = [a for a in roster(db, tenant).values() if not a.is_ceo]
    tasks: list[Task] = []
    n = 0
    for status, count in mix:
        for _ in range(count):
            agent = agents[n % len(agents)]
            tasks.append(Task(
                account_id=tenant.id, goal_id=goal.id, key=f"t{n}", position=n,
                title=f"Card {n}: {status.value.replace('_', ' ')} work for {agent.name}",
                instructions=f"Do part {n}.", agent_id=agent.id, owner_id=tenant.owner.id,
                status=status, estimated_credits=3, actual_credits=2 if status == S.DONE else 0,
                output=f"## Result {n}\n\nDelivered part {n}." if status in (S.DONE, S.NEEDS_REVIEW)
                else "", attempts=1 if status != S.PLANNED else 0,
            ))
            n += 1
    db.add_all(tasks)
    db.flush()
    for i, task in enumerate(tasks[1:], start=1):  # a chain of sorts: every card needs an earlier one
        db.add(TaskDependency(account_id=tenant.id, goal_id=goal.id, task_id=task.id,
                              depends_on_id=tasks[(i - 1) // 2].id))
    db.commit()
    return goal
