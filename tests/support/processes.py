"""Stopping a server process a test started: politely first, then for sure."""

from __future__ import annotations

import subprocess


def stop_process(proc: subprocess.Popen[bytes] | subprocess.Popen[str],
                 grace: float = 10.0) -> None:
    """SIGTERM, wait ``grace`` seconds, then SIGKILL; the process is reaped either way."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
