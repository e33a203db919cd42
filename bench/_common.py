"""Shared set-up for the bench scripts: a throw-away database, an account, layered plans,
a latency-controlled model, a real Celery worker process, and percentile tables.

Import this module *before* anything from ``web4os``: ``configure()`` writes the
``WEB4OS_*`` environment the settings are read from.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/web4os_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/8"
BIG_GRANT = 10_000_000


# --- environment ----------------------------------------------------------------

def configure(mode: str, *, pg_url: str = DEFAULT_PG, redis_url: str = DEFAULT_REDIS,
              fresh: bool = True) -> str:
    """Point web4os at a fresh database for ``mode`` ("embedded" or "celery"); return its URL.

    embedded: a SQLite file in a temp dir and the in-process runner (the default install).
    celery:   Postgres (schema dropped and rebuilt by the migrations) and Redis.
    """
    if mode == "embedded":
        tmp = Path(tempfile.mkdtemp(prefix="web4os-bench-"))
        url = f"sqlite:///{tmp / 'bench.sqlite3'}"
        os.environ.update(WEB4OS_DATA_DIR=str(tmp), WEB4OS_DISPATCH="embedded")
    elif mode == "celery":
        url = pg_url
        os.environ.update(WEB4OS_DISPATCH="celery", WEB4OS_BROKER_URL=redis_url)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    os.environ["WEB4OS_DATABASE_URL"] = url
    os.environ["WEB4OS_MAX_PLAN_TASKS"] = "200"
    for key in ("WEB4OS_OPENAI_BASE_URL", "WEB4OS_OPENAI_API_KEY"):
        os.environ.pop(key, None)
    from web4os.config import get_settings
    from web4os.db import dispose_engines
    from web4os.queue import set_queue

    get_settings.cache_clear()
    dispose_engines()
    set_queue(None)
    if fresh:
        if mode == "celery":
            from tests.support.celery_worker import reset_postgres

            reset_postgres(url)  # an empty schema, then the migrations
        else:
            from web4os.migrate import upgrade

            upgrade(url)
    if mode == "celery":
        # This process sends jobs to the broker. The queue is installed at start-up, as the
        # CLI and the app do (`get_queue()` no longer makes one on first use).
        from web4os.workers import install_queue

        install_queue()
    return url


def embedded_runner(workers: int | None = None) -> Any:
    """The in-process runner as ``web4os serve`` starts it: its sweeper thread runs too
    (it also checkpoints SQLite's log in the background), installed as the queue, and
    what start-up allocated is frozen out of the garbage collector's sight, as the app's
    start-up does (``web4os.gc_freeze``; once per process)."""
    from web4os.config import get_settings
    from web4os.gc_freeze import freeze_startup_objects
    from web4os.queue import set_queue
    from web4os.workers.embedded import EmbeddedRunner

    freeze_startup_objects()

    runner = EmbeddedRunner(workers, sweep_interval=get_settings().sweep_interval_seconds)
    runner.start_sweeper()
    set_queue(runner)
    return runner


def services_up(pg_url: str = DEFAULT_PG, redis_url: str = DEFAULT_REDIS) -> str:
    """'' when Postgres and Redis answer, else what is missing (Celery mode needs both)."""
    from tests.support.celery_worker import reachable

    return reachable(pg_url, redis_url)


# --- accounts and plans -----------------------------------------------------------

def make_account(name: str = "Bench Bakery") -> tuple[int, int]:
    """An account with the default roster, an owner and plenty of credits: (account_id, user_id)."""
    from web4os.accounts import service as accounts
    from web4os.accounts.models import AccountKind, Membership, Role
    from web4os.db import session_factory
    from web4os.onboarding.service import create_account

    with session_factory()() as s:
        account = create_account(s, name=name, kind=AccountKind.INDIVIDUAL,
                                 credit_grant=BIG_GRANT, actor="bench")
        user = accounts.create_user(s, f"owner{account.id}@bench.example", "bench password 123",
                                    display_name="Bench owner")
        s.add(Membership(account_id=account.id, user_id=user.id, role=Role.OWNER))
        s.commit()
        return account.id, user.id


def layered_plan(layers: int, width: int, *, fan_in: str = "all") -> Any:
    """``layers`` x ``width`` tasks; each task depends on the whole previous layer
    (``fan_in="all"``) or on its column's task in it (``"column"``: parallel chains)."""
    from web4os.goals.schemas import Plan, PlannedTask

    agents = ("researcher", "writer", "analyst", "marketer", "operations")
    tasks = []
    for i in range(layers):
        for j in range(width):
            if i == 0:
                deps: list[str] = []
            elif fan_in == "all":
                deps = [f"l{i - 1}t{k}" for k in range(width)]
            else:
                deps = [f"l{i - 1}t{j}"]
            tasks.append(PlannedTask(key=f"l{i}t{j}", title=f"Layer {i + 1}, part {j + 1}",
                                     agent=agents[(i + j) % len(agents)],
                                     instructions=f"Do part {j + 1} of layer {i + 1}.",
                                     depends_on=deps, estimated_credits=2))
    return Plan(rationale=f"{layers} layers of {width} tasks", tasks=tasks)


def diamond_plan(n: int) -> Any:
    """A 50-task style DAG with parallel branches and joins: a root, ``n - 2`` middle tasks
    in chains of varying length that fan out from it, and a final join."""
    from web4os.goals.schemas import Plan, PlannedTask

    agents = ("researcher", "writer", "analyst", "marketer", "operations")
    tasks = [PlannedTask(key="root", title="Kick-off", agent="analyst", instructions="Start.",
                         depends_on=[], estimated_credits=2)]
    middle = n - 2
    keys: list[str] = []
    for i in range(middle):
        # every fifth task is a join of the two before it; others hang off root or a sibling
        if i % 5 == 4:
            deps = [keys[-1], keys[-2]]
        elif i % 5 in (2, 3):
            deps = [keys[-2]]
        else:
            deps = ["root"]
        key = f"t{i}"
        keys.append(key)
        tasks.append(PlannedTask(key=key, title=f"Branch task {i + 1}", agent=agents[i % 5],
                                 instructions=f"Work item {i + 1}.", depends_on=deps,
                                 estimated_credits=2))
    sinks = [k for k in keys if not any(k in t.depends_on for t in tasks)]
    tasks.append(PlannedTask(key="wrapup", title="Wrap-up", agent="writer", instructions="Join.",
                             depends_on=sinks, estimated_credits=2))
    return Plan(rationale=f"{n}-task DAG with parallel branches", tasks=tasks)


def start_planned_goal(account_id: int, user_id: int, plan: Any, title: str) -> int:
    """Save ``plan`` on a new running goal and enqueue ``advance_goal`` (after commit)."""
    from web4os.agents import service as agents
    from web4os.db import session_factory
    from web4os.goals.models import GoalStatus
    from web4os.goals.schemas import GoalCreate
    from web4os.goals.service import record_goal, save_plan
    from web4os.goals.statemachine import transition_goal
    from web4os.queue import enqueue
    from web4os.tenancy import AccountId, TenantContext, bind_account

    aid = AccountId(account_id)
    ctx = TenantContext(account_id=aid, user_id=user_id, role="owner", actor="bench")
    with session_factory()() as s:
        bind_account(s, aid)
        goal = record_goal(s, ctx, GoalCreate(title=title))
        save_plan(s, goal, plan, agents.list_agents(s, aid), max_tasks=200)
        transition_goal(s, goal, GoalStatus.RUNNING, actor="bench")
        enqueue(s, "advance_goal", goal_id=goal.id, account_id=account_id)
        s.commit()
        return goal.id


def submit_goal(account_id: int, user_id: int, title: str) -> int:
    """A new goal the CEO agent must plan (the ``plan_goal`` job is enqueued after commit)."""
    from web4os.db import session_factory
    from web4os.goals.schemas import GoalCreate
    from web4os.goals.service import create_goal
    from web4os.tenancy import AccountId, TenantContext, bind_account

    aid = AccountId(account_id)
    ctx = TenantContext(account_id=aid, user_id=user_id, role="owner", actor="bench")
    with session_factory()() as s:
        bind_account(s, aid)
        goal = create_goal(s, ctx, GoalCreate(title=title))
        s.commit()
        return goal.id


def wait_goal_timed(goal_id: int, started: float, timeout: float = 600.0) -> tuple[str, float]:
    """Wait for the goal to end; return its status and its wall time: from ``started``
    (a ``time.time()`` taken before submitting) to the ``completed_at`` the worker
    committed. Read off the database, the figure does not depend on how often this
    process polls, so it polls gently (every 50 ms). In embedded mode it does not poll
    at all: it waits until the in-process runner has no job left, then reads the goal.
    A poller there shares the workers' process and GIL, and took about 5 % of the GIL
    from the work measured at 0 s latency.
    """
    from sqlalchemy import select

    from web4os.db import session_factory
    from web4os.goals.models import Goal
    from web4os.queue import get_queue
    from web4os.workers.embedded import EmbeddedRunner

    runner = get_queue()
    if isinstance(runner, EmbeddedRunner) and not runner.wait_idle(timeout):
        raise SystemExit(f"goal {goal_id}: jobs still pending after {timeout:.0f} s")
    status = wait_goal(goal_id, timeout, poll=0.05)
    with session_factory(immediate=False)() as s:
        done = s.scalar(select(Goal.completed_at).where(Goal.id == goal_id))
    return status, (done.timestamp() - started) if done else time.time() - started


def wait_goal(goal_id: int, timeout: float = 600.0, poll: float = 0.005) -> str:
    """Poll until the goal is completed/failed/cancelled; return its status."""
    from web4os.db import session_factory
    from web4os.goals.models import Goal

    deadline = time.monotonic() + timeout
    factory = session_factory(immediate=False)
    while time.monotonic() < deadline:
        with factory() as s:
            status = s.get(Goal, goal_id).status.value  # type: ignore[union-attr]
        if status in ("completed", "failed", "cancelled"):
            return status
        time.sleep(poll)
    raise SystemExit(f"goal {goal_id} did not finish within {timeout:.0f} s")


# --- the model --------------------------------------------------------------------

def _waiting() -> Any:
    """``web4os.turns.waiting()``; a no-op on checkouts older than it (before/after runs)."""
    try:
        from web4os.turns import waiting
    except ImportError:
        return contextlib.nullcontext()
    return waiting()


class BenchModel:
    """The offline model with a fixed latency on chosen purposes, optionally answering
    ``plan`` requests with a scripted plan (the counterpart of AutoGen's replay client)."""

    label = "Offline model (bench)"
    offline = True

    def __init__(self, latency: float, slow: Sequence[str] = ("task",),
                 plan_json: str | None = None) -> None:
        from web4os.agents.providers import OfflineModel

        self.latency, self.slow, self.plan_json = latency, set(slow), plan_json
        self.inner = OfflineModel(latency_seconds=0.0)

    def complete(self, request: Any) -> Any:
        from dataclasses import replace

        started = time.perf_counter()
        if self.latency and request.purpose in self.slow:
            with _waiting():  # as a real endpoint's wait (the runners' turns)
                time.sleep(self.latency)
        if request.purpose == "plan" and self.plan_json is not None:
            from web4os.agents.providers import ModelReply
            from web4os.agents.providers.offline import OFFLINE_MODEL_NAME

            reply = ModelReply(content=self.plan_json, model=OFFLINE_MODEL_NAME, prompt_tokens=100,
                               completion_tokens=len(self.plan_json) // 4, latency_ms=0,
                               offline=True)
        else:
            reply = self.inner.complete(request)
        return replace(reply, latency_ms=int((time.perf_counter() - started) * 1000))


def install_model(latency: float, slow: Sequence[str] = ("task",), plan: Any = None) -> None:
    """Use :class:`BenchModel` in this process, and tell Celery workers started later."""
    from web4os.agents.providers import set_provider_override

    plan_json = plan.model_dump_json() if plan is not None else None
    set_provider_override(BenchModel(latency, slow, plan_json))
    os.environ["BENCH_LATENCY"] = str(latency)
    os.environ["BENCH_SLOW"] = ",".join(slow)
    if plan_json is not None:
        path = Path(tempfile.mkdtemp(prefix="web4os-bench-plan-")) / "plan.json"
        path.write_text(plan_json)
        os.environ["BENCH_PLAN_FILE"] = str(path)
    else:
        os.environ.pop("BENCH_PLAN_FILE", None)


def install_model_from_env() -> None:
    """The Celery worker side of :func:`install_model`."""
    from web4os.agents.providers import set_provider_override

    plan_file = os.environ.get("BENCH_PLAN_FILE")
    plan_json = Path(plan_file).read_text() if plan_file else None
    slow = [p for p in os.environ.get("BENCH_SLOW", "task").split(",") if p]
    set_provider_override(BenchModel(float(os.environ.get("BENCH_LATENCY", "0")), slow, plan_json))


# --- real Celery workers ------------------------------------------------------------

@contextmanager
def celery_worker(concurrency: int = 32, redis_url: str = DEFAULT_REDIS,
                  processes: int = 1) -> Iterator[None]:
    """``processes`` real ``web4os worker`` subprocesses (``concurrency`` jobs each, on
    the pool ``WEB4OS_BENCH_POOL`` names, else the default gevent) on this process's
    database and the bench's model, as production runs them (``docker compose up --scale
    worker=N``). The broker's db is flushed first.
    """
    from tests.support.celery_worker import CeleryStack
    from web4os.config import get_settings

    stack = CeleryStack(get_settings().resolved_database_url, redis_url,
                        Path(tempfile.mkdtemp(prefix="web4os-bench-worker-")), env={},
                        command=[sys.executable, "-m", "bench._worker"])
    stack.flush_redis()
    try:
        for _ in range(processes):
            stack.start_worker(concurrency=concurrency,
                               pool=os.environ.get("WEB4OS_BENCH_POOL") or None)
        yield
    finally:
        for worker in stack.workers:
            worker.stop()


# --- figures ---------------------------------------------------------------------

def pct(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank), 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


@dataclass
class TaskTimes:
    """Per-task overheads (seconds) read back from the persisted rows and events."""

    dispatch: list[float]        # queued_at → started_at
    ready_to_running: list[float]  # last input done (or goal start) → started_at
    run_overhead: list[float]    # started_at → finished_at minus the model calls' latency
    model: list[float]           # model latency per task, from the model_call events


def task_times(goal_id: int) -> TaskTimes:
    from sqlalchemy import select

    from web4os.db import session_factory
    from web4os.goals.models import Goal, Task, TaskDependency, TaskEvent

    with session_factory(immediate=False)() as s:
        goal = s.get(Goal, goal_id)
        assert goal is not None
        tasks = {t.id: t for t in s.scalars(select(Task).where(Task.goal_id == goal_id)).unique()}
        deps: dict[int, list[int]] = {}
        for task_id, dep in s.execute(select(TaskDependency.task_id, TaskDependency.depends_on_id)
                                      .where(TaskDependency.goal_id == goal_id)):
            deps.setdefault(task_id, []).append(dep)
        model_ms: dict[int, int] = {}
        for task_id, data in s.execute(select(TaskEvent.task_id, TaskEvent.data).where(
                TaskEvent.goal_id == goal_id, TaskEvent.kind == "model_call")):
            if task_id is not None:
                model_ms[task_id] = model_ms.get(task_id, 0) + int(data.get("latency_ms", 0))
        running_at = min((t.queued_at for t in tasks.values() if t.queued_at), default=None)
    out = TaskTimes([], [], [], [])
    for t in tasks.values():
        if not (t.queued_at and t.started_at and t.finished_at):
            continue
        out.dispatch.append((t.started_at - t.queued_at).total_seconds())
        parents = [f for d in deps.get(t.id, []) if (f := tasks[d].finished_at) is not None]
        ready = max(parents) if parents else running_at
        if ready is not None:
            out.ready_to_running.append(max(0.0, (t.started_at - ready).total_seconds()))
        model = model_ms.get(t.id, 0) / 1000
        out.model.append(model)
        out.run_overhead.append((t.finished_at - t.started_at).total_seconds() - model)
    return out


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain fixed-width table (copy-pastes into Markdown with little editing)."""
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells:
        print("| " + " | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) + " |")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def machine() -> str:
    """One line about where the figures came from, with the machine's Python speed
    (``python_speed``): figures from two machines compare only through it."""
    import platform

    cpus = os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{platform.node()} · {platform.processor() or platform.machine()} · {cpus} CPUs · "
            f"load {load:.1f} · Python {platform.python_version()} · "
            f"Python speed {python_speed():.1f} M loop steps/s")


def python_speed(steps: int = 2_000_000) -> float:
    """Millions of steps per second of a plain interpreter loop (best of three): one
    core's speed at the kind of work a worker does between database round trips. VMs
    sold as the same size differ on it, and the dispatch figures follow."""
    best = float("inf")
    for _ in range(3):
        start, total = time.perf_counter(), 0
        for i in range(steps):
            total += i
        best = min(best, time.perf_counter() - start)
    return steps / best / 1e6


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=str)


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0
