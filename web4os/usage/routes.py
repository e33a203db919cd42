"""The usage page, the ledger CSV, and the credit-cap forms. Thin: parse, call, render."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from web4os.accounts.deps import CsrfDep, OwnerCtx, ReaderCtx
from web4os.accounts.models import Account
from web4os.credits import budgets as account_budgets
from web4os.credits.caps import parse_cap
from web4os.db import session_factory, utcnow
from web4os.errors import DomainError
from web4os.goals import budgets, caps
from web4os.goals import service as goals
from web4os.tenancy import AccountId, TenantContext, bind_account
from web4os.text import check_form
from web4os.usage import service as usage
from web4os.web.deps import SessionDep
from web4os.web.forms import FormValues, field_errors
from web4os.web.templating import render

router = APIRouter()


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    return int(raw) if raw.isdigit() else 1


def _usage_page(request: Request, session: SessionDep, ctx: TenantContext, *,
                errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
                status_code: int = 200) -> Response:
    summary = usage.usage_summary(session, ctx.account_id)
    account = session.get(Account, ctx.account_id)
    assert account is not None
    now = utcnow()
    return render(request, "credits/usage.html", {
        "u": summary,
        "account": account,
        "budget": account_budgets.account_use(session, account, now),
        "agent_budgets": {b.agent_id: b for b in budgets.agent_uses(session, ctx.account_id,
                                                                    now)},
        "bars": usage.chart_bars(summary.by_day),
        "ledger": usage.ledger_page(session, ctx.account_id, _page_number(request)),
        "is_owner": ctx.role == "owner",
        "balance": summary.balance,
        "errors": errors or {},
        "values": values or {},
    }, status_code=status_code)


@router.get("/usage")
def usage_page(request: Request, session: SessionDep, ctx: ReaderCtx) -> Response:
    """Balance, spend per goal / agent / day (a chart), and the ledger."""
    return _usage_page(request, session, ctx)


def _csv_stream(account_id: AccountId) -> Iterator[str]:
    # The request's session closes when the route returns; the stream reads in its
    # own read-only session, bound to the tenant like every other.
    with session_factory(immediate=False)() as s:
        bind_account(s, account_id)
        yield from usage.ledger_csv(s, account_id)


@router.get("/usage/ledger.csv")
def ledger_csv(ctx: ReaderCtx) -> Response:
    """The whole ledger as a CSV download."""
    name = f"web4os-credits-{int(ctx.account_id)}-{utcnow():%Y%m%d}.csv"
    return StreamingResponse(_csv_stream(ctx.account_id), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _set_cap(session: SessionDep, change: Callable[[], object]) -> DomainError | None:
    """Make an owner's cap change; a refused value comes back (rolled back) for its form.

    An error about no field (a wrong role, an unknown goal or agent) goes on to the
    error pages, as anywhere else.
    """
    try:
        change()
    except DomainError as exc:
        if exc.field is None:
            raise
        session.rollback()
        return exc
    return None


@router.post("/usage/agents/{agent_id}/cap", dependencies=[CsrfDep])
def set_agent_cap(request: Request, agent_id: int, session: SessionDep,
                  ctx: OwnerCtx, values: FormValues) -> Response:
    raw = values.get("credit_cap", "")
    check_form(values)
    refused = _set_cap(session, lambda: caps.set_agent_cap(session, ctx, agent_id, parse_cap(raw)))
    if refused is not None:
        return _usage_page(request, session, ctx,
                           errors={f"agent-{agent_id}": field_errors(refused)["credit_cap"]},
                           values={f"agent-{agent_id}": raw}, status_code=refused.status_code)
    return RedirectResponse("/usage#agents", status_code=303)


@router.post("/usage/budget", dependencies=[CsrfDep])
def set_budget(request: Request, session: SessionDep, ctx: OwnerCtx,
               values: FormValues) -> Response:
    """The account's monthly budget and its warning threshold (owners)."""
    check_form(values)
    refused = _set_cap(session, lambda: budgets.set_account_budget(
        session, ctx, parse_cap(values.get("monthly_budget", ""), field="monthly_budget"),
        account_budgets.parse_warn_percent(values.get("warn_percent"))))
    if refused is not None:
        return _usage_page(request, session, ctx, errors=field_errors(refused),
                           values=dict(values), status_code=refused.status_code)
    return RedirectResponse("/usage#budget", status_code=303)


@router.post("/usage/agents/{agent_id}/budget", dependencies=[CsrfDep])
def set_agent_budget(request: Request, agent_id: int, session: SessionDep,
                     ctx: OwnerCtx, values: FormValues) -> Response:
    """One agent's monthly budget (owners)."""
    raw = values.get("monthly_budget", "")
    check_form(values)
    refused = _set_cap(session, lambda: budgets.set_agent_budget(
        session, ctx, agent_id, parse_cap(raw, field="monthly_budget")))
    if refused is not None:
        key = f"budget-{agent_id}"
        return _usage_page(request, session, ctx,
                           errors={key: field_errors(refused)["monthly_budget"]},
                           values={key: raw}, status_code=refused.status_code)
    return RedirectResponse("/usage#agents", status_code=303)


def _goal_cap_page(request: Request, session: SessionDep, ctx: TenantContext, goal_id: int, *,
                   error: str = "", value: str | None = None, status_code: int = 200) -> Response:
    goal = goals.get_goal(session, ctx.account_id, goal_id)
    return render(request, "credits/goal_cap.html", {
        "goal": goal, "used": caps.goal_used(session, ctx.account_id, goal.id),
        "error": error,
        "value": value if value is not None else (goal.credit_cap or ""),
    }, status_code=status_code)


@router.get("/goals/{goal_id}/cap")
def goal_cap_page(request: Request, goal_id: int, session: SessionDep, ctx: OwnerCtx) -> Response:
    """Set, raise or remove one goal's credit cap (owners)."""
    return _goal_cap_page(request, session, ctx, goal_id)


@router.post("/goals/{goal_id}/cap", dependencies=[CsrfDep])
def set_goal_cap(request: Request, goal_id: int, session: SessionDep,
                 ctx: OwnerCtx, values: FormValues) -> Response:
    raw = "" if values.get("remove") else values.get("credit_cap", "")
    check_form(values)
    refused = _set_cap(session, lambda: caps.set_goal_cap(session, ctx, goal_id, parse_cap(raw)))
    if refused is not None:
        return _goal_cap_page(request, session, ctx, goal_id, error=refused.message, value=raw,
                              status_code=refused.status_code)
    return RedirectResponse(f"/goals/{goal_id}", status_code=303)
