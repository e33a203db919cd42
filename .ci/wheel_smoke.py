"""CI: the product as a user or an image installs it, nothing from the checkout.

Builds the wheel, installs it alone (no dev extra) in a fresh virtualenv in a temporary
directory, and from there runs ``web4os demo`` (SQLite), then the production command path
of docker-compose.yml: ``web4os migrate``, ``web4os serve`` and ``web4os worker`` in Celery
mode on a Postgres database of this run's own and a private ``redis-server``. One person
signs up, makes an API token and finishes a goal over the JSON API. Everything it started
is stopped and the database dropped on the way out, pass or fail.

Usage: ``python .ci/wheel_smoke.py [--database NAME]`` (default ``web4os_wheel_<pid>``).
Needs PostgreSQL on 127.0.0.1:5432 (user postgres) and ``redis-server`` on the PATH.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import psycopg

REPO = Path(__file__).resolve().parents[1]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
GOAL_SECONDS = 90
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_SECRET = re.compile(r'id="new-token" class="secret" type="text" readonly value="([^"]+)"')


class SmokeFailed(Exception):
    """A step of the installed product did not do what it must; the message says which."""


_STARTED = time.monotonic()


def step(what: str) -> None:
    print(f"-- [{time.monotonic() - _STARTED:5.1f} s] {what}", flush=True)


def tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no output)"


def run(cmd: list[str], *, what: str, timeout: float, cwd: Path | None = None,
        env: dict[str, str] | None = None) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)
    if done.returncode != 0:
        raise SmokeFailed(f"{what} exited {done.returncode}:\n{(done.stdout + done.stderr)[-3000:]}")
    return str(done.stdout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def product_env(work: Path, **settings: str) -> dict[str, str]:
    """The environment of a product process: no ``WEB4OS_*`` or path of the caller's, so
    the installed wheel is all it has."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("WEB4OS_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update({"PYTHONUNBUFFERED": "1", "WEB4OS_DATA_DIR": str(work / "data")})
    env.update({f"WEB4OS_{k.upper()}": v for k, v in settings.items()})
    return env


def install_wheel(work: Path) -> Path:
    """Build the wheel, install it alone in a fresh venv; the venv's bin directory."""
    step("build the wheel")
    dist = work / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(REPO)],
        what="pip wheel", timeout=300)
    [wheel] = dist.glob("web4os-*.whl")
    step(f"install {wheel.name} alone in a fresh venv ({work / 'venv'})")
    run([sys.executable, "-m", "venv", str(work / "venv")], what="python -m venv", timeout=120)
    bin_dir = work / "venv" / "bin"
    run([str(bin_dir / "pip"), "install", "-q", str(wheel)], what="pip install the wheel",
        timeout=600, cwd=work)
    where = run([str(bin_dir / "python"), "-c",
                 "import web4os, kombu.transport.redis; print(web4os.__file__)"],
                what="importing web4os and Celery's Redis transport", timeout=60, cwd=work,
                env=product_env(work)).strip()
    if not where.startswith(str(work / "venv")):
        raise SmokeFailed(f"web4os was imported from {where}, not from the installed wheel")
    return bin_dir


def demo(bin_dir: Path, work: Path) -> None:
    step("web4os demo (SQLite in the data directory)")
    out = run([str(bin_dir / "web4os"), "demo"], what="web4os demo", timeout=180, cwd=work,
              env=product_env(work))
    if "[completed]" not in out:
        raise SmokeFailed(f"web4os demo did not complete its goal:\n{out[-3000:]}")
    if not (work / "data" / "web4os.sqlite3").is_file():
        raise SmokeFailed("web4os demo wrote no database in WEB4OS_DATA_DIR")


@contextmanager
def process(cmd: list[str], *, log: Path, env: dict[str, str],
            cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process in a group of its own, output to ``log``; the group is stopped on exit."""
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            name, asked = f"{Path(cmd[0]).name} {cmd[1]}", time.monotonic()
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
                step(f"{name} stopped in {time.monotonic() - asked:.1f} s")
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                step(f"{name} did not stop in 15 s: killed")


@contextmanager
def private_redis(work: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SmokeFailed("redis-server is not installed")
    port = free_port()
    with process([binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                  "--appendonly", "no", "--dir", str(work)], log=work / "redis.log",
                 env=dict(os.environ), cwd=work) as proc:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SmokeFailed(f"redis-server did not start:\n{tail(work / 'redis.log')}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"


@contextmanager
def postgres_database(name: str) -> Iterator[str]:
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        raise SmokeFailed(f"could not create the database {name}: {exc}") from exc
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        step(f"dropped the database {name}")


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Until /healthz says a worker beats (status ok), or the server dies."""
    deadline = time.monotonic() + 60
    report: object = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SmokeFailed(f"web4os serve exited {proc.returncode}:\n{tail(log)}")
        try:
            report = httpx.get(f"{url}/healthz", timeout=2).json()
            if isinstance(report, dict) and report.get("status") == "ok":
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.3)
    raise SmokeFailed(f"the stack is not healthy after 60 s: {report}")


def files_are_served(url: str) -> None:
    """A template, a static file and the API docs' assets, all from the installed package."""
    for path in ("/login", "/static/app.css", "/api/docs", "/static/swagger-ui/swagger-ui-bundle.js"):
        resp = httpx.get(f"{url}{path}", timeout=15)
        if resp.status_code != 200 or not resp.content:
            raise SmokeFailed(f"GET {path} answered {resp.status_code} ({len(resp.content)} bytes)")


def finish_a_goal(url: str) -> dict[str, object]:
    """Sign up by form, make a token on /settings, submit and follow a goal over the API."""
    with httpx.Client(base_url=url, timeout=15) as web:
        page = web.get("/signup")
        resp = web.post("/signup", data={
            "account_name": "Wheel Bakery", "display_name": "Wheel", "email": "wheel@example.com",
            "password": "flour and sugar 42", "csrf_token": _token(_CSRF, page.text, "/signup")})
        if resp.status_code != 303:
            raise SmokeFailed(f"sign-up answered {resp.status_code}")
        settings = web.get("/settings")
        resp = web.post("/settings/tokens", data={
            "token_name": "smoke", "role": "operator",
            "csrf_token": _token(_CSRF, settings.text, "/settings")})
        secret = _token(_SECRET, resp.text, "the new token page")
    with httpx.Client(base_url=f"{url}/api/v1", timeout=15,
                      headers={"Authorization": f"Bearer {secret}"}) as api:
        resp = api.post("/goals", json={"title": "Launch a monthly newsletter for our bakery"})
        if resp.status_code != 201:
            raise SmokeFailed(f"POST /api/v1/goals answered {resp.status_code}: {resp.text[:500]}")
        goal_id = resp.json()["id"]
        deadline = time.monotonic() + GOAL_SECONDS
        seen = ""
        while True:
            goal: dict[str, object] = api.get(f"/goals/{goal_id}").json()
            if goal["status"] != seen:
                seen = str(goal["status"])
                step(f"goal {goal_id}: {seen}")
            if goal["status"] in ("completed", "failed", "cancelled", "paused"):
                break
            if time.monotonic() > deadline:
                raise SmokeFailed(f"goal {goal_id} is still {goal['status']} after {GOAL_SECONDS} s")
            time.sleep(0.5)
    if goal["status"] != "completed":
        raise SmokeFailed(f"goal {goal_id} ended {goal['status']}: {goal.get('status_reason')}")
    return goal


def _token(pattern: re.Pattern[str], text: str, where: str) -> str:
    found = pattern.search(text)
    if found is None:
        raise SmokeFailed(f"nothing like {pattern.pattern!r} on {where}")
    return found.group(1)


def celery_stack(bin_dir: Path, work: Path, database: str) -> None:
    with ExitStack() as stack:
        broker = stack.enter_context(private_redis(work))
        db_url = stack.enter_context(postgres_database(database))
        env = product_env(work, database_url=db_url, broker_url=broker, dispatch="celery")
        step(f"web4os migrate, serve and worker (Celery) on {database} and {broker}")
        run([str(bin_dir / "web4os"), "migrate"], what="web4os migrate", timeout=120, cwd=work,
            env=env)
        port = free_port()
        serve_log, worker_log = work / "serve.log", work / "worker.log"
        server = stack.enter_context(process(
            [str(bin_dir / "web4os"), "serve", "--port", str(port)], log=serve_log, env=env, cwd=work))
        worker = stack.enter_context(process(
            [str(bin_dir / "web4os"), "worker", "--concurrency", "4"], log=worker_log, env=env,
            cwd=work))
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url, server, serve_log)
            files_are_served(url)
            step("sign up, make an API token, finish a goal over /api/v1")
            goal = finish_a_goal(url)
        except (SmokeFailed, httpx.HTTPError, LookupError, ValueError) as exc:
            alive = "running" if worker.poll() is None else f"exited {worker.returncode}"
            reason = str(exc) if isinstance(exc, SmokeFailed) else f"{type(exc).__name__}: {exc}"
            raise SmokeFailed(f"{reason}\n--- web4os serve:\n{tail(serve_log)}\n"
                              f"--- web4os worker ({alive}):\n{tail(worker_log)}") from exc
        print(f"   goal {goal['id']} completed: {goal['tasks_total']} cards, "
              f"{goal['credits_spent']} credits")
        logged = serve_log.read_text()
        for line in ('"POST /signup HTTP/1.1" 303', '"POST /api/v1/goals HTTP/1.1" 201'):
            if logged.count(line) != 1:
                raise SmokeFailed(f"web4os serve printed {logged.count(line)} access lines like "
                                  f"{line} for one request:\n{tail(serve_log)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=f"web4os_wheel_{os.getpid()}")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="web4os-wheel-"))
    try:
        bin_dir = install_wheel(work)
        demo(bin_dir, work)
        celery_stack(bin_dir, work, args.database)
    except (SmokeFailed, subprocess.TimeoutExpired) as exc:
        print(f"\nWHEEL SMOKE FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
        step("cleaned up")
    print(f"wheel smoke passed in {time.monotonic() - _STARTED:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
