"""Start-up installs the embedded runner before its sweeper's first look: the recovery of
work a previous process left behind sends its jobs through the installed queue."""

from __future__ import annotations

import threading

import pytest

from web4os.goals import recovery
from web4os.queue import JobQueue, get_queue
from web4os.workers import install_queue
from web4os.workers.embedded import EmbeddedRunner


def test_start_up_recovery_finds_the_installed_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[JobQueue] = []
    ran = threading.Event()

    def recover_after_restart() -> None:
        seen.append(get_queue())  # raises if nothing is installed yet
        ran.set()

    monkeypatch.setattr(recovery, "recover_after_restart", recover_after_restart)
    runner = install_queue()
    assert isinstance(runner, EmbeddedRunner)
    assert ran.wait(10), "start-up recovery did not run (or raised)"
    assert seen == [runner]


def test_an_app_built_for_tests_installs_no_runner() -> None:
    assert install_queue(start_embedded=False) is None
