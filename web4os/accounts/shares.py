"""An account's share of the workers, as the scheduler reads it: how many of its cards
may run at once, and the weight of its turn among accounts with work waiting.

Read often (every job sent), changed seldom (an admin's form): kept for a few seconds
per account, so an admin's change takes effect within ``TTL_SECONDS``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy import select

from web4os.accounts.models import Account
from web4os.config import get_settings
from web4os.tenancy import system_session

TTL_SECONDS = 5.0
_MAX_KEPT = 10_000


@dataclass(frozen=True)
class Share:
    cap: int
    weight: int


_kept: dict[int, tuple[float, Share]] = {}
_lock = threading.Lock()


def share_of(account_id: int) -> Share:
    """The account's running cap and weight (the defaults for an account not found)."""
    now = time.monotonic()
    with _lock:
        hit = _kept.get(account_id)
    if hit is not None and now - hit[0] < TTL_SECONDS:
        return hit[1]
    default = get_settings().account_max_running
    with system_session() as s:
        row = s.execute(select(Account.max_running, Account.share_weight)
                        .where(Account.id == account_id)).first()
    share = Share(default, 1) if row is None else Share(row[0] or default, max(1, row[1] or 1))
    with _lock:
        if len(_kept) >= _MAX_KEPT:
            _kept.clear()
        _kept[account_id] = (now, share)
    return share


def forget_shares() -> None:
    """Drop what is kept (an admin changed a share; tests)."""
    with _lock:
        _kept.clear()
