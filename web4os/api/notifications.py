"""JSON API for notifications: the list and a member's mail settings.

A token acts for the member who created it: their read marks, their choices.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from pydantic import BaseModel, Field

from web4os.accounts.deps import refuse_if_suspended
from web4os.accounts.models import Role
from web4os.api.deps import ApiOwner, ApiReader
from web4os.api.openapi import api_router
from web4os.errors import Forbidden
from web4os.notifications import prefs, service
from web4os.notifications.events import Event
from web4os.tenancy import TenantContext
from web4os.web.deps import SessionDep

router = api_router("notifications")


class NotificationOut(BaseModel):
    id: int
    event: str
    title: str
    body: str
    link: str
    goal_id: int | None
    task_id: int | None
    created_at: datetime
    unread: bool


class NotificationSettingsOut(BaseModel):
    mail_events: list[Event] = Field(description="Events mailed to this member.")
    digest_minutes: int = Field(description="At most one mail per this many minutes "
                                            "(0: each as it happens).")


class NotificationSettingsIn(BaseModel):
    mail_events: list[Event]
    digest_minutes: int = Field(description="One of 0, 15, 60, 1440.")


def _member(ctx: TenantContext) -> int:
    if ctx.user_id is None:
        raise Forbidden("This token has no member behind it (its creator was removed).")
    return ctx.user_id


def _active_member(request: Request, ctx: ApiReader) -> TenantContext:
    """Any member's token, viewers' too (the choices are their own), while the account is
    active; checked before the body is read, so a suspended account hears why first."""
    _member(ctx)
    refuse_if_suspended(request, request.state.api_account)
    return ctx


ApiActiveMember = Annotated[TenantContext, Depends(_active_member)]


@router.get("/notifications", response_model=list[NotificationOut])
def list_notifications(session: SessionDep, ctx: ApiReader) -> list[NotificationOut]:
    return [NotificationOut(id=n.row.id, event=n.row.event, title=n.row.title, body=n.row.body,
                            link=n.row.link, goal_id=n.row.goal_id, task_id=n.row.task_id,
                            created_at=n.row.created_at, unread=n.unread)
            for n in service.list_for(session, ctx.account_id, _member(ctx))]


@router.get("/notifications/settings", response_model=NotificationSettingsOut)
def get_settings(session: SessionDep, ctx: ApiReader) -> NotificationSettingsOut:
    _member(ctx)
    p = prefs.preferences(session, ctx)
    return NotificationSettingsOut(mail_events=sorted(p.events), digest_minutes=p.digest_minutes)


@router.put("/notifications/settings", response_model=NotificationSettingsOut)
def put_settings(body: NotificationSettingsIn, session: SessionDep,
                 ctx: ApiActiveMember) -> NotificationSettingsOut:
    p = prefs.save_preferences(session, ctx, [e.value for e in body.mail_events],
                               str(body.digest_minutes))
    return NotificationSettingsOut(mail_events=sorted(p.events), digest_minutes=p.digest_minutes)


class ReadOut(BaseModel):
    unread: int = Field(description="This member's notifications still unread.")


class ThresholdIn(BaseModel):
    low_credit_threshold: int = Field(description="Below this balance members hear that "
                                                  "credits run low (0: never).")


def _unread(session: SessionDep, ctx: TenantContext) -> ReadOut:
    return ReadOut(unread=service.unread_count(session, ctx.account_id, _member(ctx),
                                               Role(ctx.role)))


@router.post("/notifications/read-all")
def mark_all_notifications_read(session: SessionDep, ctx: ApiReader) -> ReadOut:
    """Everything so far counts as read for the token's member (viewers too)."""
    service.mark_all_read(session, ctx.account_id, _member(ctx))
    return _unread(session, ctx)


@router.post("/notifications/{notification_id}/read")
def mark_notification_read(notification_id: int, session: SessionDep,
                           ctx: ApiReader) -> ReadOut:
    service.mark_read(session, ctx.account_id, _member(ctx), notification_id)
    return _unread(session, ctx)


@router.get("/notifications/low-credit-threshold")
def get_low_credit_threshold(session: SessionDep, ctx: ApiReader) -> ThresholdIn:
    return ThresholdIn(low_credit_threshold=prefs.low_credit_threshold(session, ctx.account_id))


@router.put("/notifications/low-credit-threshold")
def put_low_credit_threshold(body: ThresholdIn, session: SessionDep,
                             ctx: ApiOwner) -> ThresholdIn:
    """An owner's setting for the whole account."""
    return ThresholdIn(low_credit_threshold=prefs.set_low_credit_threshold(
        session, ctx, str(body.low_credit_threshold)))
