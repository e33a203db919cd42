"""Many people on one ``web4os serve`` at once: N whole sessions, C at a time, over HTTP.

A session: sign up, open home, submit a goal by form, open settings, make an API token,
submit a goal over the API, open the goal's board (page and live partial), the inbox and
the usage page (11 requests; ``tests/support/users.py``). Each row starts a fresh
``web4os serve`` (the embedded default: the in-process runner works on the submitted
goals with the offline model meanwhile) on a fresh database, and prints server errors
(5xx or no answer), sessions finished, and per-request latency p50/p95/max.

    python -m bench.users                          # SQLite: 8 x 1, 8 x 4, 64 x 16, 64 x 64
    python -m bench.users --db postgres            # the same on Postgres (web4os_bench_users)
    python -m bench.users --sessions 32 --concurrency 8
    python -m bench.users --quick                  # 8 sessions, 4 at a time
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common as c

PG_URL = os.environ.get("WEB4OS_BENCH_POSTGRES_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/web4os_bench_users")
DEFAULT_ROWS = ((8, 1), (8, 4), (64, 16), (64, 64))


def run_row(db: str, sessions: int, concurrency: int, timeout: float) -> list[object]:
    from tests.support.serve import log_tail, serve
    from tests.support.users import SERVER_ENV, run_sessions

    data_dir = Path(tempfile.mkdtemp(prefix="web4os-bench-users-"))
    env = dict(SERVER_ENV)
    if db == "postgres":
        from tests.support.celery_worker import reset_postgres

        reset_postgres(PG_URL)
        env["WEB4OS_DATABASE_URL"] = PG_URL
    with serve(data_dir, env) as url:
        results = run_sessions(url, sessions, concurrency, timeout=timeout)
    times = [r.seconds for r in results.requests]
    errors = len(results.server_errors)
    if errors or results.finished < sessions:
        print("\n".join(results.problems()[:10]))
        print(f"the server's log ({data_dir / 'serve.log'}) ends with:\n"
              + log_tail(data_dir / "serve.log", 3000))
    return [db, sessions, concurrency, len(times), errors, f"{results.finished}/{sessions}",
            round(c.pct(times, 50) * 1000), round(c.pct(times, 95) * 1000),
            round(max(times, default=0) * 1000), results.wall_seconds,
            round(len(times) / results.wall_seconds, 1)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--sessions", type=int, help="sessions in one row (with --concurrency)")
    p.add_argument("--concurrency", type=int, help="sessions at a time")
    p.add_argument("--timeout", type=float, default=120.0, help="per request, seconds")
    args = p.parse_args(argv)
    if args.sessions or args.concurrency:
        rows = [(args.sessions or 8, args.concurrency or 4)]
    else:
        rows = [(8, 4)] if args.quick else list(DEFAULT_ROWS)
    if args.db == "postgres" and (down := c.services_up(PG_URL, c.DEFAULT_REDIS)):
        raise SystemExit(down)
    table = [run_row(args.db, n, conc, args.timeout) for n, conc in rows]
    print(f"\nusers · {args.db} · web4os serve (embedded runner, offline model) · {c.machine()}")
    c.print_table(["db", "sessions", "at once", "requests", "server errors", "finished",
                   "p50 ms", "p95 ms", "max ms", "wall s", "req/s"], table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
