"""One attempt of a card: claim it under a lease, let its specialist work and the CEO
agent review, then commit the charge, the history, the output and the next state in
one transaction. Idempotent: a redelivered job for a card that moved on does nothing."""

from __future__ import annotations

import functools
import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import String, bindparam, select, update
from sqlalchemy.orm import aliased, lazyload

from web4os.accounts.models import Account, AccountStatus
from web4os.agents import prompts
from web4os.agents.models import Agent
from web4os.agents.prompts import (
    Deliverable,
    FileDoc,
    ImageDoc,
    InputDoc,
    Review,
    TaskContext,
    brief_of,
)
from web4os.agents.providers import ModelError, provider_for, reads_images
from web4os.agents.providers.base import ToolCall
from web4os.agents.structured import CallRecord, StructuredOutputError, ToolBox
from web4os.agents.tools import ToolScope, tool_specs
from web4os.config import get_settings
from web4os.credits import service as credits
from web4os.db import utcnow
from web4os.errors import DomainError, InvalidInput, NotFound
from web4os.files import images, outputs
from web4os.files import service as files
from web4os.goals import service as goals
from web4os.goals import tool_steps
from web4os.goals.history import event_row, model_call_events, tool_run_event, write_events
from web4os.goals.leases import LEASES
from web4os.goals.models import Goal, GoalStatus, Task, TaskStatus
from web4os.goals.reasons import plain_reason, technical
from web4os.goals.scheduling import (
    advance_after_done,
    attempt_key,
    backoff,
    may_try_again,
    queue_task,
    refs_of,
)
from web4os.goals.statemachine import (
    FollowUp,
    StaleTransition,
    transition,
)
from web4os.goals.tools import context_tools, run_tool_call
from web4os.queue import enqueue
from web4os.tenancy import AccountId, in_account, tenant_session

log = logging.getLogger("web4os.jobs")



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


def _load_context(s: Any, task: Task, goal_title: str, goal_brief: str,
                  inputs: list[goals.Input], scope: ToolScope, prerun: bool,
                  history: list[dict[str, Any]]) -> tuple[TaskContext, int]:
    """The specialist's context: the goal, its files (its images too, for a model that reads
    them) and the relevant knowledge files, the card's inputs, plus what its tools find
    (metered; their events added to ``history``)."""
    runs = context_tools(s, scope, list(task.agent.tools or [])) if prerun else []
    history.extend(tool_run_event(task, run) for run in runs)
    found = {run.tool: run.result.lines for run in runs}
    about = " ".join((goal_title, goal_brief, task.title, task.instructions))
    ctx = TaskContext(goal_title=goal_title, goal_brief=goal_brief, task_title=task.title,
                      instructions=task.instructions,
                      inputs=[InputDoc(i.title, i.agent_name, i.output) for i in inputs],
                      notes=found.get("notes", []), feedback=task.feedback,
                      context=found.get("read_goal_outputs", []),
                      files=[FileDoc(f.name, f.source, f.text) for f in files.files_for_agents(
                          s, scope.account_id, scope.goal_id, about)],
                      images=[ImageDoc(i.name, i.data_url, i.reason) for i in images.images_for_agents(
                          s, scope.account_id, scope.goal_id, readable=reads_images(task.agent))])
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
class Outcome:
    deliverable: Deliverable | None = None
    review: Review | None = None
    error: Exception | None = None
    review_error: Exception | None = None  # the CEO agent's review failed: the operator decides
    tool_credits: int = 0  # tools the model called (function calling)
    waiting: str = ""  # a tool call waits for the operator: why
    files_used: list[str] = field(default_factory=list)  # files whose text the prompt had


def _toolbox(claim: Claim, account_id: int, outcome: Outcome) -> ToolBox | None:
    """The agent's tools as functions, each run in its own scoped, metered transaction."""
    scope = claim.tool_scope
    if scope is None:
        return None
    allowed = list(claim.agent.tools or [])
    aid = AccountId(account_id)
    mcp = tool_steps.mcp_functions(aid, claim.agent.id)

    def run(call: ToolCall) -> str:
        if call.name in mcp:
            spec, tool_id = mcp[call.name]
            try:
                text, price = tool_steps.run_function(aid, claim.task_id, tool_id,
                                                      call.arguments, spec.parameters)
            except DomainError as exc:
                return exc.message
            outcome.tool_credits += price
            return text
        with tenant_session(account_id) as s:
            task = goals.get_task(s, AccountId(account_id), claim.task_id)
            try:
                result = run_tool_call(s, scope, call, allowed)
            except InvalidInput as exc:
                return exc.message
            write_events(s, [tool_run_event(task, result)])
        outcome.tool_credits += result.credits
        return "\n\n".join(result.result.lines) or "(nothing found)"

    return ToolBox(tool_specs(allowed) + [spec for spec, _ in mcp.values()], run)


def run_task(task_id: int, *, account_id: int) -> None:
    """A specialist does one attempt of a task; the CEO agent reviews it."""
    claim = _claim(task_id, account_id)
    if claim is None:
        return
    calls: list[CallRecord] = []
    outcome = Outcome()
    with LEASES.hold(claim, account_id):
        try:
            # The structured action step, unless the endpoint calls functions instead.
            outcome.tool_credits += tool_steps.run_tool_steps(
                provider_for(claim.agent), brief_of(claim.agent), claim.agent.id,
                claim.context, calls, account_id=account_id, task_id=claim.task_id,
                steps=claim.tool_scope is None)
            outcome.deliverable = prompts.do_task(provider_for(claim.agent), brief_of(claim.agent),
                                                claim.context, calls,
                                                _toolbox(claim, account_id, outcome),
                                                used=outcome.files_used)
        except (StructuredOutputError, ModelError) as exc:
            outcome.error = exc
        except tool_steps.WaitForOperator as wait:
            outcome.waiting, outcome.tool_credits = wait.reason, outcome.tool_credits + wait.credits
        if outcome.deliverable is not None and claim.review_by_ceo:
            try:
                outcome.review = prompts.review_task(provider_for(claim.ceo), brief_of(claim.ceo),
                                                   claim.context, outcome.deliverable.deliverable,
                                                   calls)
            except (StructuredOutputError, ModelError) as exc:
                log.warning("CEO review failed for task %s: %s", task_id, exc)
                outcome.review_error = exc
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
        if task.finished_attempt >= claim.attempt:
            return  # this attempt's result is recorded already: a redelivery adds nothing
        charged = credits.settle(s, aid, key,
                                 sum(c.credits for c in calls) + claim.tool_credits
                                 + outcome.tool_credits,
                                 refs=refs_of(task),
                                 reason=f"“{task.title}” (attempt {claim.attempt})",
                                 held=int(held or 0))
        goal = goals.add_goal_spend(s, aid, task.goal_id, charged)
        history = model_call_events(account_id=account_id, goal_id=task.goal_id,
                                    task_id=task.id, calls=calls)
        if task.status != TaskStatus.RUNNING or task.claim_token != claim.token:
            if not _record_late(s, task, claim.attempt, charged):
                return  # a delivery of this attempt running alongside recorded it first
            if goal is not None and goal.status == GoalStatus.PAUSED:
                credits.schedule_resume(s, aid)  # what the late card held is free again
            history.append(event_row(
                account_id=account_id, goal_id=task.goal_id, task_id=task.id, kind="discarded",
                actor="system", message="A late result was discarded: the card had moved on."))
            write_events(s, history)
            return
        done = False
        spent = {"actual_credits": task.actual_credits + charged,
                 "finished_attempt": claim.attempt}
        if outcome.waiting:
            transition(s, task, TaskStatus.BLOCKED, actor=f"agent:{claim.agent.slug}",
                       reason=outcome.waiting, claim_token=claim.token,
                       values={"claim_token": None, "lease_expires_at": None,
                               "waits": task.waits + 1, **spent},
                       history=history)
        elif outcome.deliverable is not None:
            done = _deliver(s, task, claim, outcome, spent, history)
        else:
            _attempt_failed(s, task, claim, outcome.error, spent, history)
        if done and goal is not None and goal.status == GoalStatus.RUNNING:
            advance_after_done(s, task, goal, history)
        else:  # failures, send-backs and cards waiting for the operator: the full check
            write_events(s, history)
            enqueue(s, "advance_goal", goal_id=task.goal_id, account_id=account_id)


def _record_late(s: Any, task: Task, attempt: int, charged: int) -> bool:
    """Add a late result's charge to a card that moved on, once per attempt (guarded, so
    two deliveries of one attempt cannot both record it); False if it was already."""
    result = s.execute(update(Task).where(Task.id == task.id, Task.finished_attempt < attempt)
                       .values(actual_credits=Task.actual_credits + charged,
                               finished_attempt=attempt)
                       .execution_options(synchronize_session=False))
    return bool(result.rowcount == 1)


@functools.cache
def _finish_stmt() -> Any:
    """The card (its agent loaded on first use: a finish seldom needs it) and what this
    attempt's reservation holds, in one query."""
    return (select(Task, credits.hold_amount(bindparam("key", type_=String)))
            .options(lazyload(Task.agent))
            .where(in_account(Task), Task.id == bindparam("row_id")))


def _delivered_data(outcome: Outcome, made: outputs.Outputs) -> dict[str, Any] | None:
    """The history's details of a delivery: the files the prompt carried (the report cites
    them), the files the specialist made and those left out (with why), and why the CEO
    agent's review failed, if it did."""
    data: dict[str, Any] = {}
    if outcome.files_used:
        data["files"] = outcome.files_used
    if made.stored:
        data["output_files"] = made.stored
    if made.refused:
        data["output_files_refused"] = made.refused
    if outcome.review_error is not None:
        data["review_error"] = technical(outcome.review_error)
    return data or None


def _deliver(s: Any, task: Task, claim: Claim, outcome: Outcome, spent: dict[str, Any],
             history: list[dict[str, Any]]) -> bool:
    """Record the result, the files it drew on and the CEO agent's verdict; True if the
    card is now done."""
    result, review = outcome.deliverable, outcome.review
    assert result is not None
    made = outputs.save_outputs(s, AccountId(task.account_id), goal_id=task.goal_id,
                                task_id=task.id, files=[(f.name, f.content) for f in result.files])
    accepted = (FollowUp(TaskStatus.DONE, actor="ceo",
                     reason=review.feedback or "Accepted by the CEO agent.")
                if review is not None and review.verdict == "accept" else None)
    transition(s, task, TaskStatus.NEEDS_REVIEW, actor=f"agent:{claim.agent.slug}",
               reason=_waiting_reason(claim, result, outcome.review_error),
               claim_token=claim.token,
               values={"output": result.deliverable, "note": result.note,
                       "claim_token": None, "lease_expires_at": None, **spent},
               data=_delivered_data(outcome, made),
               history=history, then=accepted)
    if accepted is not None:
        return True
    if review is None:
        return False
    if may_try_again(task):
        write_events(s, history)  # in order, before the send-back's own events
        history.clear()
        queue_task(s, task, actor="ceo", reason=f"Sent back by the CEO agent: {review.feedback}",
                   values={"feedback": review.feedback})
    else:
        task.status_reason = (f"The CEO agent still has concerns after {task.tries} attempts "
                              f"({review.feedback}). Your call: approve or send it back.")
    return False


def _waiting_reason(claim: Claim, result: Deliverable, review_error: Exception | None) -> str:
    """Why the card waits, in web4os's words: the operator reads this, and a model's note
    alone (on a small model, often one word) does not say what is asked of them."""
    if review_error is not None:
        return (f"{plain_reason(review_error, 'The CEO agent')} It could not review this "
                "result, so it is yours to check: approve it or send it back.")
    if not claim.review_by_ceo:
        said = f" {claim.agent.name}'s note: {result.note}" if result.note else ""
        return f"Ready for your approval.{said}"
    return result.note or "Result ready for review."


def _attempt_failed(s: Any, task: Task, claim: Claim, error: Exception | None,
                    spent: dict[str, Any], history: list[dict[str, Any]]) -> None:
    limited = isinstance(error, ModelError) and error.status == 429  # slows, never fails
    if isinstance(error, ModelError) and error.retryable and (may_try_again(task) or limited):
        wait = (error.retry_after if limited and error.retry_after is not None
                else max(backoff(task.tries), error.retry_after or 0.0))
        write_events(s, history)
        history.clear()
        queue_task(s, task, actor="system", reason=f"{error} Retrying in {wait:.0f} s.",
                   countdown=wait, claim_token=claim.token, values=spent)
        return
    raw = getattr(error, "raw", "")
    transition(s, task, TaskStatus.FAILED, actor=f"agent:{claim.agent.slug}",
               reason=(f"{plain_reason(error, claim.agent.name)} Retry, edit the "
                       "instructions, or reassign the card."),
               data={"detail": technical(error)}, claim_token=claim.token,
               values={"output": raw, "claim_token": None, "lease_expires_at": None,
                       "note": "The model's raw answer is shown below." if raw else "", **spent},
               history=history)
