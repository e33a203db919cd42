"""Guarded httpx clients: TLS keeps the URL's name on a pinned address; async works alike;
proxies from the environment are not used."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.netguard.site import Site, serving
from tests.support.net import ConnectGuard, FakeDNS
from tests.support.threads import run_coroutine
from web4os.netguard import AddressRefused
from web4os.nethttp import guarded_async_client, guarded_client


@pytest.fixture
def site(fake_dns: FakeDNS) -> Iterator[Site]:
    with serving(Site("127.0.0.1")) as s:
        yield s


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for the name ``pinned.test`` only."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=pinned.test",
                    "-addext", "subjectAltName=DNS:pinned.test", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def test_https_to_a_pinned_address_sends_and_verifies_the_urls_name(
        fake_dns: FakeDNS, connect_guard: ConnectGuard, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    names: list[str | None] = []
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)

    def heard(_sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        names.append(name)

    server_tls.sni_callback = heard
    trust = ssl.create_default_context(cafile=str(cert))
    with serving(Site("127.0.0.1")) as site:
        site.socket = server_tls.wrap_socket(site.socket, server_side=True)
        fake_dns.set("pinned.test", "127.0.0.1")
        with guarded_client(allowed_hosts=["pinned.test"], verify=trust) as client:
            answer = client.get(f"https://pinned.test:{site.port}/text")
        assert answer.text == "plain words, ünïcode"
        assert names == ["pinned.test"]
        with guarded_client(allowed_hosts=["127.0.0.1"], verify=trust) as client, \
                pytest.raises(httpx.ConnectError, match="certificate verify failed"):
            client.get(f"https://127.0.0.1:{site.port}/text")
    assert set(connect_guard.connected) == {("127.0.0.1", site.port)}


def test_the_async_client_is_guarded_the_same_way(site: Site, fake_dns: FakeDNS,
                                                  connect_guard: ConnectGuard) -> None:
    fake_dns.set("inside.test", "10.0.0.1")

    async def main() -> str:
        async with guarded_async_client(allowed_hosts=["127.0.0.1"]) as client:
            with pytest.raises(AddressRefused, match=r"inside\.test \(10\.0\.0\.1\)"):
                await client.get("http://inside.test/")
            return (await client.get(f"http://127.0.0.1:{site.port}/text")).text

    assert run_coroutine(main) == "plain words, ünïcode"
    assert connect_guard.connected == [("127.0.0.1", site.port)]


def test_a_proxy_in_the_environment_is_not_used(site: Site, connect_guard: ConnectGuard,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://10.9.9.9:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with guarded_client(allowed_hosts=["127.0.0.1"]) as client:
        assert client.get(f"http://127.0.0.1:{site.port}/json").json() == {"open": True, "days": [1, 2]}
    assert connect_guard.connected == [("127.0.0.1", site.port)]


def test_without_an_allowance_the_clients_refuse_loopback(site: Site) -> None:
    with guarded_client() as client, pytest.raises(AddressRefused, match="loopback"):
        client.get(f"http://127.0.0.1:{site.port}/text")
    assert site.requests == []
