"""Credit movements: grant, reserve, settle. Atomic, idempotent, never below zero.

Why one guarded row and not a derived sum: the balance lives in
``accounts.credit_balance`` and changes only here, by a guarded
``UPDATE … SET credit_balance = credit_balance + :amount WHERE credit_balance >= :cost``
in the same transaction as the ledger entry that explains it.
That makes "can this account pay?" and "take it" one atomic statement on both
Postgres (the row lock serialises writers; READ COMMITTED re-checks the WHERE
on the newest row) and SQLite (``BEGIN IMMEDIATE`` serialises writers). A
derived ``SUM(amount)`` would need a table lock or SERIALIZABLE retries to stop
two reservations from both seeing the same last credit. The ledger keeps the
full history, ``ledger_sum == balance`` is asserted after every test, and the
account row lock also serialises every movement of one account, which is what
makes the cap checks in ``goals.caps`` race-free.

Every entry a retry could repeat carries a unique ``idempotency_key``
(``task:{id}:a{attempt}:reserve`` / ``:settle``, ``goal:{id}:plan{n}``…), so a
redelivered job cannot charge twice.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Insert, ScalarSelect, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from web4os.accounts.models import Account
from web4os.credits import low
from web4os.credits.models import CreditLedgerEntry, EntryKind
from web4os.db import table_of, utcnow
from web4os.errors import InsufficientCredits, InvalidInput
from web4os.queue import enqueue
from web4os.tenancy import AccountId, in_account, of_account


@dataclass(frozen=True)
class Refs:
    """What a ledger entry is about (all optional)."""

    goal_id: int | None = None
    task_id: int | None = None
    agent_id: int | None = None


NO_REFS = Refs()
_LEDGER = table_of(CreditLedgerEntry)

# The statements every card runs, built once (building one costs more than running it),
# on the tables: Core statements skip the ORM's per-statement work (no object is loaded).
_ACCOUNTS_T = table_of(Account)
_ACCOUNTS = _ACCOUNTS_T.c
_BALANCE = select(_ACCOUNTS.credit_balance).where(_ACCOUNTS.id == bindparam("account_id"))
_key = _LEDGER.c.idempotency_key
_HAS_KEY = select(_LEDGER.c.id).where(_key == bindparam("key"))
_ANY_KEY = select(_LEDGER.c.id).where(_key.in_(bindparam("keys", expanding=True))).limit(1)
_KEY_AMOUNTS = select(_key, _LEDGER.c.amount).where(_key.in_(bindparam("keys", expanding=True)))
_ADD = (update(_ACCOUNTS_T).where(_ACCOUNTS.id == bindparam("account_id"))
        .values(credit_balance=_ACCOUNTS.credit_balance + bindparam("amount"))
        .returning(_ACCOUNTS.credit_balance, _ACCOUNTS.low_credit_threshold))
_GUARDED_ADD = _ADD.where(_ACCOUNTS.credit_balance >= bindparam("cost"))
_INSERT_MANY = insert(_LEDGER)


# FOR NO KEY UPDATE: the lock an UPDATE of the balance takes. (FOR UPDATE would also
# block every insert whose foreign key points at the account: goals, cards, events.)
_LOCK = (select(_ACCOUNTS.id).where(_ACCOUNTS.id == bindparam("account_id"))
         .with_for_update(key_share=True))


def lock_account(session: Session, account_id: AccountId) -> None:
    """Take the account row's lock now (Postgres; SQLite's writers are serialised anyway).

    Every movement of credits locks that row first; code that changes a goal's cards
    and may move credits on the way (cancelling a card or a whole goal, recovering a card
    whose worker stopped) calls this before it reads or touches any card, so it takes its
    locks in the order a finishing card does (account, goal, cards): the two cannot
    wait on each other, and it reads the cards as a finish in flight left them.
    """
    if session.get_bind().dialect.name != "sqlite":
        session.execute(_LOCK, {"account_id": account_id})


def balance(session: Session, account_id: AccountId) -> int:
    """The account's spendable credits."""
    return int(session.scalar(_BALANCE, {"account_id": account_id}) or 0)


def ledger_sum(session: Session, account_id: AccountId) -> int:
    """The sum of the ledger; always equals ``balance`` (tests assert it)."""
    return int(
        session.scalar(
            select(func.coalesce(func.sum(CreditLedgerEntry.amount), 0)).where(
                of_account(CreditLedgerEntry, account_id)
            )
        )
        or 0
    )


def has_entry(session: Session, key: str) -> bool:
    """Whether an idempotent movement with this key was already recorded."""
    return session.scalar(_HAS_KEY, {"key": key}) is not None


@functools.cache
def _ledger_insert(dialect: str) -> Insert:
    """``INSERT … ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`` (built once)."""
    table = _LEDGER
    dialect_insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return (dialect_insert(table).on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(table.c.id))


def _entry(account_id: AccountId, kind: EntryKind, amount: int, balance_after: int,
           key: str | None, refs: Refs, actor: str, reason: str) -> dict[str, object]:
    """One ledger row, every column named (for a single insert or a multi-row one)."""
    return {"account_id": account_id, "kind": kind, "amount": amount,
            "balance_after": balance_after, "idempotency_key": key, "goal_id": refs.goal_id,
            "task_id": refs.task_id, "agent_id": refs.agent_id, "actor": actor,
            "reason": reason, "created_at": utcnow()}


def _move(
    session: Session,
    account_id: AccountId,
    amount: int,
    kind: EntryKind,
    *,
    key: str | None,
    refs: Refs,
    actor: str,
    reason: str,
    guarded: bool,
) -> int | None:
    """Change the balance by ``amount`` and write the entry (its id); ``None`` if ``key`` was seen.

    Two statements and no savepoint: the guarded balance update, then the entry,
    inserted unless its key exists (``ON CONFLICT DO NOTHING``; on Postgres a
    racing insert of the same key waits for the other transaction, then finds it).
    A key already seen puts the balance back in the same transaction, so a
    redelivery moves nothing and the caller's transaction goes on.
    """
    moved = session.execute(_GUARDED_ADD if guarded and amount < 0 else _ADD, {
        "account_id": account_id, "amount": amount, "cost": -amount}).first()
    if moved is None:
        if key is not None and has_entry(session, key):
            return None  # a repeat of a movement already made: nothing to pay
        raise InsufficientCredits(
            "Out of credits — top up or ask your admin. "
            f"This needs {-amount} credit(s)."
        )
    new_balance, threshold = moved
    entry_id = session.execute(
        _ledger_insert(session.get_bind().dialect.name),
        _entry(account_id, kind, amount, new_balance, key, refs, actor, reason),
    ).scalar_one_or_none()
    if entry_id is None:  # the key was seen: undo the balance change
        session.execute(_ADD, {"account_id": account_id, "amount": -amount})
        return None
    low.after_debit(session, account_id, before=new_balance - amount, after=new_balance,
                    threshold=threshold)
    return int(entry_id)


def grant(
    session: Session,
    account_id: AccountId,
    amount: int,
    *,
    actor: str,
    reason: str,
    kind: EntryKind = EntryKind.GRANT,
    key: str | None = None,
    resume: bool = False,
) -> int | None:
    """Add credits: a signup grant, an admin's grant, a top-up (``kind=TOPUP``).

    ``resume=True`` lets work the account's balance or caps held back carry on by
    itself once this commits (the admin console and top-ups want that; a new
    account has nothing to resume). ``key`` makes a payment webhook's redelivery
    harmless (one top-up per payment id).
    """
    if amount <= 0:
        raise InvalidInput("Grant a positive whole number of credits.", field="amount")
    entry = _move(session, account_id, amount, kind, key=key, refs=NO_REFS, actor=actor,
                  reason=reason, guarded=False)
    if entry is not None and resume:
        schedule_resume(session, account_id)
    return entry


def schedule_resume(session: Session, account_id: AccountId) -> None:
    """After this transaction commits, unblock cards and paused goals that can go on now."""
    enqueue(session, "resume_account", account_id=int(account_id))


def adjust(
    session: Session, account_id: AccountId, amount: int, *, actor: str, reason: str,
    key: str | None = None,
) -> int | None:
    """An admin correction, up or down; a downward one cannot overdraw.

    An upward one resumes blocked work, like a top-up. ``key`` makes a retried request
    harmless (``None`` comes back for a key already recorded).
    """
    if amount == 0:
        raise InvalidInput("An adjustment must change the balance.", field="amount")
    if not reason.strip():
        raise InvalidInput("Say why the balance is adjusted.", field="reason")
    try:
        entry = _move(session, account_id, amount, EntryKind.ADJUSTMENT, key=key,
                      refs=NO_REFS, actor=actor, reason=reason, guarded=True)
    except InsufficientCredits:  # said to the admin making it, not to an operator
        has = balance(session, account_id)
        raise InvalidInput(f"This account has {has:,} credit{'' if has == 1 else 's'}: an "
                           f"adjustment can take away at most that many, not {-amount:,}.",
                           field="amount") from None
    if amount > 0 and entry is not None:
        schedule_resume(session, account_id)
    return entry


def reserve(
    session: Session, account_id: AccountId, key: str, amount: int, *, refs: Refs, reason: str
) -> bool:
    """Hold ``amount`` credits for work about to start; False if the account can't pay.

    Idempotent on ``key``: a repeated reservation returns True and holds nothing more.
    """
    try:
        _move(session, account_id, -amount, EntryKind.RESERVATION, key=f"{key}:reserve",
              refs=refs, actor="system", reason=reason, guarded=True)
    except InsufficientCredits:
        return False
    return True


@dataclass(frozen=True)
class Hold:
    """One reservation of a batch (``take_many``, then ``keep_holds``)."""

    key: str
    amount: int
    refs: Refs
    reason: str


@dataclass(frozen=True)
class Taken:
    """Credits taken from the balance for a batch of holds whose entries are not yet
    written (``take_many``, then ``keep_holds``)."""

    account_id: AccountId
    holds: Sequence[Hold]
    balance: int  # after taking them all


def take_many(session: Session, account_id: AccountId, holds: Sequence[Hold]) -> Taken | None:
    """Step one of holding credits for several pieces of work at once: one guarded
    balance update for the total, which locks the account row. ``None``, with
    nothing moved, if the account cannot pay them all or one of the keys was already
    used (the caller then reserves one by one, which sorts out which can start).

    The caller then claims the work (its rows locked after the account's, the order
    every credit movement follows) and calls ``keep_holds`` with what it claimed.
    """
    keys = [f"{h.key}:reserve" for h in holds]
    if not holds or session.scalar(_ANY_KEY, {"keys": keys}) is not None:
        return None
    total = sum(h.amount for h in holds)
    moved = session.execute(_GUARDED_ADD, {"account_id": account_id, "amount": -total,
                                           "cost": total}).first()
    if moved is None:
        return None
    new_balance, threshold = moved
    low.after_debit(session, account_id, before=new_balance + total, after=new_balance,
                    threshold=threshold)
    return Taken(account_id, list(holds), int(new_balance))


def keep_holds(session: Session, taken: Taken, keys: Collection[str]) -> None:
    """Step two: write the entries of the holds whose work was claimed (by ``key``),
    in one multi-row insert, and put the others' credits back (someone else claimed
    that work first, and holds for it in their own transaction)."""
    kept = [h for h in taken.holds if h.key in keys]
    back = sum(h.amount for h in taken.holds) - sum(h.amount for h in kept)
    running = taken.balance
    if back:
        running = session.execute(_ADD, {"account_id": taken.account_id,
                                         "amount": back}).scalar_one()
    running += sum(h.amount for h in kept)
    rows = []
    for hold in kept:
        running -= hold.amount
        rows.append(_entry(taken.account_id, EntryKind.RESERVATION, -hold.amount, running,
                           f"{hold.key}:reserve", hold.refs, "system", hold.reason))
    if rows:
        session.execute(_INSERT_MANY, rows)


def reserved_amount(session: Session, key: str) -> int:
    """How much the reservation ``key`` holds (0 if there is none)."""
    amount = session.scalar(
        select(CreditLedgerEntry.amount).where(CreditLedgerEntry.idempotency_key == f"{key}:reserve")
    )
    return -int(amount or 0)


def settle(
    session: Session, account_id: AccountId, key: str, actual: int, *, refs: Refs, reason: str,
    held: int | None = None,
) -> int:
    """Turn the reservation ``key`` into the actual charge; returns credits charged.

    Releases what was held but not used. If the work cost more than was held,
    the extra is taken only as far as the balance goes (never below zero): the
    work already happened, so settling must never fail. The guarded update first
    asks for all of it (the balance is not read: an account that can pay, the
    common case, settles in one update); if that fails, we read the balance and
    ask for what is left, and again if a concurrent reservation drained it
    meanwhile (the balance only shrinks under contention, so this ends, at worst
    with extra 0). Idempotent on ``key``: a second settlement charges nothing
    and returns 0.

    ``held``: the reservation's amount, if the caller read it with its own rows
    (``hold_amount``; 0 if there is none); the settlement then skips reading it and
    trusts it. A repeat is then caught by the entry's key instead: its balance change
    is undone in the same transaction, or, if the account could not pay the extra,
    none is made.
    """
    settle_key = f"{key}:settle"
    if held is None:
        seen: dict[str | None, int] = dict(session.execute(
            _KEY_AMOUNTS, {"keys": [f"{key}:reserve", settle_key]}).all())
        if settle_key in seen:
            return 0
        held = -int(seen.get(f"{key}:reserve") or 0)
    actual = max(0, actual)
    for attempt in range(100):
        charged = min(actual, held)
        extra = actual - held
        if extra > 0:
            charged = actual if attempt == 0 else (
                held + min(extra, max(0, balance(session, account_id))))
        try:
            entry = _move(session, account_id, held - charged, EntryKind.SETTLEMENT,
                          key=settle_key, refs=refs, actor="system", reason=reason,
                          guarded=True)
        except InsufficientCredits:
            continue  # the balance moved under us; take what is left now
        return charged if entry is not None else 0
    # Unreachable in practice: settle for exactly what was held (never overdraws).
    entry = _move(session, account_id, 0, EntryKind.SETTLEMENT, key=settle_key, refs=refs,
                  actor="system", reason=reason, guarded=True)
    return held if entry is not None else 0


def hold_amount(key: ColumnElement[str]) -> ScalarSelect[int]:
    """A scalar subquery: the credits the reservation ``key`` (a bound parameter or
    expression naming the attempt, as given to ``settle``) holds, NULL if none; for a
    caller that reads it together with its own rows and passes it to ``settle``.
    The statement needs the ``tenant`` parameter (``tenancy.in_account``)."""
    return (select(-_LEDGER.c.amount)
            .where(_key == key + ":reserve", in_account(_LEDGER))
            .scalar_subquery())


def is_settled(session: Session, key: str) -> bool:
    """Whether the reservation ``key`` was already settled or released."""
    return has_entry(session, f"{key}:settle")


def release(session: Session, account_id: AccountId, key: str, *, refs: Refs, reason: str) -> None:
    """Give back a whole reservation for work that never ran."""
    settle(session, account_id, key, 0, refs=refs, reason=reason)
