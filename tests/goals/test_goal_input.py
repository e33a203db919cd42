"""Bad goal input gets a clear error and leaves nothing behind."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from web4os.goals.models import Goal
from web4os.goals.schemas import GoalCreate


@pytest.mark.parametrize(("title", "message"), [
    ("", "Give the goal a title"),
    ("   \n\t ", "Give the goal a title"),
    ("x" * 10_000, "Keep the title under 200 characters"),
])
def test_bad_titles(title: str, message: str) -> None:
    with pytest.raises(ValidationError) as err:
        GoalCreate(title=title)
    assert message in str(err.value)


def test_overlong_brief() -> None:
    with pytest.raises(ValidationError, match="brief is too long"):
        GoalCreate(title="ok", brief="b" * 5001)


def test_title_whitespace_is_normalised() -> None:
    assert GoalCreate(title="  Launch   a newsletter \n").title == "Launch a newsletter"


def test_nothing_is_saved_for_a_bad_title(db: Session) -> None:
    with pytest.raises(ValidationError):
        GoalCreate(title="")
    assert db.scalar(select(func.count()).select_from(Goal)) == 0
