"""Planning rules, checked before anything of a plan is saved or run."""

from __future__ import annotations

import difflib
from collections import deque
from collections.abc import Iterable, Mapping

from web4os.errors import InvalidPlan
from web4os.goals.schemas import Plan


def validate_plan(plan: Plan, roster: Iterable[str], *, max_tasks: int,
                  done: Iterable[str] = (), taken: Iterable[str] = ()) -> None:
    """Raise ``InvalidPlan`` (with a message a person can act on) unless the plan is sound:
    at most ``max_tasks`` tasks, unique keys, known and enabled specialists, every
    dependency named in the plan, and no cycles.

    A re-plan may also depend on the ``done`` keys of finished tasks, and must not
    reuse any ``taken`` key (every earlier task of the goal, cancelled ones too)."""
    slugs = set(roster)
    finished, used = set(done), set(taken) | set(done)
    if len(plan.tasks) > max_tasks:
        raise InvalidPlan(f"The plan has {len(plan.tasks)} tasks; the limit is {max_tasks}.")
    keys: set[str] = set()
    for task in plan.tasks:
        if task.key in keys:
            raise InvalidPlan(f"Two tasks share the key “{task.key}”; keys must be unique.")
        if task.key in used:
            raise InvalidPlan(f"The key “{task.key}” belongs to an earlier task of this goal; "
                              "give new tasks new keys.")
        keys.add(task.key)
    for task in plan.tasks:
        if task.agent not in slugs:
            known = ", ".join(sorted(slugs)) or "none"
            raise InvalidPlan(
                f"Task “{task.key}” is assigned to “{task.agent}”, who is not on the roster "
                f"(available: {known})."
            )
        for dep in task.depends_on:
            if dep == task.key:
                raise InvalidPlan(f"Task “{task.key}” depends on itself.")
            if dep not in keys and dep not in finished:
                raise InvalidPlan(f"Task “{task.key}” depends on “{dep}”, which is not in the plan.")
    cycle = find_cycle({t.key: list(t.depends_on) for t in plan.tasks})
    if cycle:
        raise InvalidPlan("The plan has a dependency cycle: " + " → ".join(cycle) + ".")


def map_agents(plan: Plan, roster: Mapping[str, str]) -> list[str]:
    """Assign tasks given to a near-miss of a specialist ("marketing", "Marketer") to that
    specialist; what was changed, in words for the operator. Names nobody is close to
    are left for ``validate_plan`` to reject."""
    changes: list[str] = []
    for task in plan.tasks:
        if task.agent in roster:
            continue
        match = nearest_agent(task.agent, roster)
        if match is not None:
            changes.append(f"Task “{task.key}” was assigned to “{task.agent}”, who is not on the "
                           f"roster; it went to {roster[match]} ({match}), the nearest name.")
            task.agent = match
    return changes


def nearest_agent(name: str, roster: Mapping[str, str]) -> str | None:
    """The roster slug ``name`` most likely means: its slug or name in other words or
    cases, else the closest spelling (``None`` if nothing is close)."""
    def plain(text: str) -> str:
        return "".join(ch for ch in text.lower() if ch.isalnum())

    wanted = plain(name)
    spellings = {plain(slug): slug for slug in roster} | {plain(n): s for s, n in roster.items()}
    if wanted in spellings:
        return spellings[wanted]
    close = difflib.get_close_matches(wanted, list(spellings), n=1, cutoff=0.6)
    return spellings[close[0]] if close else None


def topological_order(deps: Mapping[str, Iterable[str]]) -> list[str]:
    """Keys in an order where every task comes after what it depends on (Kahn)."""
    indegree = {k: 0 for k in deps}
    children: dict[str, list[str]] = {k: [] for k in deps}
    for key, parents in deps.items():
        for p in parents:
            indegree[key] += 1
            children.setdefault(p, []).append(key)
    ready = deque(k for k, n in indegree.items() if n == 0)
    order: list[str] = []
    while ready:
        key = ready.popleft()
        order.append(key)
        for child in children.get(key, []):
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    return order


def find_cycle(deps: Mapping[str, Iterable[str]]) -> list[str] | None:
    """One cycle as a path (``a → b → a``), or None for a DAG."""
    graph = {k: list(v) for k, v in deps.items()}
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for key in graph:
        if key not in state:
            found = visit(key)
            if found:
                return found
    return None


def layers(deps: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """Depth of each task in the DAG (0 = no dependencies), for drawing the graph."""
    depth: dict[str, int] = {}
    for key in topological_order(deps):
        parents = list(deps.get(key, []))
        depth[key] = 1 + max((depth[p] for p in parents), default=-1)
    return depth
