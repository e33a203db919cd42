"""The dispatch code: every job the embedded runner and Celery run.

Each job is idempotent: it loads rows by id, checks their state, and does
nothing if the work was already done (a redelivered message is harmless).
Model calls happen outside database transactions; their effects (output,
events, credit settlement, the next state) commit together.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import String, bindparam, or_, select, update
from sqlalchemy.orm import aliased, lazyload

from web4os.accounts.models import Account, AccountStatus
from web4os.agents import brain
from web4os.agents import service as agents
from web4os.agents.brain import AgentBrief, Deliverable, InputDoc, Review, TaskContext
from web4os.agents.models import Agent
from web4os.agents.providers import ModelError, provider_for
from web4os.agents.providers.base import ToolCall
from web4os.agents.structured import CallRecord, StructuredOutputError, ToolBox
from web4os.agents.tools import (
    ToolRun,
    ToolScope,
    context_tools,
    run_tool_call,
    tool_specs,
)
from web4os.config import get_settings
from web4os.credits import caps
from web4os.credits import service as credits
from web4os.credits.service import Refs
from web4os.db import table_of, utcnow
from web4os.errors import InvalidInput, InvalidPlan, NotFound
from web4os.goals import service as goals
from web4os.goals.history import event_row, write_events
from web4os.goals.models import Goal, GoalStatus, Task, TaskStatus
from web4os.goals.statemachine import (
    TERMINAL,
    StaleTransition,
    Then,
    transition,
    transition_goal,
)
from web4os.goals.work import (
    OUT_OF_CREDITS,
    add_goal_spend,
    attempt_key,
    model_call_events,
    queue_many,
    queue_task,
    record_calls,
    refs_of,
)
from web4os.tenancy import AccountId, account_id_of, in_account
from web4os.workers.context import system_session, tenant_session
from web4os.workers.queue import enqueue, get_queue, handoff

log = logging.getLogger("web4os.jobs")

JOBS: dict[str, Callable[..., None]] = {}

PLAN_CREDITS = 3
SUMMARY_CREDITS = 2
READY = "Its inputs are ready."


def job(fn: Callable[..., None]) -> Callable[..., None]:
    """Register a job under its function name."""
    JOBS[fn.__name__] = fn
    return fn


def run_job(name: str, kwargs: dict[str, Any]) -> None:
    """Run a registered job by name (both runners call this), then the card it handed
    to itself, if any, and so on (``workers.queue.handoff``).

    A handed-off card that fails goes to the queue as a job of its own, after a short
    wait, so the queue's retries apply to it; the job that handed it on has done its
    work.
    """
    if "account_id" not in kwargs and name != "sweep":
        raise ValueError(f"Job {name} refused: no account_id (fail closed).")
    since: float | None = None  # when the chain of handed-off cards began
    while True:
        try:
            with handoff(since) as slot:
                JOBS[name](**kwargs)
        except Exception:
            if since is None:
                raise
            log.exception("handed-off %s %s failed; sent to the queue", name, kwargs)
            get_queue().submit(name, kwargs, _backoff(1))
            return
        if slot.job is None:
            return
        (name, kwargs), since = slot.job, slot.since


def brief_of(agent: Agent) -> AgentBrief:
    return AgentBrief(slug=agent.slug, name=agent.name, role=agent.role,
                      instructions=agent.instructions, model=agent.model)


def _account_active(session: Any, account_id: int) -> bool:
    status = session.scalar(select(Account.status).where(Account.id == account_id))
    return bool(status == AccountStatus.ACTIVE)


def _backoff(attempt: int) -> float:
    return float(min(60, 2 ** attempt))


# --- planning -----------------------------------------------------------------

@job
def plan_goal(goal_id: int, *, account_id: int) -> None:
    """The CEO agent turns a goal into a saved plan (or a clear failure)."""
    settings = get_settings()
    with tenant_session(account_id) as s:
        goal = goals.get_goal(s, AccountId(account_id), goal_id)
        if goal.status != GoalStatus.PLANNING or not _account_active(s, account_id):
            return
        ceo_agent = agents.ceo(s, AccountId(account_id))
        roster = [brief_of(a) for a in agents.specialists(s, AccountId(account_id))]
        goal.plan_attempts += 1
        key = f"goal:{goal.id}:plan{goal.plan_attempts}"
        refs = Refs(goal_id=goal.id, agent_id=ceo_agent.id)
        if not credits.reserve(s, AccountId(account_id), key, PLAN_CREDITS, refs=refs,
                               reason="Hold for the CEO agent's plan"):
            transition_goal(s, goal, GoalStatus.PAUSED, actor="ceo", reason=OUT_OF_CREDITS)
            return
        title, brief_text, attempt = goal.title, goal.brief, goal.plan_attempts
        ceo, provider = brief_of(ceo_agent), provider_for(ceo_agent)
    calls: list[CallRecord] = []
    plan = None
    error: Exception | None = None
    try:
        plan = brain.plan_goal(provider, ceo, title=title, brief=brief_text, roster=roster,
                               max_tasks=settings.max_plan_tasks, calls=calls)
    except (StructuredOutputError, ModelError) as exc:
        error = exc
    with tenant_session(account_id) as s:
        aid = AccountId(account_id)
        goal = goals.get_goal(s, aid, goal_id)
        add_goal_spend(s, goal.id, credits.settle(s, aid, key, sum(c.credits for c in calls),
                                                 refs=refs, reason="CEO agent: plan"))
        record_calls(s, account_id=account_id, goal_id=goal.id, task_id=None, calls=calls)
        if goal.status != GoalStatus.PLANNING:
            return
        ids: list[int] = []
        if plan is not None:
            try:
                with s.begin_nested():
                    ids = goals.save_plan(s, goal, plan, agents.list_agents(s, aid),
                                          max_tasks=settings.max_plan_tasks,
                                          require_approval=goal.require_approval)
            except InvalidPlan as exc:
                error, plan = exc, None
        if plan is not None:
            transition_goal(s, goal, GoalStatus.RUNNING, actor="ceo",
                            reason=f"Planned {len(plan.tasks)} tasks.")
            # The cards that need no input start now, in this transaction: no
            # ``advance_goal`` job has to load the whole new plan to find them. Not for
            # an account suspended meanwhile (as ``advance_goal`` would not): once it is
            # active again, the sweeper's look at idle goals starts them.
            if _account_active(s, account_id):
                _queue_ready(s, goal, goals.tasks_by_ids(s, aid, [
                    task_id for spec, task_id in zip(plan.tasks, ids, strict=True)
                    if not spec.depends_on]))
        else:
            _planning_failed(s, goal, error, attempt, settings.max_task_attempts)


def _planning_failed(s: Any, goal: Goal, error: Exception | None, attempt: int,
                     max_attempts: int) -> None:
    if isinstance(error, ModelError) and error.retryable and attempt < max_attempts:
        wait = _backoff(attempt)
        goals.log_goal_event(s, goal, kind="retry", actor="ceo",
                             message=f"{error} Trying again in {wait:.0f} s.")
        enqueue(s, "plan_goal", countdown=wait, goal_id=goal.id, account_id=goal.account_id)
        return
    raw = getattr(error, "raw", "")
    message = getattr(error, "message", None) or str(error)
    goals.log_goal_event(s, goal, kind="plan_failed", actor="ceo", message=message,
                         data={"raw": raw[:20000]} if raw else {})
    transition_goal(s, goal, GoalStatus.FAILED, actor="ceo",
                    reason=f"The CEO agent could not make a valid plan: {message}")


# --- advancing ----------------------------------------------------------------

def _queue_ready(s: Any, goal: Goal, ready: list[Task]) -> None:
    """Queue each ready card (its credits reserved first); stop if a credit cap pauses the goal.

    Together in one go when no cap is set and the account can pay them all (the
    common case); else one by one, so each card that cannot start says why.
    """
    if goal.credit_cap is None and queue_many(s, ready, actor="ceo", reason=READY):
        return
    _queue_one_by_one(s, goal, ready)


def _queue_one_by_one(s: Any, goal: Goal, ready: list[Task]) -> None:
    for task in ready:
        try:
            with s.begin_nested():
                queue_task(s, task, actor="ceo", reason=READY, expect=TaskStatus.PLANNED)
        except StaleTransition:
            continue
        if goal.status != GoalStatus.RUNNING:
            return


def _start_summary(s: Any, goal: Goal) -> None:
    """Every card is settled: the goal moves to completing and the summary job is sent."""
    try:
        transition_goal(s, goal, GoalStatus.COMPLETING, actor="ceo",
                        reason="All tasks are done; writing the summary.")
    except StaleTransition:
        return
    enqueue(s, "finish_goal", goal_id=goal.id, account_id=goal.account_id)


@job
def advance_goal(goal_id: int, *, account_id: int) -> None:
    """Queue every task whose inputs are done; close the goal when all work is finished."""
    aid = AccountId(account_id)
    with tenant_session(account_id) as s:
        goal = goals.get_goal(s, aid, goal_id)
        if goal.status != GoalStatus.RUNNING or not _account_active(s, account_id):
            return
        tasks = goals.goal_tasks(s, aid, goal_id)
        deps = goals.dependency_map(s, aid, goal_id)
        _queue_ready(s, goal, goals.ready_tasks(tasks, deps))
        if goal.status != GoalStatus.RUNNING:  # a credit cap paused it
            return
        if goals.all_finished(tasks):
            _start_summary(s, goal)
        else:
            replan.after_advance(s, goal, tasks, deps)


# --- running a task -----------------------------------------------------------

@dataclass(frozen=True)
class Claim:
    """What a worker holds while it runs one attempt of a task."""

    task_id: int
    goal_id: int
    token: str
    attempt: int
    agent: Agent
    ceo: Agent
    context: TaskContext
    review_by_ceo: bool
    tool_credits: int = 0
    tool_scope: ToolScope | None = None  # set when tools are offered as functions


def _tool_run_event(task: Task, run: ToolRun) -> dict[str, Any]:
    return event_row(account_id=task.account_id, goal_id=task.goal_id, task_id=task.id,
                     kind="tool_run", actor=task.agent.slug,
                     message=f"{run.tool} · {run.result.items} item(s) · {run.credits} credit(s)",
                     data=run.as_event_data())


def _load_context(s: Any, task: Task, goal_title: str, goal_brief: str,
                  inputs: list[goals.Input], scope: ToolScope, prerun: bool,
                  history: list[dict[str, Any]]) -> tuple[TaskContext, int]:
    """The specialist's context: the goal, the card's inputs, plus what its tools find
    (metered; their events added to ``history``)."""
    runs = context_tools(s, scope, list(task.agent.tools or [])) if prerun else []
    history.extend(_tool_run_event(task, run) for run in runs)
    found = {run.tool: run.result.lines for run in runs}
    ctx = TaskContext(goal_title=goal_title, goal_brief=goal_brief, task_title=task.title,
                      instructions=task.instructions,
                      inputs=[InputDoc(i.title, i.agent_name, i.output) for i in inputs],
                      notes=found.get("notes", []), feedback=task.feedback,
                      context=found.get("read_goal_outputs", []))
    return ctx, sum(run.credits for run in runs)


def _claim(task_id: int, account_id: int) -> Claim | None:
    """Move a queued task to running under a fresh lease; None if it is not ours to run."""
    aid = AccountId(account_id)
    with tenant_session(account_id) as s:
        row = s.execute(_claim_stmt(), {"tenant": aid, "task_id": task_id}).first()
        if row is None:
            raise NotFound("No such task.")
        task, ceo, goal_id, goal_status, goal_title, goal_brief, account_status = row
        if ceo is None:
            raise NotFound("This account has no CEO agent.")
        if task.status != TaskStatus.QUEUED:
            return None
        if goal_status != GoalStatus.RUNNING or account_status != AccountStatus.ACTIVE:
            return None
        token = uuid.uuid4().hex
        lease = utcnow() + timedelta(seconds=get_settings().task_lease_seconds)
        history: list[dict[str, Any]] = []  # "started" and the tools' runs: one INSERT
        try:
            transition(s, task, TaskStatus.RUNNING, actor=f"agent:{task.agent.slug}",
                       reason="Started.", expect=TaskStatus.QUEUED,
                       values={"claim_token": token, "lease_expires_at": lease,
                               "attempts": task.attempts + 1, "started_at": utcnow(),
                               "finished_at": None}, history=history)
        except StaleTransition:
            return None
        inputs = goals.task_inputs(s, aid, task.id)
        scope = ToolScope(account_id=aid, goal_id=goal_id, task_id=task.id,
                          skip_task_ids=frozenset(i.task_id for i in inputs))
        functions = bool(get_settings().model_tool_calls and task.agent.tools
                         and not provider_for(task.agent).offline)
        ctx, tool_credits = _load_context(s, task, goal_title, goal_brief, inputs, scope,
                                          prerun=not functions, history=history)
        write_events(s, history)
        return Claim(task.id, goal_id, token, task.attempts, task.agent, ceo, ctx,
                     review_by_ceo=not task.requires_approval, tool_credits=tool_credits,
                     tool_scope=scope if functions else None)


@functools.cache
def _claim_stmt() -> Any:
    """The card, the CEO agent (who reviews the result), and the columns of the goal and
    the account a claim reads: one query for everything a claim checks."""
    ceo = aliased(Agent)
    return (select(Task, ceo, Goal.id, Goal.status, Goal.title, Goal.brief,
                   Account.status)
            .join(Goal, Goal.id == Task.goal_id).join(Account, Account.id == Task.account_id)
            .outerjoin(ceo, (ceo.account_id == Task.account_id) & ceo.is_ceo.is_(True))
            .where(Task.id == bindparam("task_id"), in_account(Task))
            .limit(1))


@dataclass
class _Run:
    """One attempt this process is running, as the lease heartbeat sees it."""

    task_id: int
    token: str
    account_id: int
    started: float  # time.monotonic()


class LeaseHeartbeat:
    """Renews the leases of every card this process is running: one thread per process.

    A run registers for as long as its model calls take (``hold``); every third of a
    lease the thread renews all of them, one ``UPDATE`` per account. Past the run time
    limit (``task_soft_time_limit``, whatever the pool) a run is no longer renewed: its
    lease lapses and the sweeper retries the card. One thread, not one per run: with a
    fast model, starting a thread cost more than the rest of the run's bookkeeping.
    """

    def __init__(self) -> None:
        self._runs: dict[int, _Run] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._tick = threading.Event()  # never set: its wait() is the loop's sleep

    def after_fork(self) -> None:
        """In a forked child: none of the parent's runs, its lock or its thread."""
        self._runs, self._lock, self._thread = {}, threading.Lock(), None

    @contextlib.contextmanager
    def hold(self, claim: Claim, account_id: int) -> Iterator[None]:
        """Keep ``claim``'s lease alive while the block runs."""
        run = _Run(claim.task_id, claim.token, account_id, time.monotonic())
        with self._lock:
            self._runs[id(run)] = run
            if self._thread is None or not self._thread.is_alive():
                self._start()
        try:
            yield
        finally:
            with self._lock:
                self._runs.pop(id(run), None)

    def _start(self) -> None:
        """Start (or restart) the thread; the caller holds the lock."""
        self._thread = threading.Thread(target=self._loop, daemon=True, name="web4os-leases")
        self._thread.start()

    def _loop(self) -> None:
        while True:
            try:
                self._tick.wait(get_settings().task_lease_seconds / 3)
                self.beat()
            except Exception:  # a missed beat only shortens the leases
                log.exception("lease heartbeat failed")

    def beat(self) -> None:
        """Renew every run's lease now; drop the runs past the time limit."""
        settings = get_settings()
        lease, limit = settings.task_lease_seconds, settings.task_soft_time_limit
        now = time.monotonic()
        by_account: dict[int, list[_Run]] = {}
        with self._lock:
            for key, run in list(self._runs.items()):
                if now - run.started > limit:
                    log.warning("task %s ran past %s s; its lease lapses and it is retried",
                                run.task_id, limit)
                    del self._runs[key]
                else:
                    by_account.setdefault(run.account_id, []).append(run)
        until = utcnow() + timedelta(seconds=lease)
        for account_id, runs in by_account.items():
            try:  # one account's failure does not cost the others their renewal
                with tenant_session(account_id) as s:
                    s.execute(_renew_stmt(), [{"tenant": account_id, "task_id": r.task_id,
                                               "token": r.token, "until": until}
                                              for r in runs])
            except Exception:
                log.exception("lease renewal failed for account %s", account_id)

    def running(self) -> int:
        """How many runs are held (tests)."""
        with self._lock:
            return len(self._runs)


@functools.cache
def _renew_stmt() -> Any:
    tasks = table_of(Task)
    t = tasks.c
    return (update(tasks).where(in_account(tasks), t.id == bindparam("task_id"),
                                t.claim_token == bindparam("token"),
                                t.status == TaskStatus.RUNNING)
            .values(lease_expires_at=bindparam("until")))


LEASES = LeaseHeartbeat()
os.register_at_fork(after_in_child=LEASES.after_fork)


@dataclass
class Outcome:
    deliverable: Deliverable | None = None
    review: Review | None = None
    error: Exception | None = None
    tool_credits: int = 0  # tools the model called (function calling)


def _toolbox(claim: Claim, account_id: int, outcome: Outcome) -> ToolBox | None:
    """The agent's tools as functions, each run in its own scoped, metered transaction."""
    scope = claim.tool_scope
    if scope is None:
        return None
    allowed = list(claim.agent.tools or [])

    def run(call: ToolCall) -> str:
        with tenant_session(account_id) as s:
            task = goals.get_task(s, AccountId(account_id), claim.task_id)
            try:
                result = run_tool_call(s, scope, call, allowed)
            except InvalidInput as exc:
                return exc.message
            write_events(s, [_tool_run_event(task, result)])
        outcome.tool_credits += result.credits
        return "\n\n".join(result.result.lines) or "(nothing found)"

    return ToolBox(tool_specs(allowed), run)


@job
def run_task(task_id: int, *, account_id: int) -> None:
    """A specialist does one attempt of a task; the CEO agent reviews it."""
    claim = _claim(task_id, account_id)
    if claim is None:
        return
    calls: list[CallRecord] = []
    outcome = Outcome()
    with LEASES.hold(claim, account_id):
        try:
            outcome.deliverable = brain.do_task(provider_for(claim.agent), brief_of(claim.agent),
                                                claim.context, calls,
                                                _toolbox(claim, account_id, outcome))
        except (StructuredOutputError, ModelError) as exc:
            outcome.error = exc
        if outcome.deliverable is not None and claim.review_by_ceo:
            try:
                outcome.review = brain.review_task(provider_for(claim.ceo), brief_of(claim.ceo),
                                                   claim.context, outcome.deliverable.deliverable,
                                                   calls)
            except (StructuredOutputError, ModelError) as exc:
                log.warning("CEO review failed for task %s: %s", task_id, exc)
    _finish(claim, account_id, calls, outcome)


def _finish(claim: Claim, account_id: int, calls: list[CallRecord], outcome: Outcome) -> None:
    """Commit one attempt's effects together: charge, history, output, next state.

    Rows are locked in the order every transaction that moves credits follows: the
    account (the settlement), the goal (its spend), then cards (this one, and those it
    unblocks). A card's own rows could go first and shorten the time the account row
    is held, but then a finishing card and a recovery or a goal's cancellation (account,
    then the card) would wait on each other.
    """
    aid = AccountId(account_id)
    key = attempt_key(claim.task_id, claim.attempt)
    with tenant_session(account_id) as s:
        row = s.execute(_finish_stmt(), {"tenant": aid, "row_id": claim.task_id,
                                         "key": key}).first()
        if row is None:
            raise NotFound("No such task.")
        task, held = row
        charged = credits.settle(s, aid, key,
                                 sum(c.credits for c in calls) + claim.tool_credits
                                 + outcome.tool_credits,
                                 refs=refs_of(task),
                                 reason=f"“{task.title}” (attempt {claim.attempt})",
                                 held=int(held or 0))
        goal = _touch_goal(s, aid, task.goal_id, charged)
        history = model_call_events(account_id=account_id, goal_id=task.goal_id,
                                    task_id=task.id, calls=calls)
        if task.status != TaskStatus.RUNNING or task.claim_token != claim.token:
            task.actual_credits += charged
            if goal is not None and goal.status == GoalStatus.PAUSED:
                credits.schedule_resume(s, aid)  # what the late card held is free again
            history.append(event_row(
                account_id=account_id, goal_id=task.goal_id, task_id=task.id, kind="discarded",
                actor="system", message="A late result was discarded: the card had moved on."))
            write_events(s, history)
            return
        done = False
        spent = {"actual_credits": task.actual_credits + charged}
        if outcome.deliverable is not None:
            done = _deliver(s, task, claim, outcome.deliverable, outcome.review, spent, history)
        else:
            _attempt_failed(s, task, claim, outcome.error, spent, history)
        if done and goal is not None and goal.status == GoalStatus.RUNNING:
            _advance_after_done(s, task, goal, history)
        else:  # failures, send-backs and cards waiting for the operator: the full check
            write_events(s, history)
            enqueue(s, "advance_goal", goal_id=task.goal_id, account_id=account_id)


@functools.cache
def _finish_stmt() -> Any:
    """The card (its agent loaded on first use: a finish seldom needs it) and what this
    attempt's reservation holds, in one query."""
    return (select(Task, credits.hold_amount(bindparam("key", type_=String)))
            .options(lazyload(Task.agent))
            .where(in_account(Task), Task.id == bindparam("row_id")))


@dataclass(frozen=True)
class _Touched:
    """What finishing a card needs to know of its goal, read as the goal row is locked."""

    status: GoalStatus
    credit_cap: int | None
    account_active: bool


def _touch_goal(s: Any, aid: AccountId, goal_id: int, charged: int) -> _Touched | None:
    """Add this attempt's charge to the goal, lock its row, and read its state.

    The row locks matter on Postgres: two sibling cards finishing at once take turns
    (the settlement has already locked the account row; this locks the goal row
    too, so the rule holds even for work that moves no credits), and the second
    one, once the first has committed, sees its sibling done and starts the card
    that needed both. Neither can miss it. The account's status comes back in the
    same statement.
    """
    row = s.execute(_touch_stmt(), {"tenant": aid, "goal_id": goal_id, "charged": charged,
                                    "now": utcnow()}).first()
    if row is None:
        return None
    return _Touched(GoalStatus(row[0]), row[1], row[2] == AccountStatus.ACTIVE)


@functools.cache
def _touch_stmt() -> Any:
    goals_t, accounts = table_of(Goal), table_of(Account).c
    g = goals_t.c
    account_status = (select(accounts.status).where(accounts.id == g.account_id)
                      .scalar_subquery())
    return (update(goals_t).where(g.id == bindparam("goal_id"), in_account(goals_t))
            .values(credits_spent=g.credits_spent + bindparam("charged"),
                    updated_at=bindparam("now"))
            .returning(g.status, g.credit_cap, account_status))


def _advance_after_done(s: Any, task: Task, goal: _Touched,
                        history: list[dict[str, Any]]) -> None:
    """A card is done: start the cards it unblocked, or close the goal, in this same
    transaction (no ``advance_goal`` job and no reload of the whole goal per card).
    ``history`` (the card's own events) is written with the queued cards' events."""
    aid = account_id_of(task)
    ready = goals.ready_dependents(s, aid, task.id)
    queued = bool(ready) and goal.account_active and goal.credit_cap is None and queue_many(
        s, ready, actor="ceo", reason=READY, history=history)
    write_events(s, history)
    if ready:
        if not queued and goal.account_active:
            _queue_one_by_one(s, task.goal, ready)  # loads the goal: caps may pause it
        return
    counts = goals.status_counts(s, aid, task.goal_id)
    unfinished = {st for st, n in counts.items() if n and st not in TERMINAL}
    if not unfinished:
        _start_summary(s, task.goal)
    elif TaskStatus.FAILED in unfinished and not unfinished & replan.IN_FLIGHT:
        enqueue(s, "advance_goal", goal_id=task.goal_id, account_id=task.account_id)  # re-plan?


def _deliver(s: Any, task: Task, claim: Claim, result: Deliverable, review: Review | None,
             spent: dict[str, Any], history: list[dict[str, Any]]) -> bool:
    """Record the result and the CEO agent's verdict; True if the card is now done."""
    accepted = (Then(TaskStatus.DONE, actor="ceo",
                     reason=review.feedback or "Accepted by the CEO agent.")
                if review is not None and review.verdict == "accept" else None)
    transition(s, task, TaskStatus.NEEDS_REVIEW, actor=f"agent:{claim.agent.slug}",
               reason=result.note or "Result ready for review.", claim_token=claim.token,
               values={"output": result.deliverable, "note": result.note,
                       "claim_token": None, "lease_expires_at": None, **spent},
               history=history, then=accepted)
    if accepted is not None:
        return True
    if review is None:
        return False
    if task.attempts < get_settings().max_task_attempts:
        write_events(s, history)  # in order, before the send-back's own events
        history.clear()
        queue_task(s, task, actor="ceo", reason=f"Sent back by the CEO agent: {review.feedback}",
                   values={"feedback": review.feedback})
    else:
        task.status_reason = (f"The CEO agent still has concerns after {task.attempts} attempts "
                              f"({review.feedback}). Your call: approve or send it back.")
    return False


def _attempt_failed(s: Any, task: Task, claim: Claim, error: Exception | None,
                    spent: dict[str, Any], history: list[dict[str, Any]]) -> None:
    max_attempts = get_settings().max_task_attempts
    if isinstance(error, ModelError) and error.retryable and task.attempts < max_attempts:
        wait = max(_backoff(task.attempts), error.retry_after or 0.0)
        write_events(s, history)
        history.clear()
        queue_task(s, task, actor="system", reason=f"{error} Retrying in {wait:.0f} s.",
                   countdown=wait, claim_token=claim.token, values=spent)
        return
    raw = getattr(error, "raw", "")
    message = getattr(error, "message", None) or str(error)
    transition(s, task, TaskStatus.FAILED, actor=f"agent:{claim.agent.slug}",
               reason=f"{message} Retry, edit the instructions, or reassign the card.",
               claim_token=claim.token,
               values={"output": raw, "claim_token": None, "lease_expires_at": None,
                       "note": "The model's raw answer is shown below." if raw else "", **spent},
               history=history)


# --- closing ------------------------------------------------------------------

@job
def finish_goal(goal_id: int, *, account_id: int) -> None:
    """The CEO agent writes the goal's summary and closes it."""
    aid = AccountId(account_id)
    key = f"goal:{goal_id}:summary"
    with tenant_session(account_id) as s:
        goal = goals.get_goal(s, aid, goal_id)
        if goal.status != GoalStatus.COMPLETING:
            return
        ceo_agent = agents.ceo(s, aid)
        refs = Refs(goal_id=goal.id, agent_id=ceo_agent.id)
        results = [InputDoc(r.title, r.agent_name, r.output)
                   for r in goals.done_results(s, aid, goal_id)]
        can_pay = credits.reserve(s, aid, key, SUMMARY_CREDITS, refs=refs,
                                  reason="Hold for the CEO agent's summary")
        title, ceo, provider = goal.title, brief_of(ceo_agent), provider_for(ceo_agent)
    calls: list[CallRecord] = []
    summary = ""
    if can_pay:
        try:
            summary = brain.summarize_goal(provider, ceo, title=title, results=results,
                                           calls=calls).summary
        except (StructuredOutputError, ModelError) as exc:
            log.warning("summary failed for goal %s: %s", goal_id, exc)
    if not summary:
        summary = "\n".join([f"**{title}** is complete.", "", *[f"- {r.title}" for r in results]])
    with tenant_session(account_id) as s:
        goal = goals.get_goal(s, aid, goal_id)
        if can_pay:
            add_goal_spend(s, goal.id, credits.settle(s, aid, key, sum(c.credits for c in calls),
                                                     refs=refs, reason="CEO agent: summary"))
        record_calls(s, account_id=account_id, goal_id=goal.id, task_id=None, calls=calls)
        if goal.status == GoalStatus.COMPLETING:
            transition_goal(s, goal, GoalStatus.COMPLETED, actor="ceo", reason="Goal complete.",
                            values={"summary": summary})


# --- recovery -----------------------------------------------------------------

@job
def recover_task(task_id: int, *, account_id: int) -> None:
    """Requeue a running task whose worker stopped renewing its lease (crash, kill); give
    back the hold of a card cancelled while it ran whose worker never finished."""
    aid = AccountId(account_id)
    with tenant_session(account_id) as s:
        credits.lock_account(s, aid)  # a finish in flight commits first; then the card is read
        task = goals.get_task(s, aid, task_id)
        if task.status == TaskStatus.CANCELLED:
            _release_abandoned(s, aid, task)
            return
        expired = task.lease_expires_at is not None and task.lease_expires_at < utcnow()
        if task.status != TaskStatus.RUNNING or not expired:
            return
        credits.release(s, aid, attempt_key(task.id, task.attempts), refs=refs_of(task),
                        reason="Released: the worker stopped before finishing")
        if task.attempts < get_settings().max_task_attempts:
            queue_task(s, task, actor="system", reason="The worker stopped responding; retrying.",
                       claim_token=task.claim_token)
        else:
            transition(s, task, TaskStatus.FAILED, actor="system", claim_token=task.claim_token,
                       reason="The worker stopped responding on every attempt. Retry when ready.",
                       values={"claim_token": None, "lease_expires_at": None})
        enqueue(s, "advance_goal", goal_id=task.goal_id, account_id=account_id)


def _abandoned_after() -> timedelta:
    """How long after its last lease a card cancelled while running may still be finished
    by its worker (which stops at the run's time limit whatever the pool)."""
    return timedelta(seconds=get_settings().task_soft_time_limit)


def _release_abandoned(s: Any, aid: AccountId, task: Task) -> None:
    """A card cancelled while it ran keeps its hold until its worker finishes (and pays for
    what it used); if the worker never does (it crashed), give the hold back."""
    lease = task.lease_expires_at
    if lease is None or lease + _abandoned_after() >= utcnow():
        return
    key = attempt_key(task.id, task.attempts)
    if not credits.is_settled(s, key):  # the worker did not settle it: give it all back
        credits.release(s, aid, key, refs=refs_of(task),
                        reason="Released: the card was cancelled while it ran and its worker "
                               "never finished")
        credits.schedule_resume(s, aid)  # a goal its credit cap paused may go on now
    s.execute(update(Task).where(Task.id == task.id).values(lease_expires_at=None)
              .execution_options(synchronize_session=False))


@job
def resume_account(*, account_id: int) -> None:
    """After a top-up or reactivation: unblock cards and paused goals, then carry on."""
    aid = AccountId(account_id)
    with tenant_session(account_id) as s:
        if not _account_active(s, account_id):
            return
        for goal in s.scalars(select(Goal).where(Goal.account_id == aid,
                                                 Goal.status == GoalStatus.PAUSED)).all():
            if caps.still_capped(s, goal) is not None:
                continue  # paused by a credit cap the owner has not raised
            has_plan = bool(goals.goal_tasks(s, aid, goal.id))
            to = GoalStatus.RUNNING if has_plan else GoalStatus.PLANNING
            transition_goal(s, goal, to, actor="system",
                            reason="Resumed: credits are available and no credit cap stops it.")
            enqueue(s, "advance_goal" if has_plan else "plan_goal", goal_id=goal.id,
                    account_id=account_id)
        blocked = s.scalars(select(Task).join(Goal, Goal.id == Task.goal_id).where(
            Task.account_id == aid, Task.status == TaskStatus.BLOCKED,
            Goal.status != GoalStatus.PAUSED)).unique().all()
        for task in blocked:
            transition(s, task, TaskStatus.PLANNED, actor="system",
                       reason="Credits are available again.")
            enqueue(s, "advance_goal", goal_id=task.goal_id, account_id=account_id)
        for task_id in s.scalars(select(Task.id).where(Task.account_id == aid,
                                                       Task.status == TaskStatus.QUEUED)):
            enqueue(s, "run_task", task_id=task_id, account_id=account_id)


def recover_after_restart() -> None:
    """Embedded mode only: one process owns all work, so at start-up every running
    task was orphaned by the previous process and every queued one lost its job."""
    now = utcnow()
    queue = get_queue()
    with system_session() as s:
        s.execute(update(Task).where(Task.status == TaskStatus.RUNNING)
                  .values(lease_expires_at=now - timedelta(seconds=1))
                  .execution_options(synchronize_session=False))
        queued = s.execute(select(Task.id, Task.account_id)
                           .where(Task.status == TaskStatus.QUEUED)).all()
    for task_id, account_id in queued:
        queue.submit("run_task", {"task_id": task_id, "account_id": account_id})


def _queue_backlog(queue: Any) -> int:
    """Messages waiting to be picked up (0 if the queue cannot tell)."""
    backlog = getattr(queue, "backlog", None)
    return int(backlog() or 0) if callable(backlog) else 0


@job
def sweep() -> None:
    """Find work that a crash or a lost broker message left behind, and send it again."""
    settings = get_settings()
    now = utcnow()
    stale = now - timedelta(seconds=settings.task_lease_seconds)
    queue = get_queue()
    with system_session() as s:
        expired = s.execute(select(Task.id, Task.account_id).where(or_(
            (Task.status == TaskStatus.RUNNING) & (Task.lease_expires_at < now),
            (Task.status == TaskStatus.CANCELLED)
            & (Task.lease_expires_at < now - _abandoned_after()))).limit(1000)).all()
        # While messages still wait in the queue, an old queued task may simply be behind
        # them (a backlog); re-sending it then would only pile up duplicates.
        lost = [] if _queue_backlog(queue) else s.execute(select(Task.id, Task.account_id).where(
            Task.status == TaskStatus.QUEUED, Task.queued_at < stale).limit(1000)).all()
        idle_goals = s.execute(select(Goal.id, Goal.account_id, Goal.status).where(
            Goal.status.in_([GoalStatus.PLANNING, GoalStatus.RUNNING, GoalStatus.COMPLETING]),
            Goal.updated_at < stale).limit(1000)).all()
        if idle_goals:  # look at each idle goal again only once per lease period
            s.execute(update(Goal).where(Goal.id.in_([g[0] for g in idle_goals]))
                      .values(updated_at=now).execution_options(synchronize_session=False))
    for task_id, account_id in expired:
        queue.submit("recover_task", {"task_id": task_id, "account_id": account_id})
    for task_id, account_id in lost:
        queue.submit("run_task", {"task_id": task_id, "account_id": account_id})
    names = {GoalStatus.PLANNING: "plan_goal", GoalStatus.RUNNING: "advance_goal",
             GoalStatus.COMPLETING: "finish_goal"}
    for goal_id, account_id, status in idle_goals:
        queue.submit(names[status], {"goal_id": goal_id, "account_id": account_id})


from web4os.workers import replan  # noqa: E402  (registers replan_goal; imports this module)
