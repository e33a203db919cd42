"""The access log's filter: secrets in link paths never reach the console."""

from __future__ import annotations

import logging

import pytest

from web4os.web.access_log import REDACTED, RedactSecrets, log_config


def _logged_path(path: str) -> str:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d', ("127.0.0.1:5", "GET", path, "1.1", 200),
                               None)
    assert RedactSecrets().filter(record)
    assert isinstance(record.args, tuple)
    return str(record.args[2])


@pytest.mark.parametrize(("path", "logged"), [
    ("/invite/abc123", f"/invite/{REDACTED}"),
    ("/invite/abc123?next=/", f"/invite/{REDACTED}?next=/"),
    ("/verify-email/tok.en-1", f"/verify-email/{REDACTED}"),
    ("/verify-email/resend", "/verify-email/resend"),
    ("/settings/invites/4/revoke", "/settings/invites/4/revoke"),
    ("/login", "/login"),
])
def test_tokens_in_link_paths_are_blanked(path: str, logged: str) -> None:
    assert _logged_path(path) == logged


def test_the_access_log_is_on_and_the_server_chatter_off() -> None:
    config = log_config()
    assert config["loggers"]["uvicorn.access"]["level"] == "INFO"
    assert config["loggers"]["uvicorn.error"]["level"] == "WARNING"
    assert config["handlers"]["access"]["filters"] == ["redact"]
