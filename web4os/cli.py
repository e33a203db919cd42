"""The ``web4os`` command: serve, worker, migrate, create-admin, demo, local-model."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import sys
import time

from web4os import __version__

# Nothing above may create a lock, a socket or a thread: ``web4os worker`` on the gevent
# pool patches the standard library first (``_green_if_asked``), before the rest of
# web4os and its libraries are imported.


def _serve(args: argparse.Namespace) -> int:
    from web4os.malloc import limit_arenas

    limit_arenas()  # before the embedded runner's threads (``web4os.malloc``)
    import uvicorn

    from web4os.app import create_app
    from web4os.config import get_settings
    from web4os.migrate import upgrade
    from web4os.web.access_log import log_config

    settings = get_settings()
    upgrade()
    host, port = args.host or settings.host, args.port or settings.port
    mode = ("embedded worker (in-process)" if settings.dispatch == "embedded"
            else f"Celery workers on {settings.broker_url}")
    model = "offline model (no key configured)" if settings.offline_model else settings.openai_model
    print(f"web4os {__version__} — database: {_safe_url(settings.resolved_database_url)}")
    print(f"  dispatch: {mode}; model: {model}")
    print(f"  open http://{host}:{port}/  (sign up there; stop with Ctrl+C)", flush=True)
    # Forwarded headers are believed only from the configured proxies; otherwise anyone
    # could pick the address that rate limits count.
    trusted = settings.trusted_proxies.replace(" ", "")
    uvicorn.run(create_app(start_worker=settings.dispatch == "embedded"), host=host, port=port,
                log_level=None, log_config=log_config(), proxy_headers=bool(trusted),
                forwarded_allow_ips=trusted or None, server_header=False)
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _migrate(_args: argparse.Namespace) -> int:
    from web4os.config import get_settings
    from web4os.migrate import upgrade

    upgrade()
    print(f"Database is up to date: {_safe_url(get_settings().resolved_database_url)}")
    return 0


def _create_admin(args: argparse.Namespace) -> int:
    from web4os.accounts.service import ensure_admin
    from web4os.db import session_factory
    from web4os.errors import DomainError
    from web4os.migrate import upgrade

    upgrade()
    password = args.password or os.environ.get("WEB4OS_ADMIN_PASSWORD", "")
    if not password:
        if not sys.stdin.isatty():
            print("Give a password with --password or WEB4OS_ADMIN_PASSWORD.", file=sys.stderr)
            return 2
        password = getpass.getpass("Password for the admin (at least 10 characters): ")
    with session_factory()() as session:
        try:
            user = ensure_admin(session, args.email, password)
            session.commit()
        except (DomainError, ValueError) as exc:
            print(f"Could not create the admin: {getattr(exc, 'message', exc)}", file=sys.stderr)
            return 1
    print(f"Platform admin ready: {user.email} (log in at /login, then open /admin)")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from web4os.config import get_settings
    from web4os.demo import run_demo

    code = run_demo(args.goal, timeout=args.timeout)
    print(f"\n(the demo account and its goal are in {_safe_url(get_settings().resolved_database_url)})")
    return code


def _worker(args: argparse.Namespace) -> int:
    from web4os.malloc import limit_arenas

    if args.pool == "threads":
        limit_arenas()  # before the pool's threads (``web4os.malloc``)
    from web4os.workers.celery_app import run_worker

    code: int = run_worker(concurrency=args.concurrency, sweeper=not args.no_sweep,
                           hostname=args.hostname, pool=args.pool)
    return code


def _green_if_asked(args: argparse.Namespace) -> None:
    """``web4os worker`` on the gevent pool: patch the standard library (sockets, locks,
    threads, sleeps) before anything else is imported, so every wait of a job (its
    model, the database, Redis, a mail server) yields to the other jobs."""
    if args.command == "worker" and args.pool == "gevent":
        from web4os.green import patch

        patch()


def _health(args: argparse.Namespace) -> int:
    """Print the health report as JSON; exit 1 when down (or, with --worker, if this
    machine's worker has no fresh heartbeat: the worker container's health check)."""
    import json
    import socket

    from web4os.workers.health import collect

    report = collect()
    print(json.dumps(report.public(), indent=2))
    if args.worker:
        host = socket.gethostname()
        return 0 if any(w.hostname.split("@")[-1] == host for w in report.workers) else 1
    return 1 if report.status == "down" else 0


def _local_model(args: argparse.Namespace) -> int:
    """Serve the bundled Gemma 3 270M on llama.cpp until Ctrl+C (the ``dev`` extra)."""
    import signal

    from web4os.localmodel import MODEL_ALIAS, llama_available, running_llama_server

    ok, reason = llama_available()
    if not ok:
        print(f"web4os local-model: {reason}", file=sys.stderr)
        return 2
    print("Loading the model (the first start assembles it, about 250 MB)…", flush=True)
    with running_llama_server(n_ctx=args.ctx, parallel=args.slots, threads=args.threads,
                              port=args.port) as base_url:
        print(f"llama.cpp is serving {MODEL_ALIAS} at {base_url} "
              f"({args.slots} slots of {args.ctx // args.slots} tokens). In another terminal:\n"
              f"  WEB4OS_OPENAI_BASE_URL={base_url} WEB4OS_OPENAI_MODEL={MODEL_ALIAS} "
              "web4os serve\nStop with Ctrl+C.", flush=True)
        import threading

        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="web4os", description="An agentic operating system "
                                     "for people who run a business.")
    parser.add_argument("--version", action="version", version=f"web4os {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="migrate, then run the web app (and the embedded worker)")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.set_defaults(fn=_serve)
    p = sub.add_parser("migrate", help="bring the database schema up to date")
    p.set_defaults(fn=_migrate)
    p = sub.add_parser("create-admin", help="create or promote a platform admin")
    p.add_argument("email")
    p.add_argument("--password", default=None)
    p.set_defaults(fn=_create_admin)
    p = sub.add_parser("demo", help="run one goal headless and print its cards")
    p.add_argument("goal", nargs="?", default="Launch a monthly newsletter for our bakery")
    p.add_argument("--timeout", type=float, default=120.0)
    p.set_defaults(fn=_demo)
    p = sub.add_parser("worker", help="run a Celery worker (production dispatch)")
    p.add_argument("--concurrency", type=int, default=None)
    p.add_argument("--no-sweep", "--no-beat", dest="no_sweep", action="store_true",
                   help="never sweep from this worker (others still take turns)")
    p.add_argument("--hostname", default=None, help="worker name, e.g. web4os-1@%%h")
    p.add_argument("--pool", choices=("gevent", "threads"), default="gevent",
                   help="gevent (default): a job waiting on its model costs no thread; "
                   "threads: one thread per running job")
    p.set_defaults(fn=_worker)
    p = sub.add_parser("health", help="check the database, broker and workers (JSON)")
    p.add_argument("--worker", action="store_true",
                   help="exit 1 unless a worker on this host sends heartbeats")
    p.set_defaults(fn=_health)
    p = sub.add_parser("local-model", help="serve the bundled small model on llama.cpp "
                       "(an OpenAI-compatible endpoint; needs the dev extra)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--ctx", type=int, default=8192, help="context tokens, shared by the slots")
    p.add_argument("--slots", type=int, default=4, help="requests served at once")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    p.set_defaults(fn=_local_model)
    return parser


def prepare(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line and, for a gevent worker, patch the standard library: the
    first thing any entry point does (``bench._worker`` calls it before its own imports)."""
    args = _parser().parse_args(argv)
    _green_if_asked(args)
    return args


def main(argv: list[str] | None = None) -> int:
    args = prepare(argv)
    started = time.monotonic()
    code: int = args.fn(args)
    if args.command == "demo":
        print(f"(took {time.monotonic() - started:.1f} s)")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
