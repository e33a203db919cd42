"""JSON bodies of the webhooks API. A secret goes out once (``EndpointCreated``), never in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from web4os.text import Text
from web4os.webhooks.models import WebhookDelivery, WebhookEndpoint


class EndpointIn(BaseModel):
    url: Text = Field(max_length=500, description="https://…; http only for hosts the server "
                                                  "admin allows on a private network")
    events: list[Text] = Field(max_length=20, description="Event names, e.g. goal.completed")
    description: Text = Field(default="", max_length=200)
    enabled: bool = True


class EndpointPatch(BaseModel):
    """Only the fields given change."""

    url: Text | None = Field(default=None, max_length=500)
    events: list[Text] | None = Field(default=None, max_length=20)
    description: Text | None = Field(default=None, max_length=200)
    enabled: bool | None = None


class EndpointOut(BaseModel):
    id: int
    url: str
    description: str
    events: list[str]
    enabled: bool
    secret_hint: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> EndpointOut:
        return cls(id=endpoint.id, url=endpoint.url, description=endpoint.description,
                   events=list(endpoint.events or []), enabled=endpoint.enabled,
                   secret_hint=endpoint.secret_hint, created_at=endpoint.created_at,
                   updated_at=endpoint.updated_at)


class EndpointCreated(EndpointOut):
    """The endpoint and its signing secret: shown in this answer only."""

    secret: str

    @classmethod
    def with_secret(cls, endpoint: WebhookEndpoint, secret: str) -> EndpointCreated:
        return cls(**EndpointOut.of(endpoint).model_dump(), secret=secret)


class DeliveryOut(BaseModel):
    id: int
    endpoint_id: int
    message_id: str
    event: str
    payload: dict[str, Any]
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None

    @classmethod
    def of(cls, d: WebhookDelivery) -> DeliveryOut:
        return cls(id=d.id, endpoint_id=d.endpoint_id, message_id=d.message_id, event=d.event,
                   payload=d.payload, status=str(d.status), attempts=d.attempts,
                   last_status_code=d.last_status_code, last_error=d.last_error,
                   created_at=d.created_at, last_attempt_at=d.last_attempt_at,
                   next_attempt_at=d.next_attempt_at)
