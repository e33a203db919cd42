"""The card's tool-call decisions from the page: approve (with edited arguments), deny
with a note, mark done or run again. Operators and owners only; thin."""

from __future__ import annotations

import json

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from web4os.accounts.deps import CsrfDep, OperatorCtx
from web4os.errors import InvalidInput
from web4os.goals import approvals
from web4os.text import check_form, check_tree
from web4os.web.deps import SessionDep
from web4os.web.forms import FormValues

router = APIRouter()


@router.post("/tasks/{task_id}/tool-calls/{call_id}/{decision}", dependencies=[CsrfDep])
def decide(task_id: int, call_id: int, decision: str, session: SessionDep,
           ctx: OperatorCtx, values: FormValues) -> Response:
    check_form(values)
    arguments = None
    raw = values.get("arguments", "").strip()
    if decision == "approve" and raw:
        try:
            arguments = json.loads(raw)
        except ValueError:
            raise InvalidInput("The arguments must be a JSON object.", field="arguments") from None
        if not isinstance(arguments, dict):
            raise InvalidInput("The arguments must be a JSON object.", field="arguments")
        check_tree(arguments, "arguments")
    call = approvals.decide(session, ctx, task_id, call_id, decision, arguments=arguments,
                            note=values.get("note", ""))
    task = call.task_id
    goal_id = values.get("goal_id", "")
    target = f"/goals/{goal_id}/tasks/{task}" if goal_id.isdigit() else "/inbox"
    return RedirectResponse(target, status_code=303)
