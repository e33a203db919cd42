"""``web4os serve`` as a real subprocess on a free port, for end-to-end tests and bench."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.processes import stop_process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log_tail(log: Path, chars: int = 4000) -> str:
    """The end of the server's output (for failure messages)."""
    return log.read_text(errors="replace")[-chars:] if log.exists() else ""


@contextmanager
def serve(data_dir: Path, env: Mapping[str, str] | None = None,
          start_timeout: float = 30.0) -> Iterator[str]:
    """Run ``web4os serve`` with no ``WEB4OS_*`` setting but the data directory and
    ``env``, and yield its base URL once it answers.

    The server's output goes to ``data_dir/serve.log``, not a pipe: a pipe nobody reads
    fills up and stalls the server once it logs enough (tracebacks under load).
    """
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("WEB4OS_")}
    full_env["WEB4OS_DATA_DIR"] = str(data_dir)
    full_env.update(env or {})
    log = data_dir / "serve.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-c", "from web4os.cli import main; main()",
                                 "serve", "--port", str(port)], env=full_env,
                                stdout=out, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code in (200, 503):
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"web4os serve did not start:\n{log_tail(log)}")
            time.sleep(0.2)
        yield url
    finally:
        stop_process(proc)
