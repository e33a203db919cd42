"""Asking for credits (HTML). Thin: parse, call ``credits.topups``, go back."""

from __future__ import annotations

import re

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from web4os.accounts.deps import CsrfDep, OwnerCtx
from web4os.credits import topups
from web4os.text import check_form
from web4os.web.deps import SessionDep
from web4os.web.forms import FormValues

router = APIRouter()

_BACK = re.compile(r"/(goals/\d{1,9}(/tasks/\d{1,9})?|inbox|usage)?")
"""Pages the request button sits on: the owner goes back there, never anywhere else."""


@router.post("/credits/request", dependencies=[CsrfDep])
def request_credits(session: SessionDep, ctx: OwnerCtx, values: FormValues) -> Response:
    """Record the owner's request; the platform admin sees it on /admin."""
    check_form(values)
    topups.request_top_up(session, ctx, values.get("note", ""))
    back = values.get("back", "")
    return RedirectResponse(back if _BACK.fullmatch(back) else "/usage", status_code=303)
