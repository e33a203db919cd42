"""JSON API for webhooks: owners configure endpoints, send test events and retry
deliveries; every member's token reads the endpoints (never a secret) and their logs."""

from __future__ import annotations

from fastapi import Response

from web4os.api.deps import ApiOwner, ApiReader
from web4os.api.openapi import api_router
from web4os.web.deps import SessionDep
from web4os.webhooks import service
from web4os.webhooks.schemas import (
    DeliveryOut,
    EndpointCreated,
    EndpointIn,
    EndpointOut,
    EndpointPatch,
)

router = api_router("webhooks", prefix="/api/v1/webhooks")


@router.get("")
def list_endpoints(session: SessionDep, ctx: ApiReader) -> list[EndpointOut]:
    return [EndpointOut.of(e) for e in service.list_endpoints(session, ctx.account_id)]


@router.post("", status_code=201)
def create_endpoint(body: EndpointIn, session: SessionDep, ctx: ApiOwner) -> EndpointCreated:
    """Add an endpoint; its signing ``secret`` is in this answer only."""
    made = service.create_endpoint(session, ctx.account_id, **body.model_dump())
    return EndpointCreated.with_secret(made.endpoint, made.secret)


@router.get("/{endpoint_id}")
def get_endpoint(endpoint_id: int, session: SessionDep, ctx: ApiReader) -> EndpointOut:
    return EndpointOut.of(service.get_endpoint(session, ctx.account_id, endpoint_id))


@router.patch("/{endpoint_id}")
def update_endpoint(endpoint_id: int, body: EndpointPatch, session: SessionDep,
                    ctx: ApiOwner) -> EndpointOut:
    return EndpointOut.of(service.update_endpoint(session, ctx.account_id, endpoint_id,
                                                  **body.model_dump()))


@router.delete("/{endpoint_id}", status_code=204)
def delete_endpoint(endpoint_id: int, session: SessionDep, ctx: ApiOwner) -> Response:
    service.delete_endpoint(session, ctx.account_id, endpoint_id)
    return Response(status_code=204)


@router.post("/{endpoint_id}/rotate-secret")
def rotate_secret(endpoint_id: int, session: SessionDep, ctx: ApiOwner) -> EndpointCreated:
    """A new signing secret, in this answer only; every attempt from now on uses it."""
    made = service.rotate_secret(session, ctx.account_id, endpoint_id)
    return EndpointCreated.with_secret(made.endpoint, made.secret)


@router.post("/{endpoint_id}/test", status_code=202)
def send_test(endpoint_id: int, session: SessionDep, ctx: ApiOwner) -> DeliveryOut:
    """Queue a ``webhook.test`` delivery to this endpoint alone; follow it in the log."""
    return DeliveryOut.of(service.send_test(session, ctx.account_id, endpoint_id))


@router.get("/{endpoint_id}/deliveries")
def list_deliveries(endpoint_id: int, session: SessionDep, ctx: ApiReader) -> list[DeliveryOut]:
    """The endpoint's delivery log, newest first (the last 100)."""
    return [DeliveryOut.of(d) for d in service.list_deliveries(session, ctx.account_id,
                                                                endpoint_id)]


@router.get("/{endpoint_id}/deliveries/{delivery_id}")
def get_delivery(endpoint_id: int, delivery_id: int, session: SessionDep,
                 ctx: ApiReader) -> DeliveryOut:
    return DeliveryOut.of(service.get_delivery(session, ctx.account_id, endpoint_id, delivery_id))


@router.post("/{endpoint_id}/deliveries/{delivery_id}/retry", status_code=202)
def retry_delivery(endpoint_id: int, delivery_id: int, session: SessionDep,
                   ctx: ApiOwner) -> DeliveryOut:
    """Send a failed or given-up delivery again now (409 for one pending or delivered)."""
    return DeliveryOut.of(service.retry_now(session, ctx.account_id, endpoint_id, delivery_id))
