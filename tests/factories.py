"""Typed factories that build real rows through the services."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from web4os.accounts import service as accounts
from web4os.accounts.models import Account, AccountKind, Membership, Role, User
from web4os.agents import service as agents
from web4os.agents.models import Agent
from web4os.goals.models import Goal, Task, TaskStatus
from web4os.goals.schemas import GoalCreate, Plan, PlannedTask
from web4os.goals.service import record_goal, save_plan
from web4os.goals.statemachine import transition
from web4os.onboarding import service as onboarding
from web4os.tenancy import AccountId, TenantContext

PASSWORD = "correct horse battery"
_seq = itertools.count(1)


@dataclass
class Tenant:
    account: Account
    owner: User
    operator: User
    viewer: User

    @property
    def id(self) -> AccountId:
        return AccountId(self.account.id)

    def ctx(self, user: User | None = None, role: Role = Role.OWNER) -> TenantContext:
        u = user or self.owner
        return TenantContext(account_id=self.id, user_id=u.id, role=role.value,
                             actor=f"user:{u.email}")


def make_user(db: Session, email: str | None = None) -> User:
    n = next(_seq)
    return accounts.create_user(db, email or f"user{n}@example.com", PASSWORD,
                                display_name=f"User {n}")


def add_member(db: Session, account: Account, user: User, role: Role) -> Membership:
    m = Membership(account_id=account.id, user_id=user.id, role=role)
    db.add(m)
    db.flush()
    return m


def make_tenant(db: Session, name: str = "Acme", *, credits: int = 1000) -> Tenant:
    n = next(_seq)
    account = onboarding.create_account(db, name=name, kind=AccountKind.INDIVIDUAL,
                                      credit_grant=credits, actor="test")
    owner = make_user(db, f"owner{n}@example.com")
    operator = make_user(db, f"operator{n}@example.com")
    viewer = make_user(db, f"viewer{n}@example.com")
    add_member(db, account, owner, Role.OWNER)
    add_member(db, account, operator, Role.OPERATOR)
    add_member(db, account, viewer, Role.VIEWER)
    return Tenant(account, owner, operator, viewer)


def roster(db: Session, tenant: Tenant) -> dict[str, Agent]:
    return {a.slug: a for a in agents.list_agents(db, tenant.id)}


def make_goal(db: Session, tenant: Tenant, title: str = "Launch a newsletter",
              **kwargs: object) -> Goal:
    # The arranging session stays unbound (it builds rows for several accounts; on
    # Postgres a bound session would be walled into one by row-level security).
    return record_goal(db, tenant.ctx(), GoalCreate(title=title, **kwargs))  # type: ignore[arg-type]


def plan_of(*specs: tuple[str, str, list[str]], credits: int = 2) -> Plan:
    """``plan_of(("a", "researcher", []), ("b", "writer", ["a"]))``."""
    return Plan(rationale="test plan", tasks=[
        PlannedTask(key=k, title=f"Task {k}", agent=agent, instructions=f"Do {k}",
                    depends_on=deps, estimated_credits=credits)
        for k, agent, deps in specs
    ])


def make_planned_goal(db: Session, tenant: Tenant, plan: Plan, title: str = "Planned goal") -> Goal:
    from web4os.goals.models import GoalStatus
    from web4os.goals.statemachine import transition_goal

    goal = make_goal(db, tenant, title)
    save_plan(db, goal, plan, agents.list_agents(db, tenant.id), max_tasks=200)
    transition_goal(db, goal, GoalStatus.RUNNING, actor="test")
    return goal


def make_card_in_review(db: Session, tenant: Tenant, output: str,
                        title: str = "Planned goal") -> Task:
    """Card ``a`` of a two-card plan, waiting for review with ``output`` as its draft."""
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", []), ("b", "writer", ["a"])),
                             title=title)
    task = db.query(Task).filter_by(goal_id=goal.id, key="a").one()
    for status in (TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.NEEDS_REVIEW):
        transition(db, task, status, actor="test")
    task.output = output
    db.commit()
    return task


def login(client: TestClient, user: User, password: str = PASSWORD) -> None:
    """Log in through the real form (CSRF cookie included)."""
    page = client.get("/login")
    token = csrf_from(page.text)
    resp = client.post("/login", data={"email": user.email, "password": password,
                                       "csrf_token": token}, follow_redirects=False)
    assert resp.status_code == 303, resp.text


def submit_goal(client: TestClient, csrf_token: str, title: str) -> int:
    """Submit a goal through the home page's form; the new goal's id."""
    resp = client.post("/goals", data={"title": title, "csrf_token": csrf_token},
                       follow_redirects=False)
    assert resp.status_code == 303
    return int(resp.headers["location"].rsplit("/", 1)[1])


def csrf_from(html: str) -> str:
    import re

    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


class HeldQueue:
    """A job queue that only records what was sent, so a test drives each worker step."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def submit(self, name: str, kwargs: dict[str, Any], countdown: float = 0.0) -> None:
        with self._lock:
            self.jobs.append((name, kwargs))

    def names(self) -> list[str]:
        return [name for name, _ in self.jobs]
