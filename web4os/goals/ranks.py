"""A goal's jobs' place in its account's lane (``queue.RANK``; the runners serve
accounts in turn, and within an account the lowest rank first)."""

from __future__ import annotations


def rank_of(goal_id: int, *, urgent: bool, first: bool) -> int:
    """Lower goes first: an urgent goal's cards, then cards of goals under way ahead of the
    first cards (and the planning) of goals not started yet, so goals finish one after
    another instead of all at the end; then older goals first."""
    return (((0 if urgent else 2) + (1 if first else 0)) << 40) | goal_id
