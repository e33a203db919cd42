"""Planning rules and DAG readiness."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories import Tenant, make_goal, make_planned_goal, plan_of
from web4os.agents import service as agents
from web4os.errors import InvalidPlan
from web4os.goals import scheduling
from web4os.goals import service as goals
from web4os.goals.models import Task, TaskDependency, TaskStatus
from web4os.goals.plans import find_cycle, layers, topological_order, validate_plan
from web4os.goals.schemas import Plan

ROSTER = ["researcher", "writer", "analyst"]


def test_a_sound_plan_passes() -> None:
    validate_plan(plan_of(("a", "researcher", []), ("b", "writer", ["a"]),
                          ("c", "analyst", ["a"]), ("d", "writer", ["b", "c"])),
                  ROSTER, max_tasks=8)


@pytest.mark.parametrize(("plan", "message"), [
    (plan_of(("a", "researcher", ["b"]), ("b", "writer", ["a"])), "cycle: a → b → a"),
    (plan_of(("a", "researcher", ["c"]), ("b", "writer", ["a"]), ("c", "writer", ["b"])),
     "cycle"),
    (plan_of(("a", "researcher", ["a"])), "depends on itself"),
    (plan_of(("a", "juggler", [])), "“juggler”, who is not on the roster"),
    (plan_of(("a", "researcher", ["zzz"])), "“zzz”, which is not in the plan"),
    (plan_of(("a", "researcher", []), ("a", "writer", [])), "share the key"),
    (plan_of(*[(f"t{i}", "writer", []) for i in range(9)]), "9 tasks; the limit is 8"),
])
def test_broken_plans_are_refused_with_a_clear_message(plan: Plan, message: str) -> None:
    with pytest.raises(InvalidPlan) as err:
        validate_plan(plan, ROSTER, max_tasks=8)
    assert message in err.value.message


def test_graph_helpers() -> None:
    deps = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}
    order = topological_order(deps)
    assert order.index("a") < order.index("b") < order.index("d")
    assert order.index("c") < order.index("d")
    assert find_cycle(deps) is None
    assert layers(deps) == {"a": 0, "b": 1, "c": 1, "d": 2}
    assert find_cycle({"x": ["y"], "y": ["x"]}) in (["x", "y", "x"], ["y", "x", "y"])


def test_ready_tasks_follow_the_dag(db: Session, tenant: Tenant) -> None:
    goal = make_planned_goal(db, tenant, plan_of(
        ("a", "researcher", []), ("b", "analyst", []), ("c", "writer", ["a", "b"]),
        ("d", "writer", ["c"])))
    tasks = goals.goal_tasks(db, tenant.id, goal.id)
    deps = goals.dependency_map(db, tenant.id, goal.id)
    by_key = {t.key: t for t in tasks}
    assert {t.key for t in scheduling.ready_tasks(tasks, deps)} == {"a", "b"}
    by_key["a"].status = TaskStatus.DONE
    assert {t.key for t in scheduling.ready_tasks(tasks, deps)} == {"b"}
    by_key["b"].status = TaskStatus.RUNNING
    assert {t.key for t in scheduling.ready_tasks(tasks, deps)} == {"b"} - {"b"}
    by_key["b"].status = TaskStatus.DONE
    assert {t.key for t in scheduling.ready_tasks(tasks, deps)} == {"c"}
    by_key["c"].status = TaskStatus.CANCELLED  # skipped by the operator: d may go ahead
    assert {t.key for t in scheduling.ready_tasks(tasks, deps)} == {"d"}


def test_an_invalid_plan_writes_nothing(db: Session, tenant: Tenant) -> None:
    goal = make_goal(db, tenant)
    roster = agents.list_agents(db, tenant.id)
    for bad in (plan_of(("a", "researcher", ["b"]), ("b", "writer", ["a"])),
                plan_of(("a", "researcher", []), ("b", "ghost", ["a"]))):
        with pytest.raises(InvalidPlan):
            goals.save_plan(db, goal, bad, roster, max_tasks=8)
        assert db.scalar(select(func.count()).select_from(Task)) == 0
        assert db.scalar(select(func.count()).select_from(TaskDependency)) == 0


def test_the_ceo_cannot_be_assigned_work(db: Session, tenant: Tenant) -> None:
    goal = make_goal(db, tenant)
    with pytest.raises(InvalidPlan, match="not on the roster"):
        goals.save_plan(db, goal, plan_of(("a", "ceo", [])), agents.list_agents(db, tenant.id),
                        max_tasks=8)
