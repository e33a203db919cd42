"""Fair share between accounts: one lane of waiting jobs per account, served in turn.

The embedded runner keeps its waiting jobs here (the Celery dispatcher keeps the same
lanes in Redis, ``workers.dispatch``, with the same rules):

- **Weighted turns.** Accounts with a job ready take turns by stride scheduling: each
  job an account starts advances its virtual time by ``1 / weight``, and the account
  furthest behind goes next. An account that was idle starts level with the others,
  so idleness earns no burst. One account's thousand jobs never queue another's one.
- **A cap per account.** An account with ``cap`` jobs running waits for one to end.
- **Within an account, by rank** (``queue.RANK``: urgent goals, then goals under way,
  then older goals), then first come, first served.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from dataclasses import dataclass, field
from typing import Any

from web4os.config import get_settings

log = logging.getLogger("web4os.scheduler")

Job = tuple[str, dict[str, Any]]
CROSS_ACCOUNT_LANE = 0  # jobs that name no account (the sweep): no cap


@dataclass
class _Lane:
    cap: int
    weight: int
    heap: list[tuple[int, int, Job]] = field(default_factory=list)
    running: int = 0
    vtime: float = 0.0


class FairLanes:
    """Waiting jobs by account; not thread-safe (the runner holds its lock)."""

    def __init__(self) -> None:
        self._lanes: dict[int, _Lane] = {}
        self._seq = itertools.count()
        self._clock = 0.0  # the virtual time of the job started last
        self._waiting = 0

    def __len__(self) -> int:
        return self._waiting

    def push(self, account: int, rank: int, job: Job, *, cap: int, weight: int) -> None:
        lane = self._lanes.get(account)
        if lane is None:
            lane = self._lanes[account] = _Lane(cap, max(1, weight), vtime=self._clock)
        else:
            lane.cap, lane.weight = cap, max(1, weight)
            if not lane.heap and not lane.running:
                lane.vtime = max(lane.vtime, self._clock)  # idle time earns no burst
        heapq.heappush(lane.heap, (rank, next(self._seq), job))
        self._waiting += 1

    def _next_lane(self) -> tuple[int, _Lane] | None:
        best: tuple[int, _Lane] | None = None
        for account, lane in self._lanes.items():
            if not lane.heap or (account != CROSS_ACCOUNT_LANE and lane.running >= lane.cap):
                continue
            if best is None or lane.vtime < best[1].vtime:
                best = (account, lane)
        return best

    def ready(self) -> bool:
        """Some waiting job may start now (its account is under its cap)."""
        return self._next_lane() is not None

    def pop(self) -> tuple[int, Job] | None:
        """The next job to start and its account (counted running until ``done``)."""
        found = self._next_lane()
        if found is None:
            return None
        account, lane = found
        _, _, job = heapq.heappop(lane.heap)
        self._waiting -= 1
        lane.running += 1
        lane.vtime += 1.0 / lane.weight
        self._clock = lane.vtime
        return account, job

    def done(self, account: int) -> None:
        lane = self._lanes.get(account)
        if lane is None:
            return
        lane.running -= 1
        if lane.running <= 0 and not lane.heap:
            del self._lanes[account]  # memory stays bounded by the accounts with work

    def clear(self) -> int:
        """Drop every waiting job (a shutdown without waiting); how many there were."""
        dropped = self._waiting
        for lane in self._lanes.values():
            lane.heap.clear()
        self._waiting = 0
        return dropped

    def running(self, account: int) -> int:
        lane = self._lanes.get(account)
        return lane.running if lane is not None else 0


def share_for(account: int) -> tuple[int, int]:
    """The account's running cap and weight; the defaults if they cannot be read now (a
    job is never lost to a database hiccup)."""
    if account == CROSS_ACCOUNT_LANE:
        return 1_000_000, 1
    from web4os.accounts.shares import share_of

    try:
        share = share_of(account)
    except Exception:
        log.warning("could not read account %s's share; the defaults apply", account)
        return get_settings().account_max_running, 1
    return share.cap, share.weight
