"""THE one place tenant scoping happens.

Only code in this module (and the auth code that calls ``TenantContext``)
turns a raw integer into an ``AccountId``; repository functions take an
``AccountId``, so an unscoped call does not type-check. Queries start from
``scoped()`` / ``get_owned()``; a statement built once for every account (the
workers' hot paths) takes its filter from ``in_account()``, the account a bound
parameter.

The second wall (Postgres only; a no-op on SQLite): row-level security.
Migration 0002 enables and FORCEs RLS on every tenant-owned table, with a
policy ``account_id = current_setting('web4os.account_id')`` that applies to
the restricted role ``web4os_app`` (``WEB4OS_TENANT_DB_ROLE``). Every
transaction of a session has one of three shapes, set up by the
``after_begin`` hook below:

* **tenant-bound** (``bind_account``: web requests once the viewer is known,
  API tokens, ``tenant_session`` in workers): the transaction sets
  ``web4os.account_id`` / ``web4os.user_id`` and drops to the restricted role
  with ``SET LOCAL ROLE``, so even a query that forgets ``scoped()`` sees and
  writes only this account's rows. A member also sees their own memberships
  in other accounts (for the account switcher).
* **system** (``bind_system``: the sweeper's ``system_session``, the admin
  console, signup, invite acceptance — work that is cross-account by nature
  or happens before a tenant is known): no role switch, the setting is
  cleared. These run as the connecting role, which must bypass RLS
  (superuser, ``BYPASSRLS``, or the tables' owner thanks to the permissive
  ``system`` policy that lets every role other than ``web4os_app`` through).
* **unbound** (a fresh session: login, session-cookie and token resolution
  before the tenant is known): like system.

The role switch is auto-detected per engine (the role exists and the
connecting user may assume it) and harmless when it is missing: then only the
first wall (``scoped()``/``get_owned()``) stands, and the isolation tests
still check that.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NewType, Protocol, TypeVar, cast

from sqlalchemy import ColumnElement, Select, bindparam, event, select, text
from sqlalchemy.orm import Session, SessionTransaction

from web4os.config import get_settings
from web4os.db import unit_of_work
from web4os.errors import NotFound

AccountId = NewType("AccountId", int)

_TENANT_KEY = "web4os.account_id"
_USER_KEY = "web4os.user_id"
_SYSTEM_KEY = "web4os.system"


class TenantOwned(Protocol):
    """A mapped class with an ``id`` and an ``account_id`` column."""

    id: int
    account_id: int


T = TypeVar("T", bound=TenantOwned)


@dataclass(frozen=True)
class TenantContext:
    """Who is acting, for which account, with which role (a ``Role`` value)."""

    account_id: AccountId
    user_id: int | None
    role: str
    actor: str

    @classmethod
    def system(cls, account_id: int, actor: str = "system") -> TenantContext:
        """Context for workers and the CEO agent acting on an account's behalf."""
        return cls(account_id=AccountId(account_id), user_id=None, role="owner", actor=actor)


def account_id_of(row: TenantOwned) -> AccountId:
    """The account a loaded row belongs to (for code that starts from a row id it claimed)."""
    return AccountId(row.account_id)


def scoped(model: type[T], account_id: AccountId) -> Select[T]:
    """``SELECT model WHERE account_id = :account`` — start every tenant query here."""
    columns: Any = model  # class-level attributes are SQL columns, not ints
    return select(model).where(columns.account_id == account_id)


def get_owned(session: Session, model: type[T], row_id: int, account_id: AccountId) -> T:
    """Load one row of this account or raise ``NotFound`` (also for other accounts' rows)."""
    row: T | None = session.scalars(_owned_stmt(model),
                                    {"tenant": account_id, "row_id": row_id}).first()
    if row is None:
        raise NotFound(f"No such {model.__name__.lower()}.")
    return row


def of_account(model: Any, account_id: AccountId) -> ColumnElement[bool]:
    """``model.account_id = :account``: the tenant filter of a query that does not start
    from ``scoped()`` (aggregates, joins, a column list). ``model`` is a mapped class, an
    alias or a ``Table``."""
    column = model.c.account_id if hasattr(model, "c") else model.account_id
    return cast(ColumnElement[bool], column == account_id)


def in_account(model: Any) -> ColumnElement[bool]:
    """``model.account_id = :tenant``, the account a bound parameter: the tenant filter
    of a statement built once and run for every account (the hot paths of the workers).
    Run such a statement with ``{"tenant": account_id}`` among its parameters (a name no
    column has: an UPDATE would take a parameter named like a column for its SET).
    ``model`` is a mapped class or its ``Table`` (Core statements, which skip the ORM's
    per-statement work where no object is loaded)."""
    column = model.c.account_id if hasattr(model, "c") else model.account_id  # tables, aliases
    return cast(ColumnElement[bool], column == bindparam("tenant"))


@functools.cache
def _owned_stmt(model: type[T]) -> Select[T]:
    """``scoped(model)`` for one id, built once per model (workers load rows by id a lot)."""
    columns: Any = model
    return select(model).where(in_account(model), columns.id == bindparam("row_id"))


def bind_account(session: Session, account_id: AccountId | None,
                 user_id: int | None = None) -> None:
    """Tag the session with its tenant; every transaction then runs inside its wall.

    Rows still pending are written first, under the binding they were made in
    (history events wait for the next flush, see ``goals.statemachine``).
    """
    if session.in_transaction() and (session.new or session.dirty or session.deleted):
        session.flush()
    session.info[_TENANT_KEY] = account_id
    session.info[_USER_KEY] = user_id
    session.info.pop(_SYSTEM_KEY, None)
    if session.in_transaction():
        _apply(session)


def bind_system(session: Session) -> None:
    """Mark the session as deliberately cross-account (admin console, sweeper, signup).

    Drops any tenant binding for the rest of the session, current transaction included.
    """
    if session.in_transaction() and (session.new or session.dirty or session.deleted):
        session.flush()
    session.info[_TENANT_KEY] = None
    session.info[_USER_KEY] = None
    session.info[_SYSTEM_KEY] = True
    if session.in_transaction():
        _apply(session)


def bound_account(session: Session) -> AccountId | None:
    """The account this session is bound to, if any."""
    value: AccountId | None = session.info.get(_TENANT_KEY)
    return value


def is_system(session: Session) -> bool:
    """True for sessions marked cross-account with ``bind_system``."""
    return bool(session.info.get(_SYSTEM_KEY))


# --- Postgres: per-transaction settings and the restricted role ---------------------

_SET_TENANT = text("SELECT set_config('web4os.account_id', :a, true), "
                   "set_config('web4os.user_id', :u, true)")
# One round trip: the settings and SET LOCAL ROLE ('none' = back to the login role).
_SET_TENANT_AND_ROLE = text("SELECT set_config('web4os.account_id', :a, true), "
                            "set_config('web4os.user_id', :u, true), "
                            "set_config('role', :r, true)")
_CAN_SWITCH = text("SELECT pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles "
                   "WHERE rolname = :r")
_switchable: dict[str, bool] = {}
_switch_lock = threading.Lock()


def tenant_role() -> str:
    """The restricted database role tenant transactions run as ('' disables switching)."""
    return get_settings().tenant_db_role


def _can_switch(conn: Any, role: str) -> bool:
    """Whether this engine's login may ``SET ROLE`` to ``role`` (checked once per engine)."""
    key = f"{conn.engine.url!r}|{role}"
    with _switch_lock:
        known = _switchable.get(key)
    if known is None:
        known = bool(conn.execute(_CAN_SWITCH, {"r": role}).scalar())
        with _switch_lock:
            _switchable[key] = known
    return known


def forget_role_checks() -> None:
    """Re-detect the restricted role next time (after a migration creates it)."""
    with _switch_lock:
        _switchable.clear()


def _apply(session: Session, conn: Any = None) -> None:
    conn = conn if conn is not None else session.connection()
    if conn.dialect.name != "postgresql":
        return
    account = session.info.get(_TENANT_KEY)
    user = session.info.get(_USER_KEY)
    params = {"a": "" if account is None else str(int(account)),
              "u": "" if user is None else str(int(user))}
    role = tenant_role()
    if role and _can_switch(conn, role):
        conn.execute(_SET_TENANT_AND_ROLE, {**params, "r": role if account is not None else "none"})
    else:
        conn.execute(_SET_TENANT, params)


@event.listens_for(Session, "after_begin")
def _set_tenant_on_begin(session: Session, tx: SessionTransaction, conn: Any) -> None:
    # A savepoint lives inside a transaction whose settings are already made.
    if session.info.get(_TENANT_KEY) is not None and not tx.nested:
        _apply(session, conn)


# --- sessions for jobs: bound to one account, or explicitly to none (the sweeper) ---
@contextmanager
def tenant_session(account_id: int) -> Iterator[Session]:
    """A unit of work for one account: commit on success, roll back on error."""
    if not account_id:
        raise ValueError("A job must name its account (fail closed: no default tenant).")
    with unit_of_work() as session:
        bind_account(session, AccountId(account_id))
        yield session


@contextmanager
def system_session() -> Iterator[Session]:
    """A cross-account session for the sweeper and admin jobs; reads ids, changes nothing."""
    with unit_of_work() as session:
        bind_system(session)
        yield session
