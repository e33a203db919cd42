"""JSON API v1 for goal templates: the same services, roles and messages as the pages."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from web4os.api.deps import ApiOperator, ApiReader
from web4os.api.routes import _goal_out as goal_out
from web4os.goals.schemas import GoalOut
from web4os.goaltemplates import service
from web4os.goaltemplates.models import GoalTemplate
from web4os.goaltemplates.schemas import (
    AttachmentOut,
    GoalFromTemplate,
    TemplateIn,
    TemplateOut,
)
from web4os.tenancy import AccountId
from web4os.web.deps import SessionDep

router = APIRouter(prefix="/api/v1/templates", tags=["templates"])


def _out(session: Session, account_id: AccountId, template: GoalTemplate) -> TemplateOut:
    return TemplateOut(
        id=template.id, name=template.name, title=template.title, brief=template.brief,
        require_approval=template.require_approval, credit_cap=template.credit_cap,
        attachments=[AttachmentOut(id=f.id, name=f.name, size=f.size, knowledge=f.is_knowledge)
                     for f in service.attached_files(session, account_id, template)],
        created_at=template.created_at, updated_at=template.updated_at,
        last_used_at=template.last_used_at)


@router.get("", operation_id="list_templates")
def list_templates(session: SessionDep, ctx: ApiReader) -> list[TemplateOut]:
    return [_out(session, ctx.account_id, t)
            for t in service.list_templates(session, ctx.account_id)]


@router.post("", status_code=201, operation_id="create_template")
def create_template(body: TemplateIn, session: SessionDep, ctx: ApiOperator) -> TemplateOut:
    """``attachments``: ids of the account's files; an error names the field
    (``{"detail": …, "field": …}``)."""
    return _out(session, ctx.account_id, service.create_template(session, ctx, body))


@router.get("/{template_id}", operation_id="get_template")
def get_template(template_id: int, session: SessionDep, ctx: ApiReader) -> TemplateOut:
    return _out(session, ctx.account_id,
                service.get_template(session, ctx.account_id, template_id))


@router.put("/{template_id}", operation_id="update_template")
def update_template(template_id: int, body: TemplateIn, session: SessionDep,
                    ctx: ApiOperator) -> TemplateOut:
    return _out(session, ctx.account_id,
                service.update_template(session, ctx, template_id, body))


@router.delete("/{template_id}", status_code=204, operation_id="delete_template")
def delete_template(template_id: int, session: SessionDep, ctx: ApiOperator) -> Response:
    """Delete: gone from lists; routines that run it fail their runs with a reason."""
    service.delete_template(session, ctx, template_id)
    return Response(status_code=204)


@router.post("/{template_id}/goals", status_code=201, operation_id="start_goal_from_template")
def start_goal(template_id: int, session: SessionDep, ctx: ApiOperator,
               body: GoalFromTemplate | None = None) -> GoalOut:
    """Start a goal from the template's current content; fields in the body change this
    goal only."""
    goal = service.start_goal(session, ctx, template_id, body)
    return goal_out(session, ctx.account_id, goal)
