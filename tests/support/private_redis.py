"""A Redis server of this test run's own: started on a free loopback port, stopped after.

Two test runs on one machine then never flush each other's queues, whatever Redis
database numbers they would have picked. Where ``redis-server`` is not installed but a
shared server runs, ``claimed_database`` gives the run a database number no other live
run holds.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from tests.support.processes import stop_process


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def private_redis() -> Iterator[str | None]:
    """The URL of a fresh ``redis-server`` (None when the binary is not installed)."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="web4os-redis-")
    proc = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                             "--appendonly", "no", "--dir", workdir],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(url, socket_timeout=1).ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"redis-server did not start on port {port}") from None
                time.sleep(0.05)
        yield url
    finally:
        stop_process(proc)
        shutil.rmtree(workdir, ignore_errors=True)


CLAIM_KEY = "web4os:test-run-claim"
CLAIM_SECONDS = 3 * 3600


@contextmanager
def claimed_database(server: str = "redis://127.0.0.1:6379") -> Iterator[str | None]:
    """A database on a shared Redis that this run alone holds (None if all are taken).

    A run claims a database with ``SET … NX`` on a marker key and releases it at the end;
    the expiry frees the claims of a run that was killed. Database 0 is left to the product.
    """
    token = uuid.uuid4().hex
    for db in range(1, 16):
        client = redis.Redis.from_url(f"{server}/{db}", socket_timeout=2)
        if client.set(CLAIM_KEY, token, nx=True, ex=CLAIM_SECONDS):
            try:
                yield f"{server}/{db}"
            finally:
                if client.get(CLAIM_KEY) == token.encode():
                    client.delete(CLAIM_KEY)
            return
    yield None
