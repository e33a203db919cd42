"""Accounts, users, memberships, roles, sessions, invites and API tokens."""
