"""THE one place tenant scoping happens.

Only code in this module (and the auth code that calls ``TenantContext``)
turns a raw integer into an ``AccountId``; repository functions take an
``AccountId``, so an unscoped call does not type-check. On Postgres, every
transaction also carries ``web4os.account_id`` so row-level security policies
form a second wall behind these helpers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NewType, Protocol, TypeVar

from sqlalchemy import Select, event, select, text
from sqlalchemy.orm import Session, SessionTransaction

from web4os.errors import NotFound

AccountId = NewType("AccountId", int)

_TENANT_KEY = "web4os.account_id"


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
    columns: Any = model
    row = session.scalars(scoped(model, account_id).where(columns.id == row_id)).first()
    if row is None:
        raise NotFound(f"No such {model.__name__.lower()}.")
    return row


def bind_account(session: Session, account_id: AccountId | None) -> None:
    """Tag the session with its tenant; Postgres RLS reads it on every transaction."""
    session.info[_TENANT_KEY] = account_id
    if session.in_transaction():
        _apply(session)


def bound_account(session: Session) -> AccountId | None:
    """The account this session is bound to, if any."""
    value: AccountId | None = session.info.get(_TENANT_KEY)
    return value


_SET_TENANT = text("SELECT set_config('web4os.account_id', :v, true)")


def _apply(session: Session, conn: Any = None) -> None:
    conn = conn if conn is not None else session.connection()
    if conn.dialect.name != "postgresql":
        return
    value = session.info.get(_TENANT_KEY)
    conn.execute(_SET_TENANT, {"v": "" if value is None else str(int(value))})


@event.listens_for(Session, "after_begin")
def _set_tenant_on_begin(session: Session, _tx: SessionTransaction, conn: Any) -> None:
    if _TENANT_KEY in session.info:
        _apply(session, conn)
