"""A model eval anyone can rerun: typical small-business goals, start to rest, on one endpoint.

By default it starts the bundled llama.cpp server with Gemma 3 270M (the ``dev`` extra),
with the README's settings (8,192 tokens of context shared by 4 slots), and runs each goal
through the product as an operator would (the CEO agent plans, specialists work, the CEO
agent reviews and sums up) in the embedded default. Any other endpoint:

    python -m bench.models                                   # local llama.cpp + Gemma 3 270M
    python -m bench.models --goals 3                         # the first three goals only
    python -m bench.models --parallel 5                      # five goals at a time
    python -m bench.models --base-url http://127.0.0.1:11434/v1 --model llama3.1:8b

Per goal it prints: planned?, cards, how the goal came to rest (completed, or waiting for
the operator and why), cards failed (and how many for a format reason), repairs used,
model calls, prompt and completion tokens, and wall time; then the completion rate: goals
that completed or wait for the operator with a plain message, with no card failed for a
format reason.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common as c

GOALS: tuple[tuple[str, str], ...] = (
    ("Launch a monthly newsletter for our bakery",
     "We sell bread and pastries in one shop; 800 customers gave us their email."),
    ("Plan a spring sale for our bike repair shop",
     "Two mechanics, a small shop front; sales dip in March."),
    ("Write a welcome pack for new cleaning staff",
     "A cleaning company with 12 staff working in offices at night."),
    ("Find three ways to get more bookings for our yoga studio",
     "Evening classes are full, morning classes are half empty."),
    ("Prepare a price list for a new catering menu",
     "A small café that starts catering office lunches for 10 to 40 people."),
    ("Draft a customer survey for our plumbing business",
     "We want to know why customers do not book a second time."),
    ("Plan a social media week for a flower shop",
     "Instagram and Facebook; Mother's Day is in three weeks."),
    ("Create an onboarding checklist for new clients of our bookkeeping firm",
     "Clients are small shops; we need their bank access, invoices and VAT numbers."),
    ("Write a short guide to our return policy for an online shoe store",
     "Returns within 30 days; customers often ask the same questions by email."),
    ("Plan the opening week of a second coffee shop",
     "The first shop is in the old town; the new one is near the university."),
)
AT_REST = ("completed", "failed", "paused", "cancelled")


@dataclass
class Result:
    goal: str
    status: str
    planned: bool
    cards: int
    failed: int
    format_failed: int
    repairs: int
    calls: int
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    reason: str
    waits_plainly: bool  # at rest, waiting for the operator, with web4os's own words

    @property
    def mechanically_done(self) -> bool:
        """Completed, or waiting for the operator with a plain message; no card failed
        because of the model's format."""
        if self.format_failed:
            return False
        return self.status == "completed" or self.waits_plainly


@contextmanager
def _local_server(ctx: int, slots: int) -> Iterator[str]:
    from web4os.localmodel import llama_available, running_llama_server

    ok, reason = llama_available()
    if not ok:
        raise SystemExit(f"no local model: {reason}")
    with running_llama_server(n_ctx=ctx, parallel=slots, threads=os.cpu_count() or 2) as url:
        yield url


def _collect(goal_id: int, seconds: float) -> Result:
    from sqlalchemy import select

    from web4os.db import session_factory
    from web4os.goals.models import Goal, GoalStatus, Task, TaskEvent, TaskStatus
    from web4os.goals.statemachine import WAITING_ON_OPERATOR

    with session_factory(immediate=False)() as s:
        goal = s.get(Goal, goal_id)
        assert goal is not None
        tasks = list(s.scalars(select(Task).where(Task.goal_id == goal_id)))
        events = list(s.scalars(select(TaskEvent).where(TaskEvent.goal_id == goal_id)))
    calls = [e for e in events if e.kind == "model_call"]
    failed = [t for t in tasks if t.status == TaskStatus.FAILED]
    waiting = [t for t in tasks if t.status in WAITING_ON_OPERATOR]
    format_words = ("not valid", "json", "schema", "format")
    return Result(
        goal=goal.title, status=goal.status.value, planned=bool(tasks), cards=len(tasks),
        failed=len(failed),
        format_failed=sum(any(w in (t.status_reason or "").lower() for w in format_words)
                          for t in failed),
        repairs=sum(bool((e.data or {}).get("repair")) for e in calls)
        + sum(e.kind.startswith("repair") for e in events),
        calls=len(calls),
        prompt_tokens=sum(int((e.data or {}).get("prompt_tokens") or 0) for e in calls),
        completion_tokens=sum(int((e.data or {}).get("completion_tokens") or 0) for e in calls),
        seconds=seconds,
        reason=_reason(goal, waiting),
        waits_plainly=(bool(waiting) or goal.status == GoalStatus.FAILED)
        and all(_plain(t) for t in waiting),
    )


def _reason(goal: Any, waiting: list[Any]) -> str:
    if goal.status.value == "completed":
        return ""
    if waiting:
        return "; ".join(f"card “{t.title}” ({t.status.value}): {t.status_reason}"
                         for t in waiting)
    return str(goal.status_reason)


def _plain(card: Any) -> bool:
    """The card says why it waits in web4os's words, not with the model's own text (a card
    that asks for the operator's approval by design shows the agent's note)."""
    said = (card.status_reason or "").strip()
    if card.requires_approval and card.status.value == "needs_review":
        return True
    return bool(said) and said not in {(card.output or "").strip(), (card.note or "").strip()}


def _submit(title: str, brief: str) -> int:
    from web4os.db import session_factory
    from web4os.goals.schemas import GoalCreate
    from web4os.goals.service import create_goal
    from web4os.tenancy import AccountId, TenantContext, bind_account

    account_id, user_id = c.make_account()
    aid = AccountId(account_id)
    ctx = TenantContext(account_id=aid, user_id=user_id, role="owner", actor="bench")
    with session_factory()() as s:
        bind_account(s, aid)
        goal_id = create_goal(s, ctx, GoalCreate(title=title, brief=brief)).id
        s.commit()
    return goal_id


def _rested_at(goal_id: int) -> float:
    """When the goal last changed (monotonic clock of the run is not in the database)."""
    from sqlalchemy import func, select

    from web4os.db import session_factory
    from web4os.goals.models import TaskEvent

    with session_factory(immediate=False)() as s:
        last = s.scalar(select(func.max(TaskEvent.created_at))
                        .where(TaskEvent.goal_id == goal_id))
    return last.timestamp() if last else time.time()


def _run(goals: list[tuple[str, str]], timeout: float, parallel: int) -> list[Result]:
    """Goals in batches of ``parallel`` (1: one after another); each batch runs to rest."""
    runner = c.embedded_runner()
    results = []
    for first in range(0, len(goals), parallel):
        batch = goals[first:first + parallel]
        started = time.time()
        ids = [_submit(title, brief) for title, brief in batch]
        if not runner.wait_idle(timeout):
            print(f"  (goals {ids} still had work after {timeout:.0f} s)", flush=True)
        for goal_id in ids:
            result = _collect(goal_id, _rested_at(goal_id) - started)
            results.append(result)
            print(f"  {result.status:<10} {result.cards:>2} cards  {result.seconds:6.1f} s  "
                  f"{result.goal}", flush=True)
    runner.shutdown(wait=False)
    return results


def _print(results: list[Result]) -> None:
    c.print_table(
        ["goal", "planned", "cards", "status", "failed (format)", "repairs", "calls",
         "tokens in/out", "wall s"],
        [[r.goal[:44], "yes" if r.planned else "no", r.cards, r.status,
          f"{r.failed} ({r.format_failed})", r.repairs, r.calls,
          f"{r.prompt_tokens}/{r.completion_tokens}", f"{r.seconds:.1f}"] for r in results])
    for r in results:
        if r.reason:
            print(f"- {r.goal}: {r.status}: {r.reason}")
    done = sum(r.mechanically_done for r in results)
    completed = sum(r.status == "completed" for r in results)
    print(f"\nmechanically done: {done} of {len(results)} "
          f"(completed {completed}; the rest wait for the operator with a plain message)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--base-url", default="", help="an OpenAI-compatible endpoint "
                        "(default: start the bundled llama.cpp server)")
    parser.add_argument("--model", default="", help="model name (default: the server's)")
    parser.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY", "not-needed"))
    parser.add_argument("--goals", type=int, default=len(GOALS), help="how many of the goals")
    parser.add_argument("--ctx", type=int, default=8192, help="local server: context tokens")
    parser.add_argument("--slots", type=int, default=4, help="local server: slots")
    parser.add_argument("--parallel", type=int, default=1,
                        help="goals submitted together (the local server has --slots slots)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per batch")
    args = parser.parse_args(argv)

    c.configure("embedded")
    # A CPU model answers in minutes once requests queue for its slots: a card's run must
    # not outlive its lease meanwhile (the sweeper would run it again).
    os.environ.setdefault("WEB4OS_MODEL_TIMEOUT_SECONDS", "1200")
    os.environ.setdefault("WEB4OS_TASK_SOFT_TIME_LIMIT", "3600")
    from web4os.localmodel import MODEL_ALIAS

    server: Any = (nullcontext(args.base_url) if args.base_url
                   else _local_server(args.ctx, args.slots))
    with server as base_url:
        os.environ.update(WEB4OS_OPENAI_BASE_URL=base_url, WEB4OS_OPENAI_API_KEY=args.api_key,
                          WEB4OS_OPENAI_MODEL=args.model or MODEL_ALIAS)
        from web4os.config import get_settings

        get_settings.cache_clear()
        print(f"# bench.models — {base_url} · model {get_settings().openai_model} · "
              f"{args.goals} goals · {c.machine()}", flush=True)
        results = _run(list(GOALS[: args.goals]), args.timeout, max(1, args.parallel))
    _print(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
