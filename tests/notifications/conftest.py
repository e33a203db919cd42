"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, and helpers
to drive the notification jobs by hand."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.factories import HeldQueue
from web4os.config import get_settings
from web4os.notifications import mailing


class Inbox:
    """An aiosmtpd handler that keeps each message with its envelope recipients."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos),
                              message_from_bytes(envelope.content, policy=policy.default)))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Message]:
        return [m for rcpts, m in self.messages if address in rcpts]

    @staticmethod
    def body(message: Message) -> str:
        payload = message.get_payload(decode=True)
        assert isinstance(payload, bytes)
        return payload.decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    port = free_port()
    handler = Inbox(port)
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    for key, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_TLS": "none",
                       "SMTP_FROM": "web4os@example.com",
                       "PUBLIC_URL": "http://testserver"}.items():
        monkeypatch.setenv(f"WEB4OS_{key}", value)
    get_settings.cache_clear()
    try:
        yield handler
    finally:
        controller.stop()
        get_settings.cache_clear()


def run_mail_jobs(queue: HeldQueue) -> int:
    """Run the send jobs the queue holds (as a worker would), then forget them."""
    jobs = [kw for name, kw in queue.jobs if name == mailing.SEND_JOB]
    queue.jobs.clear()
    for kwargs in jobs:
        mailing.send_mails(**kwargs)
    return len(jobs)
