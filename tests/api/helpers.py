"""Tokens for the API tests: one per role of an account, and a platform admin's."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tests.factories import PASSWORD, Tenant
from web4os.accounts import service as accounts
from web4os.accounts.models import Role, User
from web4os.accounts.tokens import create_token
from web4os.admin.tokens import create_admin_token
from web4os.tenancy import bind_account


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def role_tokens(db: Session, tenant: Tenant) -> dict[str, str]:
    """An owner's, an operator's and a viewer's token of ``tenant`` (committed)."""
    db.rollback()  # a fresh transaction: the app may have written since the last read
    bind_account(db, tenant.id)
    users = {Role.OWNER: tenant.owner, Role.OPERATOR: tenant.operator, Role.VIEWER: tenant.viewer}
    out = {role.value: create_token(db, tenant.ctx(user, role), name=f"{role.value} token",
                                    role=role).secret
           for role, user in users.items()}
    db.commit()
    return out


def make_admin(db: Session, email: str = "admin@example.com") -> User:
    admin = accounts.ensure_admin(db, email, PASSWORD)
    db.commit()
    return admin


def admin_token(db: Session, admin: User | None = None) -> str:
    """A live admin token of ``admin`` (a fresh platform admin if none)."""
    db.rollback()
    secret = create_admin_token(db, admin or make_admin(db), name="test admin").secret
    db.commit()
    return secret
