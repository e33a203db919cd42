"""httpx clients whose every connection goes through the address guard.

The guard runs inside the connection itself: the network backend resolves the host with
``netguard.resolve_public`` and opens the socket to a vetted address, so there is no
second lookup a rebinding DNS server could answer differently. httpcore still uses the
URL's host for the Host header and for TLS (SNI and certificate checks), so HTTPS to a
pinned address verifies the name as usual. A redirect to another host is a new
connection and is checked again; proxies from the environment are never used, since
the guard would then vet the proxy instead of the target.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Iterable
from typing import Any

import anyio.to_thread
import httpcore
import httpx

from web4os.netguard import AddressRefused, resolve_public


class GuardedBackend(httpcore.NetworkBackend):
    """Opens TCP connections only to addresses ``resolve_public`` vetted."""

    def __init__(self, allowed_hosts: Iterable[str] = ()) -> None:
        self.allowed_hosts = tuple(allowed_hosts)
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        addresses = resolve_public(host, port, allowed_hosts=self.allowed_hosts)
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # resolve_public never returns an empty list
        raise failure

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        raise AddressRefused("web4os does not connect to local sockets on an account's behalf.")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class AsyncGuardedBackend(httpcore.AsyncNetworkBackend):
    """The async twin of ``GuardedBackend`` (the lookup runs in a worker thread)."""

    def __init__(self, allowed_hosts: Iterable[str] = ()) -> None:
        self.allowed_hosts = tuple(allowed_hosts)
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        resolve = functools.partial(resolve_public, host, port, allowed_hosts=self.allowed_hosts)
        addresses = await anyio.to_thread.run_sync(resolve)
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address,
                                                     socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None
                                  ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("web4os does not connect to local sockets on an account's behalf.")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """An ``httpx.HTTPTransport`` whose connection pool uses ``GuardedBackend``."""

    def __init__(self, *, allowed_hosts: Iterable[str] = (),
                 verify: ssl.SSLContext | bool = True) -> None:
        super().__init__(trust_env=False)
        # httpx takes no network backend; its pool is rebuilt with one (same defaults).
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            network_backend=GuardedBackend(allowed_hosts))


class AsyncGuardedTransport(httpx.AsyncHTTPTransport):
    """An ``httpx.AsyncHTTPTransport`` whose connection pool uses ``AsyncGuardedBackend``."""

    def __init__(self, *, allowed_hosts: Iterable[str] = (),
                 verify: ssl.SSLContext | bool = True) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            network_backend=AsyncGuardedBackend(allowed_hosts))


def guarded_client(*, allowed_hosts: Iterable[str] = (), verify: ssl.SSLContext | bool = True,
                   **options: Any) -> httpx.Client:
    """An ``httpx.Client`` that reaches public addresses only (plus ``allowed_hosts``)."""
    return httpx.Client(transport=GuardedTransport(allowed_hosts=allowed_hosts, verify=verify),
                        trust_env=False, **options)


def guarded_async_client(*, allowed_hosts: Iterable[str] = (), verify: ssl.SSLContext | bool = True,
                         **options: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` that reaches public addresses only (plus ``allowed_hosts``)."""
    return httpx.AsyncClient(
        transport=AsyncGuardedTransport(allowed_hosts=allowed_hosts, verify=verify),
        trust_env=False, **options)
