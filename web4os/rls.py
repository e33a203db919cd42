"""Postgres DDL for row-level security, the second tenant wall (see ``tenancy``).

Migrations import this module, never the runtime: what a migration creates must
not change when the live code does, and importing it loads no engine or settings.
"""

from __future__ import annotations

_ACCOUNT_SETTING = "NULLIF(current_setting('web4os.account_id', true), '')::integer"
_USER_SETTING = "NULLIF(current_setting('web4os.user_id', true), '')::integer"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def rls_role_statements(role: str) -> list[str]:
    """Create the restricted role if we may, and give it plain DML on this schema.

    Each step tolerates missing privileges (a NOTICE, not a failure): without the
    role the policies below still exist, they just never bite.
    """
    r = _literal(role)
    return [f"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {r}) THEN
    BEGIN
      EXECUTE format('CREATE ROLE %I NOLOGIN', {r});
    EXCEPTION
      WHEN duplicate_object THEN NULL;
      WHEN insufficient_privilege THEN
        RAISE NOTICE 'web4os: cannot create role %, row-level security stays dormant', {r};
    END;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {r}) THEN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), {r});
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO %I',
                   current_schema(), {r});
    EXECUTE format('GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA %I TO %I',
                   current_schema(), {r});
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, '
                   'DELETE ON TABLES TO %I', current_schema(), {r});
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT, UPDATE '
                   'ON SEQUENCES TO %I', current_schema(), {r});
    IF NOT pg_has_role(current_user, {r}, 'MEMBER') THEN
      BEGIN
        EXECUTE format('GRANT %I TO %I', {r}, current_user);
      EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'web4os: % cannot switch to role %', current_user, {r};
      END;
    END IF;
  END IF;
END
$$"""]


def rls_enable_statements(table: str, role: str, *, once_per_statement: bool = True) -> list[str]:
    """Enable and force RLS on a tenant-owned table.

    One policy: the restricted role sees and writes only the bound account's rows;
    every other role (system sessions, migrations, the table owner) passes.

    ``once_per_statement`` (set by migration 0003; 0002 creates the policies without it): the
    settings and the role check sit in scalar subqueries, which Postgres works out
    once per statement (InitPlans) instead of calling ``current_setting()`` and
    parsing its text again for every row a query looks at. Same rows either way.
    Each migration passes the flag explicitly, so what it creates never changes.
    """
    role_check = f"current_user <> {_literal(role)}"
    account, user = _ACCOUNT_SETTING, _USER_SETTING
    if once_per_statement:
        role_check, account, user = (f"(SELECT {x})" for x in (role_check, account, user))
    only_tenant = f"{role_check} OR account_id = {account}"
    stmts = [
        f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY',
        f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY',
        f'DROP POLICY IF EXISTS tenant_isolation ON "{table}"',
        f'CREATE POLICY tenant_isolation ON "{table}" USING ({only_tenant}) '
        f"WITH CHECK ({only_tenant})",
    ]
    if table == "memberships":
        # A member sees their own memberships elsewhere (the account switcher).
        stmts += [
            'DROP POLICY IF EXISTS own_memberships ON "memberships"',
            f'CREATE POLICY own_memberships ON "memberships" FOR SELECT '
            f"USING (user_id = {user})",
        ]
    return stmts


def rls_disable_statements(table: str) -> list[str]:
    """Undo ``rls_enable_statements`` (the role is left alone: it is cluster-wide)."""
    stmts = [
        f'DROP POLICY IF EXISTS tenant_isolation ON "{table}"',
        f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY',
        f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY',
    ]
    if table == "memberships":
        stmts.insert(0, 'DROP POLICY IF EXISTS own_memberships ON "memberships"')
    return stmts
