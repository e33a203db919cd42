"""The address guard: web4os connects on an account's behalf only to public addresses.

Anything an account or a model can name (a web page, an MCP server) is resolved here
first, and every address the name resolves to must be public: a name with one private
address among public ones is refused, because the connection could pick either. The
caller then connects to the addresses returned, never to the name again, so a DNS
answer that changes between the check and the connection (rebinding) cannot move it.

The server admin's ``WEB4OS_NET_ALLOWED_HOSTS`` lets named hosts, addresses or networks
be private (an MCP server on the office network); cloud metadata addresses stay refused.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from web4os.config import get_settings
from web4os.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Instance metadata services hand out cloud credentials; no allowance reaches them.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle
    "169.254.170.2",  # AWS ECS task credentials
    "100.100.100.200",  # Alibaba Cloud
    "fd00:ec2::254",  # AWS over IPv6
))
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_ADMIN_HINT = " A server admin can allow it with WEB4OS_NET_ALLOWED_HOSTS."


class AddressRefused(InvalidInput):
    """web4os will not connect to this URL or host on an account's behalf.

    ``host`` is the name asked for; ``address`` the resolved address that was refused,
    if the refusal is about one.
    """

    def __init__(self, message: str, *, host: str = "", address: str = "",
                 field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.host = host
        self.address = address


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, NAT64, 6to4), which is where it goes."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def refusal_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address, in an operator's words; None when it is public."""
    inner = embedded_ipv4(ip)
    if inner is not None:
        reason = refusal_reason(inner)
        if reason is not None:
            return f"{reason} (written as IPv6)"
        if isinstance(ip, ipaddress.IPv6Address) and (ip.ipv4_mapped is not None or ip in _NAT64):
            return None
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    checks: tuple[tuple[bool, str], ...] = (
        (ip.is_loopback, "a loopback address (this server itself)"),
        (ip.is_unspecified, "the unspecified address (this server itself)"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT,
         "a shared carrier-grade NAT address (100.64.0.0/10)"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private network address"),
        (not ip.is_global, "an address that is not publicly routable"),
    )
    return next((words for hit, words in checks if hit), None)


class _Allowance:
    """Host names, addresses and networks that may be private (never metadata)."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.names: set[str] = set()
        self.networks: list[IPNetwork] = []
        for raw in entries:
            entry = raw.strip().strip("[]").rstrip(".").lower()
            if not entry:
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.names.add(entry)

    def covers(self, host: str, ip: IPAddress) -> bool:
        if ip in METADATA_ADDRESSES:
            return False
        return _normal_host(host) in self.names or any(
            ip.version == net.version and ip in net for net in self.networks)


def _normal_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def parse_allowed_hosts(value: str) -> list[str]:
    """The entries of a comma-separated allowance such as ``WEB4OS_NET_ALLOWED_HOSTS``."""
    return [h.strip() for h in value.split(",") if h.strip()]


def allowed_hosts_setting() -> list[str]:
    """The server admin's allowance (``WEB4OS_NET_ALLOWED_HOSTS``), one entry per item."""
    return parse_allowed_hosts(get_settings().net_allowed_hosts)


def _parse_address(raw: str) -> IPAddress:
    # getaddrinfo gives link-local IPv6 with a zone ("fe80::1%eth0"); the zone is not the address.
    return ipaddress.ip_address(raw.split("%", 1)[0])


def resolve_public(host: str, port: int, *, allowed_hosts: Iterable[str] = ()) -> list[str]:
    """Resolve ``host`` and return its addresses, refusing if any of them is not public.

    ``allowed_hosts`` adds to the server admin's ``WEB4OS_NET_ALLOWED_HOSTS``: a host
    name matches the name asked for; an address or network (``10.0.0.0/8``) matches
    the resolved address. Connect to the returned addresses, not to ``host`` again.
    """
    name = _normal_host(host)
    if not name:
        raise AddressRefused("The address has no host name.", host=host)
    try:
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise AddressRefused(f"The host {host} could not be found ({exc}).", host=host) from None
    allowance = _Allowance([*allowed_hosts_setting(), *allowed_hosts])
    addresses: list[str] = []
    for family, *_rest, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        raw = str(sockaddr[0])
        ip = _parse_address(raw)
        reason = refusal_reason(ip)
        if reason is not None and not allowance.covers(name, ip):
            hint = "" if ip in METADATA_ADDRESSES else _ADMIN_HINT
            raise AddressRefused(
                f"web4os does not connect to {host} ({ip}): it is {reason}.{hint}",
                host=host, address=str(ip))
        if raw not in addresses:
            addresses.append(raw)
    if not addresses:
        raise AddressRefused(f"The host {host} has no IP address.", host=host)
    return addresses


def split_http_url(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of an http(s) URL; refuses other schemes, userinfo, no host."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise AddressRefused(f"This is not a valid URL: {exc}.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise AddressRefused(f"Only http and https URLs are allowed, not {scheme or 'this'}: {url}")
    if "@" in parts.netloc:
        raise AddressRefused("URLs with a user name or password in them are not allowed.")
    host = parts.hostname or ""
    if not host:
        raise AddressRefused(f"The URL has no host: {url}")
    if port == 0:
        raise AddressRefused(f"Port 0 is not a port to connect to: {url}", host=host)
    return scheme, host, port or (443 if scheme == "https" else 80)


def check_public_url(url: str, *, allowed_hosts: Iterable[str] = ()) -> None:
    """Refuse ``url`` unless it is http(s) and its host resolves only to public addresses.

    A check alone leaves a gap before the connection; code that connects uses
    ``resolve_public`` and connects to what it returns.
    """
    _scheme, host, port = split_http_url(url)
    resolve_public(host, port, allowed_hosts=allowed_hosts)
