"""A Celery worker process's turn (``web4os.turns.Turn``): its jobs compute one at a
time, a job waiting on its model lets the next one compute, and a job that keeps the
turn too long does not hold the others up."""

from __future__ import annotations

import threading
import time

import pytest

from web4os import turns


def _run_together(turn: turns.Turn, bodies: list[tuple[str, float, float]]) -> list[str]:
    """Start one thread per ``(name, compute s, wait s)``: each holds the turn, computes,
    then (if any) waits on its "model"; returns what happened, in order."""
    events: list[str] = []
    lock = threading.Lock()

    def log(what: str) -> None:
        with lock:
            events.append(what)

    def job(name: str, compute: float, wait: float) -> None:
        with turn.held():
            log(f"{name} computes")
            end = time.monotonic() + compute
            while time.monotonic() < end:
                pass
            if wait:
                with turns.waiting():
                    log(f"{name} waits")
                    time.sleep(wait)
            log(f"{name} done")

    threads = []
    for name, compute, wait in bodies:
        waiting_before = turn.waiters
        threads.append(threading.Thread(target=job, args=(name, compute, wait)))
        threads[-1].start()
        # In this order: the next starts once this one waits for the turn, or holds it
        # (or, with a model wait, has given it up): a fixed pause is not enough on a
        # loaded machine.
        settled = f"{name} waits" if wait else f"{name} computes"
        deadline = time.monotonic() + 5
        while (settled not in events and turn.waiters <= waiting_before
               and time.monotonic() < deadline):
            time.sleep(0.001)
    for thread in threads:
        thread.join(10)
    return events


def test_jobs_compute_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(turns, "STALL_SECONDS", 5.0)
    events = _run_together(turns.Turn(), [("a", 0.1, 0), ("b", 0.1, 0)])
    assert events == ["a computes", "a done", "b computes", "b done"]


def test_a_job_waiting_on_its_model_lets_the_next_compute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(turns, "STALL_SECONDS", 5.0)
    events = _run_together(turns.Turn(), [("a", 0.0, 0.3), ("b", 0.05, 0)])
    assert events == ["a computes", "a waits", "b computes", "b done", "a done"]


def test_a_turn_held_too_long_lets_the_next_job_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(turns, "STALL_SECONDS", 0.1)
    events = _run_together(turns.Turn(), [("a", 0.6, 0), ("b", 0.0, 0)])
    assert events == ["a computes", "b computes", "b done", "a done"]


def test_outside_a_turn_waiting_changes_nothing() -> None:
    turn = turns.Turn()
    with turn.held():
        assert turn._busy == 1
    assert turn._busy == 0
    with turns.waiting():  # the thread's handler went with its turn: nothing is given up
        assert turn._busy == 0
    assert turn._busy == 0
    with turn.held():  # and the turn is still free to take at once
        assert turn._busy == 1


def test_a_turn_inside_a_turn_leaves_the_outer_handler_in_place() -> None:
    outer, inner = turns.Turn(), turns.Turn()
    with outer.held():
        with inner.held():
            pass
        assert outer._busy == 1
        with turns.waiting():  # still the outer turn's: it is given up meanwhile
            assert outer._busy == 0
        assert outer._busy == 1



def test_a_celery_worker_keeps_no_card_when_the_broker_is_unreachable() -> None:
    from web4os.workers.celery_app import CeleryQueue, make_celery

    queue = CeleryQueue(make_celery("redis://127.0.0.1:9/0"))  # nothing listens on port 9
    assert queue.takes_handoffs() is False


def test_a_job_waiting_for_the_turn_ends_a_chain_of_handoffs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A chain holds the turn from card to card; a job of the same process waiting for it
    would start only past ``STALL_SECONDS``, so the chain keeps no card while one waits."""
    from web4os.workers import celery_app
    from web4os.workers.celery_app import CeleryQueue, make_celery

    monkeypatch.setattr(turns, "STALL_SECONDS", 5.0)  # a slow CI machine is no stall
    turn = turns.Turn()
    monkeypatch.setattr(celery_app, "TURN", turn)
    queue = CeleryQueue(make_celery("memory://"))  # no Redis broker: nothing else says no
    assert queue.takes_handoffs() is True
    started = threading.Event()

    def waiting_job() -> None:
        started.set()
        with turn.held():
            pass

    with turn.held():
        other = threading.Thread(target=waiting_job)
        other.start()
        assert started.wait(5)
        deadline = time.monotonic() + 2
        while not turn.waiters and time.monotonic() < deadline:
            time.sleep(0.001)
        assert turn.waiters == 1
        assert queue.takes_handoffs() is False
    other.join(5)
    assert turn.waiters == 0 and queue.takes_handoffs() is True
