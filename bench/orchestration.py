"""Orchestration overhead: one goal of 50 tasks (a DAG with parallel branches and joins) on
the offline model at zero latency, in the embedded default and on Celery + Redis + Postgres.

Prints wall time per goal, tasks/s and per-task overheads (p50/p99) read back from the
persisted timestamps and model-call events, after one untimed warm-up goal per mode:

- dispatch:  queued_at → started_at (the queue and a worker picking the task up)
- ready→run: the last input finished (or the goal started) → started_at
- run-model: started_at → finished_at minus the model calls' own latency

    python -m bench.orchestration            # 50 tasks, 3 goals per mode, both modes
    python -m bench.orchestration --quick    # 12 tasks, 1 goal per mode
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common as c


def run_mode(mode: str, tasks: int, goals: int, workers: int,
             processes: int = 1) -> list[list[object]]:
    c.configure(mode)
    c.install_model(0.0)
    if mode == "embedded":
        from web4os.queue import set_queue

        runner = c.embedded_runner(workers)
        try:
            return _measure(mode, tasks, goals)
        finally:
            runner.shutdown(wait=True)
            set_queue(None)
    with c.celery_worker(concurrency=workers, processes=processes):
        return _measure(mode, tasks, goals)


def _measure(mode: str, tasks: int, goals: int) -> list[list[object]]:
    account_id, user_id = c.make_account()
    warm = c.start_planned_goal(account_id, user_id, c.diamond_plan(tasks), "Warm-up goal")
    c.wait_goal(warm)  # untimed: imports, compiled statements and connections come first
    rows: list[list[object]] = []
    walls: list[float] = []
    times = c.TaskTimes([], [], [], [])
    for i in range(goals):
        plan = c.diamond_plan(tasks)
        started = time.time()
        goal_id = c.start_planned_goal(account_id, user_id, plan, f"Bench goal {i + 1}")
        status, wall = c.wait_goal_timed(goal_id, started)
        if status != "completed":
            raise SystemExit(f"{mode}: goal {goal_id} ended {status}")
        walls.append(wall)
        t = c.task_times(goal_id)
        for name in ("dispatch", "ready_to_running", "run_overhead", "model"):
            getattr(times, name).extend(getattr(t, name))
    ms = 1000.0
    rows.append([mode, len(plan.tasks), goals, c.mean(walls), len(plan.tasks) / c.mean(walls),
                 c.pct(times.dispatch, 50) * ms, c.pct(times.dispatch, 99) * ms,
                 c.pct(times.ready_to_running, 50) * ms, c.pct(times.ready_to_running, 99) * ms,
                 c.pct(times.run_overhead, 50) * ms, c.pct(times.run_overhead, 99) * ms])
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: 12 tasks, 1 goal per mode")
    p.add_argument("--tasks", type=int, default=50)
    p.add_argument("--goals", type=int, default=3, help="goals run one after another per mode")
    p.add_argument("--modes", default="embedded,celery")
    p.add_argument("--workers", type=int, default=16,
                   help="embedded threads / Celery worker concurrency")
    p.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                   help="Celery worker processes (default: one per CPU)")
    args = p.parse_args(argv)
    if args.quick:
        args.tasks, args.goals = 12, 1
    rows: list[list[object]] = []
    for mode in args.modes.split(","):
        if mode == "celery" and (missing := c.services_up()):
            print(f"celery mode skipped: {missing}")
            continue
        rows += run_mode(mode, args.tasks, args.goals, args.workers, args.processes)
    print(f"\norchestration · offline model at 0 s · Celery worker processes: "
          f"{args.processes} · {c.machine()}")
    c.print_table(["mode", "tasks", "goals", "wall s/goal", "tasks/s", "dispatch p50 ms",
                   "dispatch p99 ms", "ready→run p50 ms", "ready→run p99 ms",
                   "run-model p50 ms", "run-model p99 ms"], rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
