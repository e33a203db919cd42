"""Imports every table so metadata is complete (Alembic and tests use this)."""

from web4os.accounts.models import (
    Account,
    ApiToken,
    Invite,
    LoginAttempt,
    Membership,
    User,
    WebSession,
)
from web4os.agents.models import Agent, Note
from web4os.credits.models import CreditLedgerEntry
from web4os.db import Base
from web4os.files.models import StoredFile
from web4os.goals.models import Goal, Task, TaskDependency, TaskEvent

__all__ = [
    "Account",
    "Agent",
    "ApiToken",
    "Base",
    "CreditLedgerEntry",
    "Goal",
    "Invite",
    "LoginAttempt",
    "Membership",
    "Note",
    "StoredFile",
    "Task",
    "TaskDependency",
    "TaskEvent",
    "User",
    "WebSession",
]
