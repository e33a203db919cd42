"""``web4os serve``'s console logging: one access line per request, start-up chatter off.

uvicorn writes the access lines; a filter blanks the secrets some paths carry (an invite's
or an email check's token), so whoever reads the log cannot follow those links.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from uvicorn.config import LOGGING_CONFIG

_SECRET_PATH = re.compile(r"^(/(?:invite|verify-email)/)(?!resend\b)[^/?#]+")
REDACTED = "…"


class RedactSecrets(logging.Filter):
    """Replace the token in ``/invite/<token>`` and ``/verify-email/<token>`` paths."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn's access record: (client, method, path with query, http version, status)
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            path = _SECRET_PATH.sub(rf"\g<1>{REDACTED}", args[2])
            record.args = (*args[:2], path, *args[3:])
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's own logging set-up with its server messages at WARNING (``serve`` prints
    where to go itself) and its access log at INFO, through :class:`RedactSecrets`."""
    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact": {"()": RedactSecrets}}
    config["handlers"]["access"]["filters"] = ["redact"]
    config["loggers"]["uvicorn"]["level"] = "WARNING"
    config["loggers"]["uvicorn.error"]["level"] = "WARNING"
    config["loggers"]["uvicorn.access"]["level"] = "INFO"
    return config
