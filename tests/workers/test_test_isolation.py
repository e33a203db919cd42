"""Two test runs on one machine hold different Redis databases (issue 19)."""

from __future__ import annotations

import pytest
import redis

from tests.support.private_redis import CLAIM_KEY, claimed_database

SHARED = "redis://127.0.0.1:6379"


def _shared_redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(f"{SHARED}/0", socket_timeout=1).ping())
    except redis.ConnectionError:
        return False


pytestmark = pytest.mark.skipif(not _shared_redis_up(), reason="no Redis on 127.0.0.1:6379")


def test_two_runs_claim_different_databases_and_release_them() -> None:
    with claimed_database(SHARED) as first, claimed_database(SHARED) as second:
        assert first and second
        assert first != second
        assert not first.endswith("/0") and not second.endswith("/0")
        held = redis.Redis.from_url(first)
        assert held.get(CLAIM_KEY) is not None
        assert (held.ttl(CLAIM_KEY) or 0) > 0  # a killed run's claim expires
    assert redis.Redis.from_url(first).get(CLAIM_KEY) is None
    assert redis.Redis.from_url(second).get(CLAIM_KEY) is None


def test_a_claim_of_another_run_is_left_alone() -> None:
    with claimed_database(SHARED) as mine:
        assert mine
        other = redis.Redis.from_url(mine)
        other.set(CLAIM_KEY, "another-run")  # e.g. the claim expired and was retaken
    assert other.get(CLAIM_KEY) == b"another-run"
    other.delete(CLAIM_KEY)
