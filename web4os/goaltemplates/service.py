"""Goal templates: list, read, save, delete, and start a goal from one.

A goal started from a template is made by the goal service (``goals.service.create_goal``)
and its files are stored by the files service (``files.service.upload_many``), exactly as
the goal form does it: the same checks, credits, caps, approval and quota apply.
Deleting a template archives it: routines that point at it then fail their runs with
a reason, and its name is free again.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from web4os.accounts.models import Role
from web4os.db import utcnow
from web4os.errors import Forbidden, InvalidInput, NotFound
from web4os.files import service as files
from web4os.files.models import StoredFile
from web4os.goals import service as goals
from web4os.goals.models import Goal
from web4os.goals.schemas import GoalCreate
from web4os.goaltemplates.models import GoalTemplate
from web4os.goaltemplates.schemas import GoalFromTemplate, TemplateIn
from web4os.tenancy import AccountId, TenantContext, get_owned, scoped


class TemplateNotFound(NotFound):
    """No live template of this account has the id (never made, deleted, or another's)."""


def _may_manage(ctx: TenantContext) -> None:
    if not Role(ctx.role).at_least(Role.OPERATOR):
        raise Forbidden(f"Your role ({ctx.role}) can't change or start templates; ask an "
                        "account owner for operator access.", needs=Role.OPERATOR.value)


def list_templates(session: Session, account_id: AccountId) -> list[GoalTemplate]:
    """The account's live templates by name."""
    return list(session.scalars(scoped(GoalTemplate, account_id)
                                .where(GoalTemplate.archived_at.is_(None))
                                .order_by(GoalTemplate.name, GoalTemplate.id)))


def get_template(session: Session, account_id: AccountId, template_id: int) -> GoalTemplate:
    """One live template of the account (a deleted one is gone for everyone)."""
    try:
        template = get_owned(session, GoalTemplate, template_id, account_id)
    except NotFound:
        raise TemplateNotFound("No such template.") from None
    if template.archived_at is not None:
        raise TemplateNotFound("No such template.")
    return template


def find_by_name(session: Session, account_id: AccountId, name: str) -> GoalTemplate | None:
    """The live template called ``name`` (case and spacing aside), if any."""
    wanted = " ".join(name.split()).casefold()
    return next((t for t in list_templates(session, account_id)
                 if t.name.casefold() == wanted), None)


def create_template(session: Session, ctx: TenantContext, data: TemplateIn) -> GoalTemplate:
    """Save a new template; its name must be free among the account's live templates."""
    _may_manage(ctx)
    template = GoalTemplate(account_id=ctx.account_id, created_by_id=ctx.user_id)
    return _save(session, ctx, template, data)


def update_template(session: Session, ctx: TenantContext, template_id: int,
                    data: TemplateIn) -> GoalTemplate:
    """Change a template; goals started from it before keep what they had."""
    _may_manage(ctx)
    return _save(session, ctx, get_template(session, ctx.account_id, template_id), data)


def delete_template(session: Session, ctx: TenantContext, template_id: int) -> None:
    """Archive the template: it is gone from lists and routines, its goals stay."""
    _may_manage(ctx)
    get_template(session, ctx.account_id, template_id).archived_at = utcnow()
    session.flush()


def _save(session: Session, ctx: TenantContext, template: GoalTemplate,
          data: TemplateIn) -> GoalTemplate:
    same = find_by_name(session, ctx.account_id, data.name)
    if same is not None and same.id != template.id:
        raise InvalidInput(f"There is already a template called “{same.name}”; pick "
                           "another name.", field="name")
    attached = check_attachments(session, ctx.account_id, data.attachments)
    template.name, template.title, template.brief = data.name, data.title, data.brief
    template.require_approval, template.credit_cap = data.require_approval, data.credit_cap
    template.attachments = [f.id for f in attached]
    if template.id is None:
        session.add(template)
    try:
        with session.begin_nested():  # a name taken meanwhile by another request
            session.flush()
    except IntegrityError:
        raise InvalidInput(f"There is already a template called “{data.name}”; pick "
                           "another name.", field="name") from None
    return template


def check_attachments(session: Session, account_id: AccountId,
                      ids: list[int]) -> list[StoredFile]:
    """The account's files with these ids, in this order; any other id is refused."""
    if not ids:
        return []
    found = {f.id: f for f in session.scalars(
        scoped(StoredFile, account_id).where(StoredFile.id.in_(ids)))}
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidInput(f"There is no file #{missing[0]} in this account to attach.",
                           field="attachments")
    return [found[i] for i in ids]


def attached_files(session: Session, account_id: AccountId,
                   template: GoalTemplate) -> list[StoredFile]:
    """The template's files that still exist, in its order."""
    ids = list(template.attachments or [])
    if not ids:
        return []
    found = {f.id: f for f in session.scalars(
        scoped(StoredFile, account_id).where(StoredFile.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def goal_fields(template: GoalTemplate, changes: GoalFromTemplate | None = None) -> GoalCreate:
    """The goal a start makes: the template's fields, with ``changes`` the caller set,
    checked by the goal's own rules (a refusal names the field)."""
    fields: dict[str, object] = {"title": template.title, "brief": template.brief,
                                 "require_approval": template.require_approval,
                                 "credit_cap": template.credit_cap}
    for name, value in (changes.model_dump(include=changes.model_fields_set)
                        if changes else {}).items():
        if value is not None or name == "credit_cap":  # an explicit null cap is no cap
            fields[name] = value
    try:
        return GoalCreate.model_validate(fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else None
        raise InvalidInput(err["msg"].removeprefix("Value error, "), field=field) from None


@dataclass(frozen=True)
class Start:
    """A start checked in full (fields, files, sizes) before anything is written."""

    template: GoalTemplate
    goal: GoalCreate
    files: list[tuple[str, bytes]]


def prepare_start(session: Session, ctx: TenantContext, template_id: int,
                  changes: GoalFromTemplate | None = None) -> Start:
    """Everything a start can refuse, refused before the goal exists: a routine records
    a refusal as its failed run, and no half-made goal is left behind."""
    _may_manage(ctx)
    template = get_template(session, ctx.account_id, template_id)
    data = goal_fields(template, changes)
    attached = attached_files(session, ctx.account_id, template)
    gone = len(template.attachments or []) - len(attached)
    if gone:
        raise InvalidInput(f"{gone} of the files this template attaches "
                           f"{'was' if gone == 1 else 'were'} deleted; edit the template's "
                           "files and start again.", field="attachments")
    copies = []
    for f in attached:
        files.check_size(f.name, f.size, session, ctx.account_id)
        try:
            copies.append((f.name, files.read_bytes(f)))
        except NotFound:
            raise InvalidInput(f"The file “{f.name}” this template attaches is missing from "
                               "storage; edit the template's files.", field="attachments") from None
    return Start(template, data, copies)


def start_prepared(session: Session, ctx: TenantContext, start: Start) -> Goal:
    """The goal of a checked start, made by the goal service, with copies of the files
    stored as the goal form's uploads are."""
    goal = goals.create_goal(session, ctx, start.goal)
    if start.files:
        files.upload_many(session, ctx, start.files, goal=goal)
    goals.log_goal_event(session, goal, kind="goal", actor=ctx.actor,
                         message=f"Started from template “{start.template.name}”.")
    start.template.last_used_at = utcnow()
    session.flush()
    return goal


def start_goal(session: Session, ctx: TenantContext, template_id: int,
               changes: GoalFromTemplate | None = None) -> Goal:
    """Start a goal from the template's current content (plus ``changes``) through the
    goal service, and attach copies of its files as the goal form's uploads are."""
    return start_prepared(session, ctx, prepare_start(session, ctx, template_id, changes))


def template_of_goal(session: Session, account_id: AccountId, goal_id: int) -> TemplateIn:
    """A template's fields prefilled from a goal (for “Save as template”): its title,
    brief, settings and attached files (not the files its cards made)."""
    goal = goals.get_goal(session, account_id, goal_id)
    ids = [f.id for f in files.list_files(session, account_id, goal_id=goal_id)
           if f.task_id is None]
    return TemplateIn.model_construct(name=goal.title[:120], title=goal.title, brief=goal.brief,
                                      require_approval=goal.require_approval,
                                      credit_cap=goal.credit_cap, attachments=ids)


def attachable_files(session: Session, account_id: AccountId, *,
                     goal_id: int | None = None, chosen: list[int] | None = None
                     ) -> list[StoredFile]:
    """Files a template form offers: the knowledge files, a goal's attachments, and
    the ones already chosen (ids that are not the account's files are left out)."""
    offered = {f.id: f for f in files.list_files(session, account_id, knowledge=True)}
    if goal_id is not None:
        offered.update((f.id, f) for f in files.list_files(session, account_id, goal_id=goal_id)
                       if f.task_id is None)
    if chosen:
        offered.update((f.id, f) for f in session.scalars(
            scoped(StoredFile, account_id).where(StoredFile.id.in_(chosen))))
    return sorted(offered.values(), key=lambda f: f.id)
