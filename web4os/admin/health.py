"""Health: ``GET /healthz`` for machines (docker, load balancers), ``/health`` for admins."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from web4os.accounts.deps import AdminDep
from web4os.web.templating import render
from web4os.workers.health import collect

router = APIRouter()


@router.get("/healthz", include_in_schema=False)
def healthz() -> JSONResponse:
    """200 while the app can serve (``ok`` or ``degraded``), 503 when a dependency is down."""
    report = collect()
    return JSONResponse(report.public(), status_code=report.http_status,
                        headers={"Cache-Control": "no-store"})


@router.get("/health", response_class=HTMLResponse)
def health_page(request: Request, _admin: AdminDep) -> HTMLResponse:
    """Platform admins: database, broker, each worker's heartbeat, queue depth."""
    report = collect()
    return render(request, "admin/health.html", {"report": report},
                  status_code=report.http_status)
