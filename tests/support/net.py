"""Network stubs for address-guard tests: a fake resolver, and a connect guard.

An SSRF test proves a refusal without ever connecting elsewhere: names resolve through
``FakeDNS`` (a test name → 10.0.0.1), and ``ConnectGuard`` fails the test on any connect
to an address outside loopback, recording every address that was connected to.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


class OutsideConnect(AssertionError):
    """A test tried to connect beyond loopback."""


class ConnectGuard:
    """Every connect a test makes; anything not on loopback fails it."""

    def __init__(self) -> None:
        self.connected: list[tuple[str, int]] = []
        self.refused: list[str] = []

    def check(self, address: Any) -> None:
        if isinstance(address, tuple):
            host = str(address[0]).split("%", 1)[0]
            if ipaddress.ip_address(host).is_loopback:
                self.connected.append((host, int(address[1])))
                return
        self.refused.append(repr(address))
        raise OutsideConnect(f"the test tried to connect to {address!r}")


class FakeDNS:
    """Answers for test names; a list of answers per name is used one per lookup.

    ``answers[name]`` is either a list of addresses (every lookup) or a list of such
    lists (one per lookup, the last repeating), for rebinding tests.
    """

    def __init__(self) -> None:
        self.answers: dict[str, list[list[str]]] = {}
        self.lookups: list[str] = []

    def set(self, name: str, *addresses: str) -> None:
        self.answers[name] = [list(addresses)]

    def sequence(self, name: str, *answers: list[str]) -> None:
        self.answers[name] = [list(a) for a in answers]

    def getaddrinfo(self, host: Any, port: Any, family: int = 0, type: int = 0,
                    proto: int = 0, flags: int = 0) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        self.lookups.append(name)
        try:
            addresses = [str(ipaddress.ip_address(name))]
        except ValueError:
            queue = self.answers.get(name.rstrip(".").lower())
            if queue is None:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
            addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        out: list[Any] = []
        for a in addresses:
            fam = socket.AF_INET6 if ":" in a else socket.AF_INET
            addr: tuple[Any, ...] = (a, int(port or 0), 0, 0) if fam == socket.AF_INET6 \
                else (a, int(port or 0))
            out.append((fam, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", addr))
        return out


@pytest.fixture
def connect_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[ConnectGuard]:
    guard = ConnectGuard()

    def connect(sock: socket.socket, address: Any) -> None:
        guard.check(address)
        _real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        guard.check(address)
        return _real_connect_ex(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    yield guard
    assert not guard.refused, f"connects outside loopback were attempted: {guard.refused}"


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch, connect_guard: ConnectGuard) -> FakeDNS:
    """A resolver that knows only the test's names (and never asks the network)."""
    dns = FakeDNS()
    monkeypatch.setattr(socket, "getaddrinfo", dns.getaddrinfo)
    return dns
