"""Concurrency for slow models: 100 independent tasks, the offline model at 1 s per call.

Each task makes two model calls (the specialist's work, then the CEO agent's review),
so run one after another they would take 200 s. Prints the wall time until every
task is done and until the goal is closed (its summary is one more 1 s call), in the
embedded default (SQLite, in-process threads) and on Celery (one ``web4os worker``
process with its default threads pool, Redis, Postgres). The issue asks < 10 s.

    python -m bench.parallel                       # both modes, 100 tasks, 1 s latency
    python -m bench.parallel --mode celery --tasks 200 --latency 0.5 --concurrency 128
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common as c

PG_URL = os.environ.get("WEB4OS_BENCH_POSTGRES_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/web4os_bench_parallel")
REDIS_URL = os.environ.get("WEB4OS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")


def _all_done_at(goal_id: int) -> float:
    """Seconds since the epoch when the last task finished."""
    from sqlalchemy import func, select

    from web4os.db import session_factory
    from web4os.goals.models import Task

    with session_factory(immediate=False)() as s:
        last = s.scalar(select(func.max(Task.finished_at)).where(Task.goal_id == goal_id))
    return last.timestamp() if last else float("nan")


def _run_goal(tasks: int) -> tuple[float, float]:
    account_id, user_id = c.make_account()
    plan = c.layered_plan(1, tasks)
    started = time.time()
    goal_id = c.start_planned_goal(account_id, user_id, plan, f"{tasks} independent tasks")
    status = c.wait_goal(goal_id, timeout=600)
    closed = time.time() - started
    if status != "completed":
        raise SystemExit(f"goal {goal_id} ended {status}")
    return _all_done_at(goal_id) - started, closed


def run_embedded(tasks: int, concurrency: int | None) -> tuple[float, float, int]:
    c.configure("embedded")
    from web4os.config import get_settings
    from web4os.queue import set_queue

    threads = concurrency or get_settings().embedded_workers
    runner = c.embedded_runner(threads)
    try:
        done, closed = _run_goal(tasks)
    finally:
        runner.shutdown(wait=True)
        set_queue(None)
    return done, closed, threads


def run_celery(tasks: int, concurrency: int | None) -> tuple[float, float, int]:
    from tests.support.celery_worker import CeleryStack

    missing = c.services_up(PG_URL, REDIS_URL)
    if missing:
        raise SystemExit(f"celery mode needs Postgres and Redis: {missing}")
    c.configure("celery", pg_url=PG_URL, redis_url=REDIS_URL)
    from web4os.config import get_settings
    from web4os.queue import set_queue
    from web4os.workers.celery_app import CeleryQueue, make_celery

    threads = concurrency or get_settings().worker_concurrency
    stack = CeleryStack(PG_URL, REDIS_URL, Path(tempfile.mkdtemp(prefix="web4os-bench-")),
                        env={})  # production housekeeping intervals
    stack.flush_redis()
    set_queue(CeleryQueue(make_celery(REDIS_URL)))
    latency = os.environ["WEB4OS_OFFLINE_LATENCY_SECONDS"]
    try:
        with stack.worker(concurrency=threads, env={"WEB4OS_OFFLINE_LATENCY_SECONDS": latency}):
            done, closed = _run_goal(tasks)
    finally:
        set_queue(None)
        stack.flush_redis()
    return done, closed, threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("both", "embedded", "celery"), default="both")
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per model call")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="threads (default: the settings' default for each mode)")
    args = parser.parse_args()
    os.environ["WEB4OS_OFFLINE_LATENCY_SECONDS"] = str(args.latency)
    serial = args.tasks * 2 * args.latency
    print(f"{args.tasks} independent tasks, offline model at {args.latency:g} s per call "
          f"(2 calls per task: {serial:.0f} s if run one at a time) — {c.machine()}")
    rows = []
    modes = ("embedded", "celery") if args.mode == "both" else (args.mode,)
    for mode in modes:
        run = run_embedded if mode == "embedded" else run_celery
        done, closed, threads = run(args.tasks, args.concurrency)
        rows.append([mode, threads, f"{done:.2f}", f"{closed:.2f}", f"{serial / done:.0f}x",
                     "yes" if done < 10 else "no"])
    c.print_table(["mode", "threads", "all tasks done (s)", "goal closed (s)", "speed-up",
                   "< 10 s"], rows)


if __name__ == "__main__":
    main()
