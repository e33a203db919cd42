"""The card UI under load: the board page and the card-detail page of a goal with 1,000
cards, in a database that also holds 10,000 other accounts x 100 tasks.

Prints, per page: SQL statements per request (at 10 and at 1,000 cards: it must not grow
with the cards), latency p50/p99 of sequential in-process requests, and p50/p99 and
requests/s with concurrent clients (httpx) against uvicorn on 127.0.0.1.

    python -m bench.board                  # SQLite, 1,000 cards, 10,000 x 100 filler
    python -m bench.board --db postgres    # the same on Postgres (web4os_bench database)
    python -m bench.board --quick          # 200 cards, 100 x 20 filler, fewer requests
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common as c

STATUSES = ("done", "done", "done", "needs_review", "running", "queued", "planned", "planned",
            "failed", "blocked")
OUTPUT = ("## Findings\n\n1. Customers want **fresh bread** before 8 am.\n"
          "2. Two competitors deliver; neither does subscriptions.\n\n"
          "| channel | reach |\n|---|---|\n| email | 1,200 |\n| instagram | 3,400 |\n")


# --- data -------------------------------------------------------------------------

def fill_other_accounts(accounts: int, per_account: int, chunk: int = 20_000) -> None:
    """``accounts`` accounts, each with one specialist, one goal and ``per_account`` tasks,
    written with Core executemany (no ORM objects)."""
    from sqlalchemy import insert

    from web4os.accounts.models import Account
    from web4os.agents.models import Agent
    from web4os.db import get_engine, utcnow
    from web4os.goals.models import Goal, Task

    if not accounts:
        return
    now = utcnow()
    engine = get_engine()
    started = time.perf_counter()
    with engine.begin() as conn:
        account_ids = list(conn.execute(
            insert(Account).returning(Account.id, sort_by_parameter_order=True),
            [{"name": f"Filler {i}", "kind": "individual", "status": "active",
              "credit_balance": 0, "plan_notes": "", "created_at": now} for i in range(accounts)],
        ).scalars())
        agent_ids = list(conn.execute(
            insert(Agent).returning(Agent.id, sort_by_parameter_order=True),
            [{"account_id": a, "slug": "writer", "name": "Writer", "role": "Writes",
              "instructions": "", "model": "", "base_url": "", "tools": [], "enabled": True,
              "is_ceo": False, "created_at": now} for a in account_ids],
        ).scalars())
        goal_ids = list(conn.execute(
            insert(Goal).returning(Goal.id, sort_by_parameter_order=True),
            [_goal_row(a, f"Filler goal {a}", now) for a in account_ids],
        ).scalars())
    rows: list[dict[str, Any]] = []
    for a, agent, goal in zip(account_ids, agent_ids, goal_ids, strict=True):
        for k in range(per_account):
            rows.append(_task_row(a, goal, agent, k, now))
            if len(rows) >= chunk:
                _insert(engine, Task, rows)
                rows = []
    if rows:
        _insert(engine, Task, rows)
    print(f"filled {accounts} accounts x {per_account} tasks in "
          f"{time.perf_counter() - started:.1f} s", flush=True)


def _insert(engine: Any, model: Any, rows: list[dict[str, Any]]) -> None:
    from sqlalchemy import insert

    with engine.begin() as conn:
        conn.execute(insert(model), rows)


def _goal_row(account_id: int, title: str, now: Any, status: str = "completed") -> dict[str, Any]:
    return {"account_id": account_id, "title": title, "brief": "", "status": status,
            "status_reason": "", "summary": "", "plan_rationale": "", "require_approval": False,
            "credits_spent": 0, "replans": 0, "plan_attempts": 1, "created_at": now,
            "updated_at": now}


def _task_row(account_id: int, goal_id: int, agent_id: int, k: int, now: Any,
              status: str = "done", output: str = "") -> dict[str, Any]:
    return {"account_id": account_id, "goal_id": goal_id, "key": f"t{k}",
            "title": f"Task {k + 1}: research the audience", "instructions": "Do the work.",
            "agent_id": agent_id, "status": status, "status_reason": "", "position": k,
            "output": output, "note": "", "feedback": "", "requires_approval": False,
            "estimated_credits": 2, "actual_credits": 2 if status == "done" else 0,
            "attempts": 1 if status != "planned" else 0, "queued_at": now, "started_at": now,
            "finished_at": now, "created_at": now, "updated_at": now}


def make_goal(account_id: int, user_id: int, cards: int, title: str) -> tuple[int, int]:
    """A running goal with ``cards`` cards spread over every column, a layered dependency
    graph (each card needs 1-2 cards of the previous layer), four events per card.
    Returns (goal_id, id of a card in the middle with inputs and dependents)."""
    from sqlalchemy import insert, select

    from web4os.agents.models import Agent
    from web4os.db import get_engine, utcnow
    from web4os.goals.models import Goal, Task, TaskDependency, TaskEvent

    now = utcnow()
    engine = get_engine()
    with engine.begin() as conn:
        agents = list(conn.execute(select(Agent.id).where(Agent.account_id == account_id,
                                                          Agent.is_ceo.is_(False))).scalars())
        goal_id = conn.execute(insert(Goal).returning(Goal.id),
                               [_goal_row(account_id, title, now, "running")]).scalar_one()
        rows = [_task_row(account_id, goal_id, agents[k % len(agents)], k, now,
                          STATUSES[k % len(STATUSES)], OUTPUT if k % 3 == 0 else "")
                for k in range(cards)]
        ids = list(conn.execute(insert(Task).returning(Task.id, sort_by_parameter_order=True),
                                rows).scalars())
        width = 10
        edges = []
        for k in range(width, cards):
            for parent in {k - width, k - width + 1 - (k % width == width - 1) * 2}:
                edges.append({"account_id": account_id, "goal_id": goal_id, "task_id": ids[k],
                              "depends_on_id": ids[parent]})
        if edges:
            conn.execute(insert(TaskDependency), edges)
        events = []
        for k, task_id in enumerate(ids):
            for n, (src, dst) in enumerate((("planned", "queued"), ("queued", "running"),
                                            ("running", "needs_review"), ("needs_review", "done"))):
                events.append({"account_id": account_id, "goal_id": goal_id, "task_id": task_id,
                               "kind": "status", "from_status": src, "to_status": dst,
                               "actor": "ceo", "message": f"Step {n} of card {k}", "data": {},
                               "created_at": now + timedelta(seconds=n)})
        conn.execute(insert(TaskEvent), events)
    return goal_id, ids[min(len(ids) - 1, cards // 2)]


def login_cookie(user_id: int) -> str:
    from web4os.accounts.models import User
    from web4os.accounts.service import start_session
    from web4os.db import session_factory

    with session_factory()() as s:
        user = s.get(User, user_id)
        assert user is not None
        token = start_session(s, user).token
        s.commit()
        return token


# --- measuring --------------------------------------------------------------------

def count_queries(client: Any, path: str) -> int:
    """SQL statements one GET of ``path`` runs (a before_cursor_execute listener)."""
    from sqlalchemy import event

    from web4os.db import get_engine

    client.get(path)  # warm-up: per-engine one-off checks (e.g. the RLS role probe) run once
    engine = get_engine()
    seen: list[str] = []

    def listen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listen)
    try:
        resp = client.get(path)
        assert resp.status_code == 200, (path, resp.status_code)
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    return sum(1 for s in seen if not s.lstrip().upper().startswith(("BEGIN", "SET", "RESET",
                                                                        "SELECT SET_CONFIG")))


def sequential(client: Any, path: str, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        resp = client.get(path)
        times.append(time.perf_counter() - t)
        assert resp.status_code == 200, resp.status_code
    return times


async def concurrent(base: str, cookie: str, path: str, clients: int,
                     n: int) -> tuple[list[float], float, int]:
    """Latencies, requests/s and the number of non-200 answers."""
    import httpx

    times: list[float] = []
    errors = 0
    todo = iter(range(n))

    async def worker(http: httpx.AsyncClient) -> None:
        nonlocal errors
        for _ in todo:
            t = time.perf_counter()
            resp = await http.get(path)
            times.append(time.perf_counter() - t)
            errors += resp.status_code != 200

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=base, cookies={"w4_session": cookie}, limits=limits,
                                 timeout=60) as http:
        await http.get(path)  # warm up
        started = time.perf_counter()
        await asyncio.gather(*(worker(http) for _ in range(clients)))
        wall = time.perf_counter() - started
    return times, n / wall, errors


def serve(port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    """uvicorn on 127.0.0.1 with this process's database (no in-process job runner)."""
    cmd = [sys.executable, "-m", "uvicorn", "bench._serve:app", "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warning", "--workers", str(workers)]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=c.ROOT, env={**os.environ, "PYTHONPATH": str(c.ROOT)},
                                stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("uvicorn did not start")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--cards", type=int, default=1000)
    p.add_argument("--accounts", type=int, default=10_000, help="other accounts in the database")
    p.add_argument("--tasks-per-account", type=int, default=100)
    p.add_argument("--requests", type=int, default=200, help="requests per measurement")
    p.add_argument("--clients", type=int, default=8, help="concurrent httpx clients")
    p.add_argument("--server-workers", type=int, default=1, help="uvicorn worker processes")
    args = p.parse_args(argv)
    if args.quick:
        args.cards, args.accounts, args.tasks_per_account, args.requests = 200, 100, 20, 30
    if args.db == "postgres" and (down := c.services_up()):
        raise SystemExit(down)
    c.configure("embedded" if args.db == "sqlite" else "celery")
    os.environ["WEB4OS_DISPATCH"] = "embedded"
    from fastapi.testclient import TestClient

    from web4os.app import create_app

    fill_other_accounts(args.accounts, args.tasks_per_account)
    account_id, user_id = c.make_account()
    small_goal, small_card = make_goal(account_id, user_id, 10, "Ten cards")
    big_goal, big_card = make_goal(account_id, user_id, args.cards, f"{args.cards} cards")
    cookie = login_cookie(user_id)
    pages = {"board": (f"/goals/{small_goal}", f"/goals/{big_goal}"),
             "card": (f"/goals/{small_goal}/tasks/{small_card}",
                      f"/goals/{big_goal}/tasks/{big_card}")}
    rows = []
    with TestClient(create_app(start_worker=False), cookies={"w4_session": cookie}) as client:
        for name, (small, big) in pages.items():
            q_small, q_big = count_queries(client, small), count_queries(client, big)
            seq = sequential(client, big, args.requests)
            rows.append([name, q_small, q_big, "yes" if q_small == q_big else "NO",
                         c.pct(seq, 50) * 1000, c.pct(seq, 99) * 1000])
    port = free_port()
    log = Path(tempfile.mkdtemp(prefix="web4os-bench-uvicorn-")) / "server.log"
    server = serve(port, args.server_workers, log)
    try:
        for row, (_name, (_small, big)) in zip(rows, pages.items(), strict=True):
            times, rps, errors = asyncio.run(concurrent(f"http://127.0.0.1:{port}", cookie, big,
                                                        args.clients, args.requests))
            row += [c.pct(times, 50) * 1000, c.pct(times, 99) * 1000, rps, errors]
    finally:
        server.terminate()
        server.wait(timeout=20)
    if any(row[-1] for row in rows):
        print(f"non-200 answers; the server's log ({log}) ends with:\n"
              + log.read_text(errors="replace")[-3000:])
    print(f"\nboard · {args.db} · {args.cards} cards on the measured goal · "
          f"{args.accounts} x {args.tasks_per_account} other tasks · {c.machine()}")
    c.print_table(["page", "queries @10 cards", f"queries @{args.cards}", "constant",
                   "in-process p50 ms", "in-process p99 ms",
                   f"http p50 ms ({args.clients} clients)", "http p99 ms", "req/s",
                   "non-200"], rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
