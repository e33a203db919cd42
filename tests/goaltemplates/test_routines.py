"""Routines that run a template: each due run starts its goal from the template as it is
then; a deleted template fails the run with a reason (and a routine.failed notice)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import HeldQueue, Tenant, make_tenant
from tests.goaltemplates.conftest import knowledge_file, make_template
from tests.routines.conftest import goals_of, make_routine, runs
from web4os.errors import Conflict, InvalidInput
from web4os.files import service as files
from web4os.goaltemplates import service as templates
from web4os.goaltemplates.schemas import TemplateIn
from web4os.notifications.models import Notification
from web4os.routines import service as routines
from web4os.routines.models import RunOutcome
from web4os.routines.scheduler import fire_due

MON_8 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # a Monday, before the 09:00 run
MON_9 = MON_8 + timedelta(hours=1)
TUE_9 = MON_9 + timedelta(days=1)


def test_each_run_starts_from_the_templates_current_content(
        db: Session, tenant: Tenant, held_queue: HeldQueue) -> None:
    style = knowledge_file(db, tenant)
    template = make_template(db, tenant, attachments=[style.id])
    routine = make_routine(db, tenant, MON_8, title="", template_id=template.id,
                           overlap_policy="start")
    assert (routine.title, routine.template_id) == ("Write this week's newsletter", template.id)
    assert fire_due(MON_9 + timedelta(seconds=3)) == 1
    db.rollback()  # a fresh snapshot after the scheduler's commit
    templates.update_template(db, tenant.ctx(), template.id, TemplateIn(
        name="Weekly newsletter", title="Write the Tuesday newsletter", brief="Two stories.",
        credit_cap=25, attachments=[]))
    db.commit()
    assert fire_due(TUE_9 + timedelta(seconds=3)) == 1
    monday, tuesday = goals_of(db, tenant)
    assert (monday.title, monday.brief, monday.require_approval, monday.credit_cap) == (
        "Write this week's newsletter", "Three stories and a recipe.", True, 60)
    assert [f.name for f in files.list_files(db, tenant.id, goal_id=monday.id)] == ["style.txt"]
    assert (tuesday.title, tuesday.brief, tuesday.require_approval, tuesday.credit_cap) == (
        "Write the Tuesday newsletter", "Two stories.", False, 25)
    assert files.list_files(db, tenant.id, goal_id=tuesday.id) == []
    assert [r.outcome for r in runs(db, routine)] == [RunOutcome.STARTED, RunOutcome.STARTED]


def test_a_deleted_template_fails_the_run_with_a_reason(
        db: Session, tenant: Tenant, held_queue: HeldQueue) -> None:
    template = make_template(db, tenant)
    routine = make_routine(db, tenant, MON_8, template_id=template.id, title="Newsletter")
    templates.delete_template(db, tenant.ctx(), template.id)
    db.commit()
    assert fire_due(MON_9 + timedelta(seconds=3)) == 1
    [run] = runs(db, routine)
    assert (run.outcome, run.reason, run.goal_id) == (RunOutcome.FAILED, "template", None)
    assert "template" in run.message and "deleted" in run.message
    assert goals_of(db, tenant) == []
    notice = db.scalars(select(Notification).where(Notification.account_id == tenant.id)).one()
    assert notice.event == "routine.failed" and notice.body == run.message
    db.refresh(routine)
    assert routine.next_run_at == TUE_9  # the routine goes on; the next run tries again


def test_a_template_whose_file_was_deleted_fails_the_run_and_leaves_no_goal(
        db: Session, tenant: Tenant, held_queue: HeldQueue) -> None:
    style = knowledge_file(db, tenant)
    template = make_template(db, tenant, attachments=[style.id])
    routine = make_routine(db, tenant, MON_8, template_id=template.id)
    files.delete_file(db, tenant.ctx(), style.id)
    db.commit()
    assert fire_due(MON_9 + timedelta(seconds=3)) == 1
    [run] = runs(db, routine)
    assert (run.outcome, run.reason) == (RunOutcome.FAILED, "invalid")
    assert "deleted" in run.message and goals_of(db, tenant) == []


def test_a_routine_only_points_at_its_accounts_live_templates(db: Session,
                                                              tenant: Tenant) -> None:
    other = make_tenant(db, "Other Co")
    theirs = make_template(db, other)
    with pytest.raises(InvalidInput) as err:
        make_routine(db, tenant, MON_8, template_id=theirs.id)
    assert err.value.field == "template_id"
    db.rollback()
    mine = make_template(db, tenant)
    templates.delete_template(db, tenant.ctx(), mine.id)
    db.commit()
    with pytest.raises(InvalidInput):
        make_routine(db, tenant, MON_8, template_id=mine.id)


def test_run_now_with_a_deleted_template_says_why(db: Session, tenant: Tenant,
                                                  held_queue: HeldQueue) -> None:
    template = make_template(db, tenant)
    routine = make_routine(db, tenant, MON_8, template_id=template.id)
    templates.delete_template(db, tenant.ctx(), template.id)
    with pytest.raises(Conflict, match="deleted"):
        routines.run_now(db, tenant.ctx(), routine.id)
