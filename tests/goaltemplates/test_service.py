"""The template service: save, change, delete, and start a goal that carries the
template's title, brief, approval, cap and files, by the goal service's own rules."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import Tenant, make_goal, make_tenant
from tests.goaltemplates.conftest import knowledge_file, make_template
from web4os.accounts.models import Role
from web4os.errors import Forbidden, InvalidInput, NotFound
from web4os.files import service as files
from web4os.files.models import StoredFile
from web4os.goals.models import TaskEvent
from web4os.goaltemplates import service
from web4os.goaltemplates.schemas import GoalFromTemplate, TemplateIn

pytestmark = pytest.mark.usefixtures("held_queue")  # started goals ask for a plan


def test_a_started_goal_has_the_templates_fields_and_copies_of_its_files(
        db: Session, tenant: Tenant) -> None:
    style = knowledge_file(db, tenant)
    template = make_template(db, tenant, attachments=[style.id])
    goal = service.start_goal(db, tenant.ctx(tenant.operator, Role.OPERATOR), template.id)
    db.commit()
    assert (goal.title, goal.brief, goal.require_approval, goal.credit_cap) == (
        "Write this week's newsletter", "Three stories and a recipe.", True, 60)
    attached = files.list_files(db, tenant.id, goal_id=goal.id)
    assert [(f.name, files.read_bytes(f)) for f in attached] == [
        ("style.txt", b"Write warmly, short sentences.")]
    assert attached[0].id != style.id  # a copy: deleting the goal's file keeps the template's
    assert template.last_used_at is not None
    messages = db.scalars(select(TaskEvent.message).where(TaskEvent.goal_id == goal.id))
    assert "Started from template “Weekly newsletter”." in list(messages)


def test_changes_for_one_goal_leave_the_template_as_it_was(db: Session, tenant: Tenant) -> None:
    template = make_template(db, tenant)
    goal = service.start_goal(db, tenant.ctx(), template.id, GoalFromTemplate(
        title="Newsletter: spring issue", credit_cap=None))
    assert (goal.title, goal.brief, goal.credit_cap) == (
        "Newsletter: spring issue", "Three stories and a recipe.", None)
    assert service.get_template(db, tenant.id, template.id).title == "Write this week's newsletter"
    with pytest.raises(InvalidInput) as err:
        service.start_goal(db, tenant.ctx(), template.id, GoalFromTemplate(title="  "))
    assert err.value.field == "title" and "Give the goal a title" in err.value.message


def test_names_are_unique_among_live_templates_and_a_deleted_one_frees_its_name(
        db: Session, tenant: Tenant) -> None:
    first = make_template(db, tenant)
    with pytest.raises(InvalidInput) as err:
        make_template(db, tenant, name="weekly   NEWSLETTER")
    assert err.value.field == "name" and "already a template" in err.value.message
    db.rollback()
    service.delete_template(db, tenant.ctx(), first.id)
    db.commit()
    with pytest.raises(NotFound):
        service.get_template(db, tenant.id, first.id)
    assert make_template(db, tenant).id != first.id
    assert [t.name for t in service.list_templates(db, tenant.id)] == ["Weekly newsletter"]


def test_edit_changes_what_the_next_goal_starts_with(db: Session, tenant: Tenant) -> None:
    template = make_template(db, tenant)
    service.update_template(db, tenant.ctx(), template.id, TemplateIn(
        name="Weekly newsletter", title="Write the newsletter", brief="", credit_cap=None))
    goal = service.start_goal(db, tenant.ctx(), template.id)
    assert (goal.title, goal.brief, goal.require_approval, goal.credit_cap) == (
        "Write the newsletter", "", False, None)


def test_only_the_accounts_own_files_can_be_attached(db: Session, tenant: Tenant) -> None:
    other = make_tenant(db, "Other Co")
    theirs = knowledge_file(db, other, name="secret.txt")
    with pytest.raises(InvalidInput) as err:
        make_template(db, tenant, attachments=[theirs.id])
    assert err.value.field == "attachments" and f"#{theirs.id}" in err.value.message


def test_a_deleted_file_stops_the_start_with_a_reason(db: Session, tenant: Tenant) -> None:
    style = knowledge_file(db, tenant)
    template = make_template(db, tenant, attachments=[style.id])
    files.delete_file(db, tenant.ctx(), style.id)
    db.commit()
    with pytest.raises(InvalidInput) as err:
        service.start_goal(db, tenant.ctx(), template.id)
    assert err.value.field == "attachments" and "deleted" in err.value.message


def test_viewers_read_but_do_not_change_or_start(db: Session, tenant: Tenant) -> None:
    template = make_template(db, tenant)
    viewer = tenant.ctx(tenant.viewer, Role.VIEWER)
    assert service.list_templates(db, tenant.id) == [template]
    with pytest.raises(Forbidden):
        service.start_goal(db, viewer, template.id)
    with pytest.raises(Forbidden):
        service.delete_template(db, viewer, template.id)


def test_another_accounts_template_is_not_found(db: Session, tenant: Tenant) -> None:
    template = make_template(db, tenant)
    other = make_tenant(db, "Other Co")
    db.commit()
    with pytest.raises(NotFound):
        service.get_template(db, other.id, template.id)
    with pytest.raises(NotFound):
        service.start_goal(db, other.ctx(), template.id)
    assert service.list_templates(db, other.id) == []


def test_save_as_template_takes_the_goals_fields_and_attachments(db: Session,
                                                                 tenant: Tenant) -> None:
    goal = make_goal(db, tenant, "Spring promotion", brief="Flowers", credit_cap=30)
    files.upload(db, tenant.ctx(), name="poster.txt", data=b"Poster", goal=goal)
    db.commit()
    data = service.template_of_goal(db, tenant.id, goal.id)
    ids = list(db.scalars(select(StoredFile.id).where(StoredFile.goal_id == goal.id)))
    assert (data.name, data.title, data.brief, data.credit_cap, data.attachments) == (
        "Spring promotion", "Spring promotion", "Flowers", 30, ids)
