"""From a goal to the mail: the offline model runs a goal on the embedded runner (real
jobs, tenant-bound sessions); its completion is recorded once and mailed once to each
member, by the send job queued after the commit."""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.agents.conftest import wait_for_goal
from tests.factories import Tenant
from tests.notifications.conftest import Inbox
from web4os.goals.models import GoalStatus
from web4os.goals.schemas import GoalCreate
from web4os.goals.service import create_goal
from web4os.notifications.events import Event
from web4os.notifications.models import Notification
from web4os.tenancy import bind_account
from web4os.workers.embedded import EmbeddedRunner


def test_a_finished_goal_is_mailed_to_every_member_once(db: Session, tenant: Tenant,
                                                        inbox: Inbox,
                                                        runner: EmbeddedRunner) -> None:
    bind_account(db, tenant.id)
    goal = create_goal(db, tenant.ctx(), GoalCreate(title="Plan a bake sale"))
    db.commit()
    wait_for_goal(db, runner, goal.id, GoalStatus.COMPLETED)
    deadline = time.monotonic() + 10
    while len(inbox.messages) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    runner.wait_idle(timeout=5)
    notes = db.scalars(select(Notification).where(Notification.account_id == tenant.id)).all()
    assert [n.event for n in notes] == [Event.GOAL_COMPLETED]
    for user in (tenant.owner, tenant.operator, tenant.viewer):
        [mail] = inbox.to(user.email)
        assert mail["Subject"] == "web4os: Goal “Plan a bake sale” completed"
        assert f"next=/goals/{goal.id}&account={tenant.id}" in Inbox.body(mail)
