"""The same plan run by AutoGen AgentChat's GraphFlow and by web4os, at the same model latency.

The plan: a CEO step fanning out to a DAG of 5 layers x 10 tasks, each task depending on
the whole previous layer. Critical path: 6 model calls in a row (CEO + one per layer).

- AutoGen: 51 ``AssistantAgent`` nodes in a ``DiGraphBuilder`` graph run by ``GraphFlow``;
  each agent's model is a ``ReplayChatCompletionClient`` that sleeps ``L`` before answering.
  Nothing is persisted.
- web4os: a goal submitted for planning; the CEO agent's plan call returns the scripted
  5 x 10 plan, specialists run on the offline model. Every state change, model call and
  credit movement is committed to the database.

Same number of slow calls: ``L`` is applied to web4os's *plan* call and to each *task*
(specialist) call — 51 calls, like AutoGen's 51. web4os also makes a CEO *review* call per
task and a *summary* call at the end; those run at 0 s by default (``--slow plan,task,review``
makes them slow too, and moves the critical path to 11 calls + the summary).

    python -m bench.vs_autogen            # 5 x 10, at 0 s and 1 s, embedded + celery
    python -m bench.vs_autogen --quick    # 3 x 4 at 0 s and 0.2 s
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common as c


def autogen_available() -> str:
    """'' if GraphFlow and the replay client import, else why not."""
    try:
        from autogen_agentchat.teams import DiGraphBuilder, GraphFlow  # noqa: F401
        from autogen_ext.models.replay import ReplayChatCompletionClient  # noqa: F401
    except ImportError as exc:
        return f"{exc} (install the extra: pip install -e '.[bench]')"
    return ""


def run_autogen(layers: int, width: int, latency: float, repeats: int = 1) -> tuple[float, int]:
    """Median wall seconds of ``GraphFlow.run`` over ``repeats`` runs (after one untimed
    warm-up run of a small graph), and the number of model calls a run made."""
    from autogen_agentchat.agents import AssistantAgent
    from autogen_agentchat.messages import TextMessage
    from autogen_agentchat.teams import DiGraphBuilder, GraphFlow
    from autogen_ext.models.replay import ReplayChatCompletionClient

    class SlowReplay(ReplayChatCompletionClient):
        """The replay client with a fixed latency per call (a stand-in for a real model)."""

        def __init__(self, responses: list[str], seconds: float) -> None:
            super().__init__(responses)
            self.seconds = seconds

        async def create(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            if self.seconds:
                await asyncio.sleep(self.seconds)
            return await super().create(*args, **kwargs)

    def agent(name: str) -> AssistantAgent:
        return AssistantAgent(name, model_client=SlowReplay([f"{name}: done."] * 3, latency),
                              system_message=f"You are {name}.")

    def flow(layers: int, width: int) -> GraphFlow:
        builder = DiGraphBuilder()
        ceo = agent("ceo")
        builder.add_node(ceo)
        previous = [ceo]
        for i in range(layers):
            layer = [agent(f"l{i}t{j}") for j in range(width)]
            for node in layer:
                builder.add_node(node)
                for parent in previous:
                    builder.add_edge(parent, node)
            previous = layer
        builder.set_entry_point(ceo)
        return GraphFlow(participants=builder.get_participants(), graph=builder.build())

    async def go(graph: GraphFlow) -> tuple[float, int]:
        started = time.perf_counter()
        result = await graph.run(task="Run the 5 x 10 plan.")
        wall = time.perf_counter() - started
        return wall, sum(1 for m in result.messages
                         if isinstance(m, TextMessage) and m.source != "user")

    asyncio.run(go(flow(1, 2)))  # warm-up: first-use costs are not the steady state
    runs = [asyncio.run(go(flow(layers, width))) for _ in range(repeats)]
    return c.median([w for w, _ in runs]), runs[-1][1]


def run_web4os(mode: str, layers: int, width: int, latency: float,
               slow: list[str], processes: int = 1, repeats: int = 1) -> tuple[float, int]:
    """Median wall seconds from submitting the goal to ``completed`` over ``repeats`` goals
    (after one untimed warm-up goal on the same runner or worker); model calls of one."""
    from sqlalchemy import func, select

    from web4os.db import session_factory
    from web4os.goals.models import TaskEvent

    c.configure(mode)
    c.install_model(latency, slow, plan=c.layered_plan(layers, width))

    def once() -> tuple[float, int]:
        account_id, user_id = c.make_account()
        started = time.time()
        goal_id = c.submit_goal(account_id, user_id, "Run the 5 x 10 plan")
        status, wall = c.wait_goal_timed(goal_id, started)
        if status != "completed":
            raise SystemExit(f"web4os {mode}: goal ended {status}")
        with session_factory(immediate=False)() as s:
            calls = s.scalar(select(func.count()).select_from(TaskEvent).where(
                TaskEvent.goal_id == goal_id, TaskEvent.kind == "model_call")) or 0
        return wall, calls

    def measured() -> tuple[float, int]:
        once()  # warm-up: imports, compiled statements, connections
        runs = [once() for _ in range(repeats)]
        return c.median([w for w, _ in runs]), runs[-1][1]

    if mode == "embedded":
        from web4os.queue import set_queue

        runner = c.embedded_runner()  # the default pool size from settings
        try:
            return measured()
        finally:
            runner.shutdown(wait=True)
            set_queue(None)
    with c.celery_worker(processes=processes):
        return measured()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: 3 x 4 at 0 s and 0.2 s")
    p.add_argument("--layers", type=int, default=5)
    p.add_argument("--width", type=int, default=10)
    p.add_argument("--latencies", default="0,1", help="seconds per slow model call")
    p.add_argument("--modes", default="embedded,celery")
    p.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                   help="Celery worker processes (default: one per CPU)")
    p.add_argument("--repeats", type=int, default=3,
                   help="timed runs per system and case (the median is printed)")
    p.add_argument("--slow", default="plan,task",
                   help="web4os call purposes that pay the latency (plan,task,review,summary)")
    args = p.parse_args(argv)
    if args.quick:
        args.layers, args.width, args.latencies, args.repeats = 3, 4, "0,0.2", 1
    logging.getLogger("autogen_core").setLevel(logging.WARNING)
    logging.getLogger("autogen_agentchat").setLevel(logging.WARNING)
    slow = [s for s in args.slow.split(",") if s]
    missing = autogen_available()
    if missing:
        print(f"AutoGen is not available: {missing}")
    # What start-up allocated (both systems' modules) leaves the collector's sight before
    # anything is timed, as web4os serve and web4os worker do: both run the same GC.
    import web4os.goals.jobs  # noqa: F401  (web4os's modules, as a started app has them)
    from web4os.gc_freeze import freeze_startup_objects

    freeze_startup_objects()
    modes = args.modes.split(",")
    if "celery" in modes and (down := c.services_up()):
        print(f"celery mode skipped: {down}")
        modes.remove("celery")
    rows: list[list[object]] = []
    for latency in (float(x) for x in args.latencies.split(",")):
        critical = (args.layers + 1) * latency
        ag_wall, ag_calls = (run_autogen(args.layers, args.width, latency, args.repeats)
                             if not missing else (float("nan"), 0))
        for mode in modes:
            wall, calls = run_web4os(mode, args.layers, args.width, latency, slow,
                                     args.processes, args.repeats)
            ratio = wall / ag_wall if ag_wall == ag_wall and ag_wall > 0 else float("nan")
            over = (wall / critical - 1) * 100 if critical else float("nan")
            rows.append([latency, mode, ag_wall, ag_calls, wall, calls, ratio, critical,
                         f"{over:+.1f} %" if critical else "n/a"])
    print(f"\nvs AutoGen GraphFlow · {args.layers} layers x {args.width} tasks + CEO · "
          f"median of {args.repeats} after a warm-up · "
          f"web4os slow calls: {','.join(slow)} · Celery worker processes: {args.processes} · "
          f"{c.machine()}")
    c.print_table(["latency s", "web4os mode", "AutoGen s", "AutoGen calls", "web4os s",
                   "web4os calls", "web4os/AutoGen", "critical path s", "web4os vs critical"],
                  rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
