"""Self-serve signup (HTML). Thin: parse, call the service, render."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from web4os.accounts import service as accounts
from web4os.accounts.deps import CsrfDep, logged_in, optional_viewer
from web4os.accounts.schemas import SignupForm
from web4os.errors import DomainError
from web4os.onboarding import service
from web4os.tenancy import bind_system
from web4os.web.deps import SessionDep
from web4os.web.forms import FormValues, field_errors
from web4os.web.templating import render

router = APIRouter()


@router.get("/signup")
def signup_page(request: Request, session: SessionDep) -> Response:
    if optional_viewer(request, session) is not None:
        return RedirectResponse("/", status_code=303)
    return render(request, "accounts/signup.html", {"values": {}, "errors": {}})


@router.post("/signup", dependencies=[CsrfDep])
def signup(request: Request, session: SessionDep, values: FormValues) -> Response:
    bind_system(session)  # a new tenant is created: no existing account's wall applies
    try:
        form = SignupForm(email=values.get("email", ""), password=values.get("password", ""),
                          account_name=values.get("account_name", ""),
                          display_name=values.get("display_name", ""))
        user, account = service.signup(session, form)
    except (ValidationError, DomainError) as exc:
        values.pop("password", None)
        return render(request, "accounts/signup.html",
                      {"values": values, "errors": field_errors(exc)}, status_code=400)
    login = accounts.start_session(session, user, account.id)
    return logged_in(login.token, "/?welcome=1")
