"""Pydantic shapes for the usage API's input.

The usage read models (``usage.service.UsageSummary`` and its rows) are served
as they are: FastAPI turns their dataclasses into the response schema.
"""

from __future__ import annotations

from pydantic import BaseModel


class CapIn(BaseModel):
    """A credit cap; ``null`` removes it."""

    credit_cap: int | None = None
