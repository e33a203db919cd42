"""The address guard refuses every non-public address a name resolves to, in any form."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest

from tests.support.net import ConnectGuard, FakeDNS
from web4os.config import get_settings
from web4os.errors import InvalidInput
from web4os.netguard import AddressRefused, check_public_url, refusal_reason, resolve_public

REFUSED = [
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.1", "private"),
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("0.0.0.0", "unspecified"),
    ("169.254.1.1", "link-local"),
    ("169.254.169.254", "metadata"),
    ("100.100.100.200", "metadata"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("198.18.0.1", "private"),
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("fe80::1", "link-local"),
    ("fc00::1", "private"),
    ("fd00:ec2::254", "metadata"),
    ("ff02::1", "multicast"),
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.0.0.1", "private"),
    ("::ffff:169.254.169.254", "metadata"),
    ("64:ff9b::a00:1", "private"),
    ("64:ff9b::7f00:1", "loopback"),
    ("2002:a00:1::1", "private"),
    ("2002:7f00:1::", "loopback"),
    ("2001:db8::1", "private"),
    ("::127.0.0.1", "reserved"),
]


@pytest.mark.parametrize(("address", "words"), REFUSED)
def test_a_name_resolving_to_a_non_public_address_is_refused(
        fake_dns: FakeDNS, connect_guard: ConnectGuard, address: str, words: str) -> None:
    fake_dns.set("inside.test", address)
    with pytest.raises(AddressRefused) as refused:
        resolve_public("inside.test", 443)
    assert words in refused.value.message
    assert refused.value.address == str(ipaddress.ip_address(address))
    assert isinstance(refused.value, InvalidInput) and refused.value.status_code == 422
    assert connect_guard.connected == []


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700::1111", "::ffff:93.184.215.14",
                                     "64:ff9b::5db8:d70e"])
def test_public_addresses_pass_and_are_returned(fake_dns: FakeDNS, address: str) -> None:
    fake_dns.set("public.test", address)
    assert resolve_public("public.test", 80) == [address]
    assert refusal_reason(ipaddress.ip_address(address)) is None


def test_one_private_address_among_public_ones_refuses_the_name(fake_dns: FakeDNS) -> None:
    fake_dns.set("mixed.test", "93.184.215.14", "2606:4700::1111", "10.0.0.1")
    with pytest.raises(AddressRefused, match=r"mixed\.test \(10\.0\.0\.1\).*private"):
        resolve_public("mixed.test", 80)


def test_an_unknown_name_is_refused_with_its_name(fake_dns: FakeDNS) -> None:
    with pytest.raises(AddressRefused, match=r"nowhere\.test could not be found"):
        resolve_public("nowhere.test", 80)


@pytest.mark.parametrize("url", [
    "http://10.0.0.1/", "http://127.0.0.1:8000/admin", "http://[::1]/", "http://[::ffff:127.0.0.1]/",
    "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://2130706433/",
    "http://0x7f.1/", "https://inside.test/x",
])
def test_urls_to_non_public_hosts_are_refused(fake_dns: FakeDNS, monkeypatch: pytest.MonkeyPatch,
                                              url: str) -> None:
    fake_dns.set("inside.test", "10.0.0.1")
    # Numeric spellings resolve as the C resolver would, still without the network.
    numeric = {"2130706433": "127.0.0.1", "0x7f.1": "127.0.0.1"}
    for name, address in numeric.items():
        fake_dns.set(name, address)
    with pytest.raises(AddressRefused, match="does not connect"):
        check_public_url(url)


@pytest.mark.parametrize(("url", "words"), [
    ("file:///etc/passwd", "Only http and https"),
    ("ftp://example.test/", "Only http and https"),
    ("gopher://example.test/", "Only http and https"),
    ("javascript:alert(1)", "Only http and https"),
    ("http://user:pass@public.test/", "user name or password"),
    ("http://public.test@10.0.0.1/", "user name or password"),
    ("http:///path", "no host"),
    ("http://public.test:99999/", "not a valid URL"),
    ("http://public.test:0/", "Port 0"),
])
def test_urls_other_than_plain_http_are_refused(fake_dns: FakeDNS, url: str, words: str) -> None:
    fake_dns.set("public.test", "93.184.215.14")
    with pytest.raises(AddressRefused, match=words):
        check_public_url(url)


def test_a_public_url_passes(fake_dns: FakeDNS) -> None:
    fake_dns.set("public.test", "93.184.215.14")
    check_public_url("https://Public.Test./page?q=1")
    assert fake_dns.lookups == ["public.test"]


def test_an_explicit_allowance_lets_a_named_host_or_network_be_private(fake_dns: FakeDNS) -> None:
    fake_dns.set("mcp.office.test", "10.1.2.3")
    assert resolve_public("mcp.office.test", 80, allowed_hosts=["MCP.office.test"]) == ["10.1.2.3"]
    assert resolve_public("mcp.office.test", 80, allowed_hosts=["10.1.0.0/16"]) == ["10.1.2.3"]
    with pytest.raises(AddressRefused):
        resolve_public("mcp.office.test", 80, allowed_hosts=["other.test", "10.2.0.0/16"])
    assert resolve_public("127.0.0.1", 80, allowed_hosts=["127.0.0.1"]) == ["127.0.0.1"]


def test_no_allowance_reaches_a_metadata_address(fake_dns: FakeDNS) -> None:
    fake_dns.set("meta.test", "169.254.169.254")
    with pytest.raises(AddressRefused, match="metadata") as refused:
        resolve_public("meta.test", 80, allowed_hosts=["meta.test", "169.254.0.0/16"])
    assert "WEB4OS_NET_ALLOWED_HOSTS" not in refused.value.message


@pytest.fixture
def admin_allows() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        yield mp
        get_settings.cache_clear()
    get_settings.cache_clear()


def test_the_server_admins_setting_is_the_default_allowance(
        fake_dns: FakeDNS, admin_allows: pytest.MonkeyPatch) -> None:
    fake_dns.set("mcp.office.test", "10.1.2.3")
    with pytest.raises(AddressRefused, match="WEB4OS_NET_ALLOWED_HOSTS"):
        check_public_url("http://mcp.office.test/mcp")
    admin_allows.setenv("WEB4OS_NET_ALLOWED_HOSTS", " other.test , mcp.office.test ")
    get_settings.cache_clear()
    check_public_url("http://mcp.office.test/mcp")
    with pytest.raises(AddressRefused):
        check_public_url("http://127.0.0.1/")


def test_nothing_is_allowed_by_default() -> None:
    assert get_settings().net_allowed_hosts == ""
