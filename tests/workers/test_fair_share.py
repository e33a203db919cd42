"""The embedded runner's scheduling: accounts take turns (by weight), each within its
running cap; within an account the urgent and the goals under way go first; and a job
waiting on its model holds no place in the pool, so a pool of two threads still waits
on fifty model calls at once. First come, first served, or one thread per call, fails
each of these."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from web4os.accounts.shares import Share
from web4os.goals import jobs as goal_jobs
from web4os.goals.ranks import rank_of
from web4os.queue import RANK
from web4os.turns import waiting
from web4os.workers import embedded
from web4os.workers.embedded import EmbeddedRunner

A, B, C = 101, 102, 103


class Bench:
    """A runner whose test jobs run bodies by name and log what ran, in order."""

    def __init__(self, runner: EmbeddedRunner, bodies: dict[str, Callable[[], None]]) -> None:
        self.runner, self.bodies = runner, bodies
        self.lock = threading.Lock()
        self.order: list[str] = []
        self.running: dict[int, int] = {}
        self.peak: dict[int, int] = {}

    def submit(self, name: str, account: int, body: Callable[[], None] | None = None,
               rank: int | None = None) -> None:
        self.bodies[name] = body or (lambda: None)
        extra: dict[str, Any] = {} if rank is None else {RANK: rank}
        self.runner.submit("test_job", {"name": name, "account_id": account, **extra})

    def ran(self, name: str, account: int) -> None:
        with self.lock:
            self.order.append(name)
            self.running[account] = self.running.get(account, 0) + 1
            self.peak[account] = max(self.peak.get(account, 0), self.running[account])

    def ended(self, account: int) -> None:
        with self.lock:
            self.running[account] -= 1


@pytest.fixture
def shares(monkeypatch: pytest.MonkeyPatch) -> dict[int, Share]:
    table: dict[int, Share] = {}
    monkeypatch.setattr("web4os.accounts.shares.share_of",
                        lambda account_id: table.get(account_id, Share(16, 1)))
    return table


def _bench(monkeypatch: pytest.MonkeyPatch, threads: int) -> Iterator[Bench]:
    bodies: dict[str, Callable[[], None]] = {}
    holder: list[Bench] = []

    def test_job(name: str, *, account_id: int) -> None:
        bench = holder[0]
        bench.ran(name, account_id)
        try:
            bodies[name]()
        finally:
            bench.ended(account_id)

    monkeypatch.setitem(goal_jobs.JOBS, "test_job", test_job)
    monkeypatch.setattr(embedded, "STALL_SECONDS", 5.0)  # a slow CI machine is no stall
    runner = EmbeddedRunner(threads)
    holder.append(Bench(runner, bodies))
    yield holder[0]
    runner.shutdown(wait=True)
    assert not runner.errors


@pytest.fixture
def one_thread(monkeypatch: pytest.MonkeyPatch, shares: dict[int, Share]) -> Iterator[Bench]:
    yield from _bench(monkeypatch, 1)


@pytest.fixture
def two_threads(monkeypatch: pytest.MonkeyPatch, shares: dict[int, Share]) -> Iterator[Bench]:
    yield from _bench(monkeypatch, 2)


def _hold(bench: Bench, account: int) -> threading.Event:
    """Occupy the only thread until the returned event is set, so jobs pile up."""
    go, started = threading.Event(), threading.Event()

    def body() -> None:
        started.set()
        assert go.wait(10)

    bench.submit("hold", account, body)
    assert started.wait(5)
    return go


def test_one_accounts_flood_does_not_queue_another_account_behind_it(one_thread: Bench) -> None:
    go = _hold(one_thread, A)
    for i in range(100):
        one_thread.submit(f"a{i}", A)
    one_thread.submit("b", B)
    go.set()
    assert one_thread.runner.wait_idle(20)
    assert one_thread.order.index("b") <= 2, one_thread.order[:5]  # FIFO: 101st
    assert one_thread.order.index("a99") == len(one_thread.order) - 1


def test_accounts_take_turns_by_weight(one_thread: Bench, shares: dict[int, Share]) -> None:
    shares[A] = Share(16, 3)
    go = _hold(one_thread, C)
    for i in range(40):
        one_thread.submit(f"a{i}", A)
        one_thread.submit(f"b{i}", B)
    go.set()
    assert one_thread.runner.wait_idle(20)
    first = one_thread.order[1:41]
    a_share = sum(name.startswith("a") for name in first)
    assert 28 <= a_share <= 32, first  # 3 to 1: A has 30 of the first 40


def test_an_accounts_running_cap_holds(two_threads: Bench, shares: dict[int, Share]) -> None:
    shares[A] = Share(3, 1)

    def model_call() -> None:
        with waiting():
            time.sleep(0.1)

    for i in range(20):
        two_threads.submit(f"a{i}", A, model_call)
    for i in range(6):
        two_threads.submit(f"b{i}", B, model_call)
    assert two_threads.runner.wait_idle(20)
    assert two_threads.peak[A] == 3  # never more, and the cap is what held it
    assert two_threads.peak[B] == 6  # B's cap is the default (16): all at once


def test_urgent_then_under_way_then_new_goals_within_an_account(one_thread: Bench) -> None:
    go = _hold(one_thread, A)
    one_thread.submit("new goal 5", A, rank=rank_of(5, urgent=False, first=True))
    one_thread.submit("new goal 3", A, rank=rank_of(3, urgent=False, first=True))
    one_thread.submit("goal 9 under way", A, rank=rank_of(9, urgent=False, first=False))
    one_thread.submit("urgent goal 12", A, rank=rank_of(12, urgent=True, first=True))
    go.set()
    assert one_thread.runner.wait_idle(10)
    assert one_thread.order[1:] == ["urgent goal 12", "goal 9 under way", "new goal 3",
                                    "new goal 5"]


def test_fifty_model_calls_wait_together_on_a_pool_of_two(two_threads: Bench) -> None:
    def model_call() -> None:
        with waiting():
            time.sleep(1.0)

    started = time.monotonic()
    for i in range(50):
        two_threads.submit(f"c{i}", 200 + i, model_call)
    assert two_threads.runner.wait_idle(20)
    took = time.monotonic() - started
    assert two_threads.runner.peak_model_waits >= 40
    # Thread-bound, the 50 calls take 25 s; the margin is for a slow machine, not a figure.
    assert took < 15.0, f"50 calls of 1 s on 2 threads took {took:.1f} s"


def test_model_calls_in_flight_are_bounded_by_configuration(two_threads: Bench) -> None:
    two_threads.runner.max_model_waits = 5

    def model_call() -> None:
        with waiting():
            time.sleep(0.1)

    for i in range(20):
        two_threads.submit(f"c{i}", 300 + i, model_call)
    assert two_threads.runner.wait_idle(20)
    assert two_threads.runner.peak_model_waits == 5


def test_spare_threads_end_when_the_burst_is_over(two_threads: Bench,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded, "SPARE_SECONDS", 0.2)

    def model_call() -> None:
        with waiting():
            time.sleep(0.3)

    for i in range(20):
        two_threads.submit(f"c{i}", 400 + i, model_call)
    # Counted during the burst: after it, a spare may already have ended (0.2 s idle).
    deadline = time.monotonic() + 5
    while len(two_threads.runner._threads) <= 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(two_threads.runner._threads) > 2
    assert two_threads.runner.wait_idle(20)
    deadline = time.monotonic() + 5
    while len(two_threads.runner._threads) > 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(two_threads.runner._threads) <= 2
