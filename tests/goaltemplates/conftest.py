"""Factories of the goal template tests: a template saved through the service."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from tests.factories import Tenant
from web4os.files import service as files
from web4os.files.models import StoredFile
from web4os.goaltemplates import service
from web4os.goaltemplates.models import GoalTemplate
from web4os.goaltemplates.schemas import TemplateIn


def make_template(db: Session, tenant: Tenant, **fields: Any) -> GoalTemplate:
    data: dict[str, Any] = {"name": "Weekly newsletter", "title": "Write this week's newsletter",
                            "brief": "Three stories and a recipe.", "require_approval": True,
                            "credit_cap": 60}
    data.update(fields)
    template = service.create_template(db, tenant.ctx(), TemplateIn(**data))
    db.commit()
    return template


def knowledge_file(db: Session, tenant: Tenant, name: str = "style.txt",
                   text: bytes = b"Write warmly, short sentences.") -> StoredFile:
    row = files.upload(db, tenant.ctx(), name=name, data=text)
    db.commit()
    return row
