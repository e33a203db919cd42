"""Imports every table so metadata is complete (Alembic and tests use this)."""

from web4os.accounts.models import (
    Account,
    ApiToken,
    Invite,
    Membership,
    RateEvent,
    User,
    WebSession,
)
from web4os.agents.models import Agent, Note
from web4os.credits.models import CreditLedgerEntry
from web4os.db import Base
from web4os.files.models import StoredFile
from web4os.goals.models import Goal, Task, TaskDependency, TaskEvent
from web4os.goaltemplates.models import GoalTemplate
from web4os.notifications.models import (
    Notification,
    NotificationMail,
    NotificationRead,
    NotificationSettings,
)
from web4os.routines.models import Routine, RoutineRun
from web4os.tools.models import AgentToolPolicy, McpServer, McpTool, ToolCall
from web4os.webhooks.models import WebhookDelivery, WebhookEndpoint

__all__ = [
    "Account",
    "Agent",
    "AgentToolPolicy",
    "ApiToken",
    "Base",
    "CreditLedgerEntry",
    "Goal",
    "GoalTemplate",
    "Invite",
    "McpServer",
    "McpTool",
    "Membership",
    "Note",
    "Notification",
    "NotificationMail",
    "NotificationRead",
    "NotificationSettings",
    "RateEvent",
    "Routine",
    "RoutineRun",
    "StoredFile",
    "Task",
    "TaskDependency",
    "TaskEvent",
    "ToolCall",
    "User",
    "WebSession",
    "WebhookDelivery",
    "WebhookEndpoint",
]
