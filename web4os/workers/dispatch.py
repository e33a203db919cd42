"""Fair share on Celery: jobs wait in per-account lanes in Redis, and are released into
the broker in turn, each account within its cap of jobs in flight.

The broker's queue is first come, first served, so fairness is decided before it: a
job sent now goes to its account's lane (a sorted set by rank, as in
``workers.lanes``), and a release (one Lua script, atomic however many processes
run it) moves jobs to the broker, taking accounts by stride scheduling, until each
account with work has ``cap`` jobs in flight, or all of them together have
``dispatch_in_flight`` (about the workers' concurrency: past that, a released job would only
wait in the broker, where it can no longer be overtaken). A job in flight carries its slot
(``SLOT``); when it ends, the worker frees the slot and releases again. So the broker
holds at most ``cap`` jobs of any one account, and another account's job never waits
behind a flood.

Crash safety: the database stays the source of truth. A slot has an expiry (a worker
killed mid-job frees it by timing out), and a job lost between a release and the
broker is a card still ``queued`` in the database, which the sweeper re-sends.
Jobs sent with a delay (retries after a backoff) go straight to the broker, outside
the lanes and their caps.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import redis

SLOT = "_slot"  # a released job's slot in its account's in-flight set
PREFIX = "web4os:sched:"
RELEASE_BATCH = 256  # jobs one release moves at most (the next release moves the rest)

_KEYS = """
local P = ARGV[1]
local ready, clock, vt, shares, waiting = P..'ready', P..'clock', P..'vtime', P..'share', P..'waiting'
"""

_RELEASE = """
local function release(now, expiry, batch, total)
  local out = {}
  local all = P..'inflight'
  redis.call('ZREMRANGEBYSCORE', all, '-inf', now)
  while #out < 2 * batch and redis.call('ZCARD', all) < total do
    local picked = nil
    local accounts = redis.call('ZRANGE', ready, 0, -1)
    for _, acct in ipairs(accounts) do
      local inflight = P..'inflight:'..acct
      redis.call('ZREMRANGEBYSCORE', inflight, '-inf', now)
      local share = redis.call('HGET', shares, acct) or '16:1'
      local sep = string.find(share, ':')
      local cap = tonumber(string.sub(share, 1, sep - 1))
      if redis.call('ZCARD', inflight) < cap then
        picked = acct
        local weight = tonumber(string.sub(share, sep + 1))
        local lane = P..'lane:'..acct
        local job = redis.call('ZPOPMIN', lane)
        redis.call('ZADD', inflight, expiry, job[1])
        redis.call('ZADD', all, expiry, job[1])
        redis.call('DECR', waiting)
        local v = tonumber(redis.call('ZSCORE', ready, acct)) + 1 / weight
        redis.call('HSET', vt, acct, v)
        redis.call('SET', clock, v)
        if redis.call('ZCARD', lane) == 0 then
          redis.call('ZREM', ready, acct)
        else
          redis.call('ZADD', ready, v, acct)
        end
        table.insert(out, acct)
        table.insert(out, job[1])
        break
      end
    end
    if picked == nil then break end
  end
  return out
end
"""

PUSH = _KEYS + _RELEASE + """
local acct, rank, member, share = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local seq = redis.call('INCR', P..'seq')
redis.call('ZADD', P..'lane:'..acct, rank, string.format('%016d', seq)..'|'..member)
redis.call('HSET', shares, acct, share)
redis.call('INCR', waiting)
if not redis.call('ZSCORE', ready, acct) then
  local v = math.max(tonumber(redis.call('HGET', vt, acct) or '0'),
                     tonumber(redis.call('GET', clock) or '0'))
  redis.call('ZADD', ready, v, acct)
end
return release(tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]))
"""

FINISH = _KEYS + _RELEASE + """
redis.call('ZREM', P..'inflight:'..ARGV[2], ARGV[3])
redis.call('ZREM', P..'inflight', ARGV[3])
return release(tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]))
"""


class RedisLanes:
    """The lanes in ``client``'s Redis; ``send(name, kwargs)`` puts a released job on the
    broker; ``slot_seconds``: how long a slot outlives a worker that never frees it;
    ``total``: jobs in flight at most, all accounts together (where weights tell)."""

    def __init__(self, client: redis.Redis, send: Callable[[str, dict[str, Any]], None],
                 slot_seconds: float, total: int) -> None:
        self.client, self.send, self.slot_seconds = client, send, slot_seconds
        self.total = total
        self._push = client.register_script(PUSH)
        self._finish = client.register_script(FINISH)

    def push(self, account: int, rank: int, name: str, kwargs: dict[str, Any], *,
             cap: int, weight: int) -> None:
        """Put a job in its account's lane and release what may go now."""
        member = json.dumps([name, kwargs], separators=(",", ":"))
        self._sent(self._push(args=[PREFIX, account, rank, member, f"{cap}:{max(1, weight)}",
                                    *self._times()]))

    def finish(self, account: int, slot: str) -> None:
        """A released job ended: free its slot and release what may go now."""
        self._sent(self._finish(args=[PREFIX, account, slot, *self._times()]))

    def waiting(self) -> int:
        """Jobs in the lanes, not released yet (the sweeper's backlog counts them)."""
        return int(self.client.get(PREFIX + "waiting") or 0)

    def in_flight(self, account: int) -> int:
        return int(self.client.zcard(f"{PREFIX}inflight:{account}"))

    def _times(self) -> list[float | int]:
        now = time.time()
        return [now, now + self.slot_seconds, RELEASE_BATCH, self.total]

    def _sent(self, released: list[bytes]) -> None:
        for i in range(0, len(released), 2):
            slot = released[i + 1].decode()
            name, kwargs = json.loads(slot.split("|", 1)[1])
            self.send(name, {**kwargs, SLOT: slot})
