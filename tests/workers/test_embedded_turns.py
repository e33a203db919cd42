"""The embedded runner's turns: one job computes at a time, jobs that wait on a model
overlap, a job back from its model goes before one not started, and a job that holds
its turn too long (a wait nobody marked) does not hold the others up."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from web4os.goals import jobs as goal_jobs
from web4os.turns import install, waiting
from web4os.workers import embedded
from web4os.workers.embedded import EmbeddedRunner


class Log:
    """What the test jobs did, in order, with when."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[tuple[str, float]] = []

    def __call__(self, what: str) -> None:
        with self.lock:
            self.events.append((what, time.monotonic()))

    def at(self, what: str) -> float:
        return next(t for w, t in self.events if w == what)

    def order(self) -> list[str]:
        return [w for w, _ in self.events]


def _compute(seconds: float) -> None:
    """Hold the CPU (and so the turn) for a while, as the Python around a model call does."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


@pytest.fixture
def turns(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[EmbeddedRunner, Log,
                                                             Callable[..., None]]]:
    log = Log()
    bodies: dict[str, Callable[[], None]] = {}

    def test_job(name: str, *, account_id: int) -> None:
        bodies[name]()

    monkeypatch.setitem(goal_jobs.JOBS, "test_job", test_job)
    monkeypatch.setattr(embedded, "STALL_SECONDS", 5.0)  # a slow CI machine is no stall
    runner = EmbeddedRunner(8)

    def submit(name: str, body: Callable[[], None]) -> None:
        bodies[name] = body
        runner.submit("test_job", {"name": name, "account_id": 1})

    yield runner, log, submit
    runner.shutdown(wait=True)
    assert not runner.errors


def test_jobs_that_compute_take_turns(turns: Any) -> None:
    runner, log, submit = turns
    for name in ("a", "b", "c"):
        def body(name: str = name) -> None:
            log(f"{name} starts")
            _compute(0.05)
            log(f"{name} ends")
        submit(name, body)
    assert runner.wait_idle(10)
    order = log.order()
    for name in ("a", "b", "c"):  # each one ran from start to end before the next began
        assert order.index(f"{name} ends") == order.index(f"{name} starts") + 1


def test_jobs_that_wait_on_their_model_overlap(turns: Any) -> None:
    runner, log, submit = turns
    all_waiting = threading.Barrier(4, timeout=10)  # breaks unless all four wait at once
    for name in ("a", "b", "c", "d"):
        def body(name: str = name) -> None:
            with waiting():
                log(f"{name} waits")
                all_waiting.wait()
                log(f"{name} answered")
        submit(name, body)
    assert runner.wait_idle(20)
    last_in = max(log.at(f"{n} waits") for n in "abcd")
    first_out = min(log.at(f"{n} answered") for n in "abcd")
    assert last_in < first_out, "all four waited at the same time"


def test_a_job_back_from_its_model_goes_before_one_not_started(turns: Any) -> None:
    runner, log, submit = turns
    back = threading.Event()

    def a() -> None:
        with waiting():
            submit("b", b)
            submit("c", c)  # queued while b computes
            time.sleep(0.05)
            back.set()  # a's answer is in; it now waits for the turn
        log("a resumes")

    def b() -> None:
        log("b starts")
        assert back.wait(5)
        while not runner._returning:  # until a waits for the turn b holds
            time.sleep(0.001)
        log("b ends")

    def c() -> None:
        log("c starts")

    submit("a", a)
    assert runner.wait_idle(10)
    assert log.order() == ["b starts", "b ends", "a resumes", "c starts"]


def test_a_turn_held_too_long_lets_the_next_job_start_beside_it(
        turns: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    runner, log, submit = turns
    monkeypatch.setattr(embedded, "STALL_SECONDS", 0.2)

    def stuck() -> None:
        log("stuck starts")
        time.sleep(2.0)  # a wait nobody marked: it keeps its turn
        log("stuck ends")

    submit("stuck", stuck)
    submit("next", lambda: log("next starts"))
    assert runner.wait_idle(10)
    assert log.order() == ["stuck starts", "next starts", "stuck ends"]


def test_a_wait_inside_a_wait_gives_the_turn_up_once(turns: Any) -> None:
    runner, log, submit = turns

    def nested() -> None:
        with waiting(), waiting():
            time.sleep(0.01)
        log("nested done")

    submit("nested", nested)
    submit("after", lambda: log("after done"))
    assert runner.wait_idle(10)
    assert sorted(log.order()) == ["after done", "nested done"]
    assert runner.status()["pending"] == 0


def test_outside_a_runner_thread_waiting_does_nothing() -> None:
    entered: list[str] = []

    @contextlib.contextmanager
    def handler() -> Iterator[None]:
        entered.append(threading.current_thread().name)
        yield

    def runner_thread() -> None:
        install(handler)  # as a runner's own thread does when it starts
        with waiting():
            pass

    thread = threading.Thread(target=runner_thread, name="runner")
    thread.start()
    thread.join(5)
    with waiting():  # this thread installed nothing: its wait gives nothing up
        pass
    assert entered == ["runner"]


def test_shutdown_finishes_the_queue_then_stops_every_thread(turns: Any) -> None:
    runner, log, submit = turns
    for name in ("a", "b"):
        def body(name: str = name) -> None:
            with waiting():
                time.sleep(0.05)
            log(f"{name} done")
        submit(name, body)
    runner.shutdown(wait=True)
    assert sorted(log.order()) == ["a done", "b done"]
    assert not any(t.is_alive() for t in runner._threads)


def test_a_job_queued_behind_a_stalled_one_still_starts(
        turns: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    runner, log, submit = turns
    monkeypatch.setattr(embedded, "STALL_SECONDS", 0.2)

    def stuck() -> None:
        log("stuck starts")
        time.sleep(1.0)  # keeps its turn: nobody marked this wait
        log("stuck ends")

    def first() -> None:
        submit("stuck", stuck)
        time.sleep(0.05)  # a thread is up, watching the queue
        submit("last", lambda: log("last starts"))
        with waiting():  # hands the turn on: "stuck" takes it, "last" waits behind
            time.sleep(2.0)

    submit("first", first)
    assert runner.wait_idle(10)
    assert log.order().index("last starts") < log.order().index("stuck ends")


def test_delayed_jobs_not_due_at_shutdown_are_dropped_and_not_pending(turns: Any) -> None:
    runner = turns[0]
    runner.submit("test_job", {"name": "later", "account_id": 1}, countdown=30)
    assert runner.status()["pending"] == 1
    runner.shutdown(wait=True)
    assert runner.status()["pending"] == 0
    assert runner.wait_idle(0.1)
