"""Fair share, measured as users would see it: goals submitted through the HTTP API of a
real ``web4os serve``, on the offline model at a fixed latency per call.

- **Noisy neighbour.** Account B's one goal alone; then account A submits 100 goals and
  B one right after: B's time against alone, and how many of A's finished before B's.
- **Many accounts.** 200 accounts submit 2 goals each at once: when all are done, when
  the first is done, cards running at once at the peak (each waits on one model call
  at a time), how busy the machine was, queued → running per card, peak memory.
- **Idle.** Goals one after another at 0 s per call: ready → running per card.

Both modes: embedded (SQLite, the in-process runner of ``web4os serve``) and Celery
(Postgres in a database of this run's own, a private ``redis-server`` on a free port,
2 worker processes). Figures come from the database's timestamps.

    python -m bench.fairness                       # both runs, both modes, 1 s per call
    python -m bench.fairness --modes embedded --accounts 50 --latency 0.5
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common as c

PG_ROOT = "postgresql+psycopg://postgres@127.0.0.1:5432/"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Stack:
    """A running server (and workers) with accounts, each with an API token."""

    base_url: str
    pids: list[int]
    tokens: dict[int, str] = field(default_factory=dict)

    def submit(self, account_id: int, title: str) -> int:
        import httpx

        resp = httpx.post(f"{self.base_url}/api/v1/goals", json={"title": title},
                          headers={"Authorization": f"Bearer {self.tokens[account_id]}"},
                          timeout=60)
        resp.raise_for_status()
        return int(resp.json()["id"])


def _make_accounts(n: int) -> dict[int, str]:
    from web4os.accounts.models import Role
    from web4os.accounts.tokens import create_token
    from web4os.db import session_factory
    from web4os.tenancy import AccountId, TenantContext

    tokens: dict[int, str] = {}
    for i in range(n):
        account_id, user_id = c.make_account(f"Bench account {i + 1}")
        with session_factory()() as s:
            ctx = TenantContext(account_id=AccountId(account_id), user_id=user_id,
                                role="owner", actor="bench")
            tokens[account_id] = create_token(s, ctx, name="bench", role=Role.OPERATOR).secret
            s.commit()
    return tokens


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/login", timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not start")


@contextmanager
def stack(mode: str, accounts: int, latency: float, workers: int,
          concurrency: int, pool: str | None = None) -> Iterator[Stack]:
    """A fresh database, ``accounts`` accounts, a server (and 2 Celery workers)."""
    from tests.support.celery_worker import drop_database
    from tests.support.private_redis import private_redis

    with ExitStack() as stop:
        redis_url: str | None = None
        env_extra = {"WEB4OS_OFFLINE_LATENCY_SECONDS": str(latency),
                     "WEB4OS_EMBEDDED_WORKERS": str(workers)}
        os.environ.update(env_extra)
        if mode == "celery":
            redis_url = stop.enter_context(private_redis())
            if redis_url is None:
                raise SystemExit("Celery mode needs redis-server installed")
            pg_url = f"{PG_ROOT}web4os_bench_fair_{os.getpid()}"
            c.configure("celery", pg_url=pg_url, redis_url=redis_url)
            stop.callback(drop_database, pg_url)
        else:
            c.configure("embedded")
        from web4os.config import get_settings

        get_settings.cache_clear()
        tokens = _make_accounts(accounts)
        from web4os.db import dispose_engines

        dispose_engines()
        port = _free_port()
        log = Path(tempfile.mkdtemp(prefix="web4os-bench-serve-")) / "serve.log"
        out = log.open("wb")
        proc = subprocess.Popen([sys.executable, "-m", "web4os.cli", "serve", "--host",
                                 "127.0.0.1", "--port", str(port)], stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env=dict(os.environ))
        stop.callback(_stop, proc)
        base = f"http://127.0.0.1:{port}"
        _wait_http(base, proc, log)
        pids = [proc.pid]
        if redis_url is not None:
            pids += stop.enter_context(_celery_workers(redis_url, concurrency, pool))
        yield Stack(base, pids, tokens)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    import signal

    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextmanager
def _celery_workers(redis_url: str, concurrency: int,
                    pool: str | None) -> Iterator[list[int]]:
    from tests.support.celery_worker import CeleryStack
    from web4os.config import get_settings

    workers = CeleryStack(get_settings().resolved_database_url, redis_url,
                          Path(tempfile.mkdtemp(prefix="web4os-bench-worker-")), env={})
    try:
        yield [workers.start_worker(concurrency=concurrency, pool=pool).pid for _ in range(2)]
    finally:
        for worker in workers.workers:
            worker.stop()


# --- reading the results -----------------------------------------------------------

def _goals(ids: Sequence[int]) -> dict[int, tuple[str, datetime, datetime | None]]:
    from sqlalchemy import select

    from web4os.db import session_factory
    from web4os.goals.models import Goal

    with session_factory(immediate=False)() as s:
        return {g: (st.value, created, done) for g, st, created, done in s.execute(
            select(Goal.id, Goal.status, Goal.created_at, Goal.completed_at)
            .where(Goal.id.in_(ids)))}


def _wait_all(ids: Sequence[int], timeout: float) -> dict[int, tuple[str, datetime,
                                                                    datetime | None]]:
    deadline = time.monotonic() + timeout
    while True:
        rows = _goals(ids)
        if all(st in ("completed", "failed", "cancelled") for st, _, _ in rows.values()):
            bad = [g for g, (st, _, _) in rows.items() if st != "completed"]
            if bad:
                raise SystemExit(f"goals ended other than completed: {bad[:10]}")
            return rows
        if time.monotonic() > deadline:
            raise SystemExit(f"goals still running after {timeout:.0f} s")
        time.sleep(0.25)


def _card_figures(goal_ids: Sequence[int]) -> tuple[int, list[float]]:
    """Cards running at once at the peak, and each card's queued → running seconds."""
    from sqlalchemy import select

    from web4os.db import session_factory
    from web4os.goals.models import Task

    with session_factory(immediate=False)() as s:
        rows = s.execute(select(Task.queued_at, Task.started_at, Task.finished_at)
                         .where(Task.goal_id.in_(goal_ids))).all()
    edges: list[tuple[datetime, int]] = []
    waits: list[float] = []
    for queued, started, finished in rows:
        if started and finished:
            edges += [(started, 1), (finished, -1)]
        if queued and started:
            waits.append((started - queued).total_seconds())
    peak = running = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):
        running += step
        peak = max(peak, running)
    return peak, waits


def _epoch(moment: datetime) -> float:
    from datetime import UTC

    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


# --- the runs ------------------------------------------------------------------------

def noisy_neighbour(s: Stack, flood: int) -> dict[str, object]:
    a, b = list(s.tokens)[:2]
    started = time.time()
    alone = _wait_all([s.submit(b, "B alone")], 300)
    (_, _, done), = alone.values()
    alone_s = _epoch(done) - started  # type: ignore[arg-type]
    with ThreadPoolExecutor(8) as pool:
        a_ids = list(pool.map(lambda i: s.submit(a, f"A's goal {i + 1}"), range(flood)))
    started = time.time()
    b_id = s.submit(b, "B behind A's flood")
    rows = _wait_all([*a_ids, b_id], 900)
    b_done = rows[b_id][2]
    assert b_done is not None
    shared_s = _epoch(b_done) - started
    before = sum(1 for g in a_ids if (d := rows[g][2]) is not None and d <= b_done)
    return {"alone": alone_s, "shared": shared_s, "ratio": shared_s / alone_s,
            "a_before": before, "flood": flood}


def many_accounts(s: Stack, per_account: int) -> dict[str, object]:
    accounts = list(s.tokens)[2:]
    busy0, total0 = _cpu_times()
    started = time.time()
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda job: s.submit(job[0], f"Goal {job[1] + 1}"),
                            [(a, i) for i in range(per_account) for a in accounts]))
    rows = _wait_all(ids, 1800)
    busy1, total1 = _cpu_times()
    done = [_epoch(d) for _, _, d in rows.values() if d is not None]
    peak, waits = _card_figures(ids)
    return {"goals": len(ids), "all_done": max(done) - started, "first_done": min(done) - started,
            "peak_running": peak, "busy": (busy1 - busy0) / max(1.0, total1 - total0),
            "wait_p50": c.pct(waits, 50), "wait_p99": c.pct(waits, 99), "cards": len(waits),
            "rss": max(_peak_rss_mb(pid) for pid in s.pids)}


def idle_latency(s: Stack, goals: int) -> dict[str, object]:
    """Goals one after another on an idle system at 0 s per call: ready → running per card
    (the last input done, or the goal running, to the card started)."""
    account = next(iter(s.tokens))
    ready: list[float] = []
    for i in range(goals):
        goal_id = s.submit(account, f"Idle goal {i + 1}")
        _wait_all([goal_id], 120)
        ready += c.task_times(goal_id).ready_to_running
    return {"ready_p50": c.pct(ready, 50) * 1000, "ready_p99": c.pct(ready, 99) * 1000,
            "cards": len(ready)}


def run_mode(mode: str, args: argparse.Namespace) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    if "idle" in args.runs:
        with stack(mode, 1, 0.0, args.workers, args.concurrency,
                   args.pool) as s:
            out["idle"] = idle_latency(s, args.idle_goals)
            print(mode, "idle", out["idle"], flush=True)
    if "noisy" in args.runs:
        with stack(mode, 2, args.latency, args.workers, args.concurrency,
                   args.pool) as s:
            out["noisy"] = noisy_neighbour(s, args.flood)
            print(mode, "noisy neighbour", out["noisy"], flush=True)
    if "many" in args.runs:
        with stack(mode, args.accounts + 2, args.latency, args.workers, args.concurrency,
                   args.pool) as s:
            out["many"] = many_accounts(s, args.goals)
            print(mode, "many accounts", out["many"], flush=True)
    return out


def _table(results: dict[str, dict[str, dict[str, object]]], args: argparse.Namespace) -> None:
    modes = list(results)
    rows: list[list[object]] = []

    def row(label: str, run: str, fmt: str, key: str) -> None:
        if all(run in results[m] for m in modes):
            rows.append([label, *(fmt.format(**{key: results[m][run][key]}) for m in modes)])

    row("account B's one goal, alone (s)", "noisy", "{alone:.1f}", "alone")
    row(f"the same just after A submitted {args.flood} goals (s)", "noisy", "{shared:.1f}",
        "shared")
    row("B's slowdown", "noisy", "{ratio:.2f}x", "ratio")
    row(f"A's goals finished before B's (of {args.flood})", "noisy", "{a_before}", "a_before")
    many = f"{args.accounts} accounts x {args.goals} goals"
    row(f"{many}: all done (s)", "many", "{all_done:.1f}", "all_done")
    row("first of those goals done (s)", "many", "{first_done:.1f}", "first_done")
    row("cards running at once, peak", "many", "{peak_running}", "peak_running")
    row("machine busy meanwhile", "many", "{busy:.0%}", "busy")
    row("card queued -> running p50 (s)", "many", "{wait_p50:.2f}", "wait_p50")
    row("card queued -> running p99 (s)", "many", "{wait_p99:.2f}", "wait_p99")
    row("peak memory of one process (MB)", "many", "{rss:.0f}", "rss")
    row("idle, 0 s per call: ready -> running p50 (ms)", "idle", "{ready_p50:.0f}", "ready_p50")
    row("idle, 0 s per call: ready -> running p99 (ms)", "idle", "{ready_p99:.0f}", "ready_p99")
    c.print_table(["", *modes], rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", default="embedded,celery")
    parser.add_argument("--runs", default="idle,noisy,many")
    parser.add_argument("--idle-goals", type=int, default=20,
                        help="goals one after another at 0 s, for ready -> running")
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per model call")
    parser.add_argument("--flood", type=int, default=100, help="account A's goals")
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--goals", type=int, default=2, help="goals per account")
    parser.add_argument("--workers", type=int, default=64,
                        help="the embedded runner's pool of threads")
    parser.add_argument("--concurrency", type=int, default=256,
                        help="jobs at once in each Celery worker")
    parser.add_argument("--pool", choices=("gevent", "threads"), default=None,
                        help="the Celery workers' pool (default: web4os worker's, gevent)")
    args = parser.parse_args()
    print(c.machine(), flush=True)
    print(f"nproc {os.cpu_count()} · load {' '.join(f'{x:.2f}' for x in os.getloadavg())} · "
          f"{args.latency:g} s per model call", flush=True)
    results: dict[str, dict[str, dict[str, object]]] = {}
    for mode in args.modes.split(","):
        results[mode] = run_mode(mode, args)
    print(f"load after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    _table(results, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
