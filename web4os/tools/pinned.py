"""The MCP client's connections, pinned to addresses the address guard vetted.

The SDK talks HTTP through ``httpx2``; its network backend here resolves the host with
``netguard.resolve_public`` inside the connection and opens the socket to a vetted
address, so a DNS answer that changes between the check and the connection (rebinding)
cannot move it. Host header, SNI and certificate checks still use the URL's host.
Environment proxies are never used: the guard would vet the proxy, not the server.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import anyio.to_thread
import httpcore2
import httpx2

from web4os.netguard import AddressRefused, resolve_public


class PinnedBackend(httpcore2.AsyncNetworkBackend):
    """Opens TCP connections only to addresses ``resolve_public`` vetted."""

    def __init__(self) -> None:
        self._inner = httpcore2.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None,
                          ) -> httpcore2.AsyncNetworkStream:
        addresses = await anyio.to_thread.run_sync(functools.partial(resolve_public, host, port))
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address,
                                                     socket_options)
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # resolve_public never returns an empty list
        raise failure

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None,
                                  ) -> httpcore2.AsyncNetworkStream:
        raise AddressRefused("web4os does not connect to local sockets on an account's behalf.")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PinnedTransport(httpx2.AsyncHTTPTransport):
    """An ``httpx2.AsyncHTTPTransport`` whose pool connects through ``PinnedBackend``."""

    def __init__(self) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=httpx2.create_ssl_context(trust_env=False),
            network_backend=PinnedBackend())


def pinned_client(**options: Any) -> httpx2.AsyncClient:
    """An ``httpx2.AsyncClient`` that reaches public addresses only (plus the admin's hosts)."""
    return httpx2.AsyncClient(transport=PinnedTransport(), trust_env=False, **options)
