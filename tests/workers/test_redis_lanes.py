"""Fair share on Celery: the lanes in Redis release jobs to the broker in turn between
accounts, each within its cap of jobs in flight, by rank within an account, and a slot
a dead worker never freed comes back by itself. A broker fed first come, first served
fails each of these."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests.support.private_redis import private_redis
from web4os.goals.ranks import rank_of
from web4os.workers.dispatch import SLOT, RedisLanes

A, B = 7, 8


class Broker:
    """What the lanes sent, in order (stands in for Celery's ``send_task``)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, name: str, kwargs: dict[str, Any]) -> None:
        self.sent.append((name, kwargs))

    def names(self) -> list[str]:
        return [kw["n"] for _, kw in self.sent]


@pytest.fixture(scope="module")
def client() -> Iterator[redis.Redis]:
    with private_redis() as url:
        if url is None:
            pytest.skip("redis-server is not installed")
        yield redis.Redis.from_url(url)


@pytest.fixture
def lanes(client: redis.Redis) -> tuple[RedisLanes, Broker]:
    client.flushdb()
    broker = Broker()
    return RedisLanes(client, broker, slot_seconds=60, total=1000), broker


def _job(account: int, n: str) -> dict[str, Any]:
    return {"account_id": account, "n": n}


def test_a_flood_stops_at_the_cap_and_another_account_goes_straight_through(
        lanes: tuple[RedisLanes, Broker]) -> None:
    queue, broker = lanes
    for i in range(100):
        queue.push(A, 0, "run_task", _job(A, f"a{i}"), cap=4, weight=1)
    queue.push(B, 0, "run_task", _job(B, "b"), cap=4, weight=1)
    assert broker.names() == ["a0", "a1", "a2", "a3", "b"]  # FIFO: b would be 101st
    assert queue.waiting() == 96
    assert queue.in_flight(A) == 4
    _, first = broker.sent[0]
    assert json.loads(first[SLOT].split("|", 1)[1])[0] == "run_task"
    queue.finish(A, first[SLOT])  # one of A's ends: its next goes
    assert broker.names()[-1] == "a4"
    assert queue.in_flight(A) == 4


def test_within_an_account_the_urgent_and_goals_under_way_go_first(
        lanes: tuple[RedisLanes, Broker]) -> None:
    queue, broker = lanes
    queue.push(A, 0, "run_task", _job(A, "hold"), cap=1, weight=1)
    queue.push(A, rank_of(5, urgent=False, first=True), "run_task", _job(A, "new 5"),
               cap=1, weight=1)
    queue.push(A, rank_of(9, urgent=False, first=False), "run_task", _job(A, "under way 9"),
               cap=1, weight=1)
    queue.push(A, rank_of(12, urgent=True, first=True), "run_task", _job(A, "urgent 12"),
               cap=1, weight=1)
    for _ in range(3):
        _, last = broker.sent[-1]
        queue.finish(A, last[SLOT])
    assert broker.names() == ["hold", "urgent 12", "under way 9", "new 5"]


def test_accounts_with_work_take_turns_by_weight(lanes: tuple[RedisLanes, Broker]) -> None:
    queue, broker = lanes
    queue.total = 1  # one job in flight at a time, all accounts together
    queue.push(A, 0, "run_task", _job(A, "hold"), cap=16, weight=3)
    for i in range(40):
        queue.push(A, 0, "run_task", _job(A, f"a{i}"), cap=16, weight=3)
        queue.push(B, 0, "run_task", _job(B, f"b{i}"), cap=16, weight=1)
    while len(broker.sent) < 41:  # free each job's slot as it goes, as the worker would
        _, kwargs = broker.sent[-1]
        queue.finish(kwargs["account_id"], kwargs[SLOT])
    later = broker.names()[1:41]
    a_share = sum(n.startswith("a") for n in later)
    assert 26 <= a_share <= 34, later  # 3 to 1: about 30 of 40


def test_all_accounts_together_stay_within_the_total(
        lanes: tuple[RedisLanes, Broker]) -> None:
    queue, broker = lanes
    queue.total = 3
    for account in range(20, 30):
        queue.push(account, 0, "run_task", _job(account, f"x{account}"), cap=16, weight=1)
    assert broker.names() == ["x20", "x21", "x22"]
    _, kwargs = broker.sent[0]
    queue.finish(20, kwargs[SLOT])
    assert broker.names()[-1] == "x23"


def test_a_slot_a_dead_worker_never_freed_comes_back(lanes: tuple[RedisLanes, Broker]) -> None:
    queue, broker = lanes
    queue.slot_seconds = 0.3
    queue.push(A, 0, "run_task", _job(A, "lost"), cap=1, weight=1)
    queue.push(A, 0, "run_task", _job(A, "next"), cap=1, weight=1)
    assert broker.names() == ["lost"]
    time.sleep(0.4)
    queue.push(B, 0, "run_task", _job(B, "b"), cap=1, weight=1)  # any release looks again
    assert broker.names() == ["lost", "next", "b"]
