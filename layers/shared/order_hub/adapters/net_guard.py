"""SSRF guard for client callback URLs.

A callback URL must be https (http only in the local stack) and every address its host resolves
to must be public: private, loopback, link-local (incl. the 169.254.169.254 metadata service),
shared, reserved, multicast, unspecified and site-local addresses are refused, also when reached
through an IPv6 address that carries an IPv4 one (IPv4-mapped, 6to4, Teredo, NAT64). The local
stack may allow loopback (its demo receiver is on 127.0.0.1).

The check runs at registration (``check_url``) and again at send time *inside the connection*
(``GuardedAdapter``): the socket connects to the address that was checked, so a DNS answer that
changes between the check and the connect (rebinding) cannot reach an internal address.
Redirects are never followed by the sender.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from order_hub.errors import UnsafeUrl

if TYPE_CHECKING:
    from requests.adapters import HTTPAdapter

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
GUARD_MARK = "refused by the SSRF guard"


@dataclass(frozen=True)
class UrlPolicy:
    """The ``UrlGuard`` port: https only and public addresses, unless allowed (the local stack)."""

    allow_http: bool = False
    allow_loopback: bool = False

    def check(self, url: str) -> None:
        check_url(url, self)


def resolve(host: str, port: int) -> list[str]:
    """Addresses of ``host`` (tests replace this to resolve names without DNS)."""
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})


# IPv6 forms that carry an IPv4 address a gateway would reach: 6to4 (2002::/16, RFC 3056), Teredo
# (2001::/32, RFC 4380: the client address, obfuscated) and NAT64 (64:ff9b::/96, RFC 6052; and the
# local-use 64:ff9b:1::/48 of RFC 8215). Each is judged by the IPv4 address it carries.
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in network for network in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal(address: str, policy: UrlPolicy) -> str | None:
    """Why ``address`` may not be called, or None when it is public (or allowed loopback)."""
    ip: IpAddress = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local:
            return f"{ip} is a site-local address (fec0::/10)"
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            inner = refusal(str(embedded), UrlPolicy(allow_http=policy.allow_http))
            return f"{ip} carries {embedded}: {inner}" if inner else None
    if ip.is_loopback:
        return None if policy.allow_loopback else f"{ip} is a loopback address"
    if ip.is_link_local:
        return f"{ip} is a link-local address (cloud metadata lives there)"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return f"{ip} is not a unicast address"
    if ip.is_private or not ip.is_global:
        return f"{ip} is a private or non-public address"
    return None


def checked_addresses(host: str, port: int, policy: UrlPolicy) -> list[str]:
    """Resolve ``host`` and return its addresses; raise ``UnsafeUrl`` if any of them is refused."""
    try:
        addresses = [host.strip("[]")] if _is_ip(host) else resolve(host, port)
    except OSError as error:
        raise UnsafeUrl(f"host '{host}' does not resolve: {error}") from error
    if not addresses:
        raise UnsafeUrl(f"host '{host}' has no address")
    for address in addresses:
        reason = refusal(address, policy)
        if reason:
            raise UnsafeUrl(f"host '{host}' refused: {reason}")
    return addresses


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def check_url(url: str, policy: UrlPolicy) -> None:
    """Registration-time check of a callback URL (scheme, credentials, host, resolved addresses)."""
    parts = urlsplit(url)
    allowed = ("https", "http") if policy.allow_http else ("https",)
    if parts.scheme not in allowed:
        raise UnsafeUrl(f"URL must use {' or '.join(allowed)}")
    if parts.username or parts.password:
        raise UnsafeUrl("URL must not carry credentials (use the endpoint's auth settings)")
    if not parts.hostname:
        raise UnsafeUrl("URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise UnsafeUrl(f"URL port is invalid: {error}") from error
    checked_addresses(parts.hostname, port, policy)


def guarded_adapter(policy: UrlPolicy, **kwargs: Any) -> HTTPAdapter:
    """A requests adapter that connects only to addresses the guard accepted."""
    adapter: HTTPAdapter = _guarded_adapter_class()(policy, **kwargs)
    return adapter


@cache
def _guarded_adapter_class() -> Any:
    """A requests adapter whose connections connect only to checked addresses (built lazily: no
    urllib3 import at cold start)."""
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
    from urllib3.exceptions import NewConnectionError

    def new_conn(conn: Any, policy: UrlPolicy) -> socket.socket:
        try:
            addresses = checked_addresses(conn._dns_host, conn.port, policy)
        except UnsafeUrl as error:
            raise NewConnectionError(conn, f"{GUARD_MARK}: {error}") from error
        last: OSError | None = None
        for address in addresses:
            try:
                sock = socket.create_connection((address, conn.port), conn.timeout, source_address=conn.source_address)
            except OSError as error:
                last = error
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        raise NewConnectionError(conn, f"Failed to establish a new connection: {last}")

    def classes(policy: UrlPolicy) -> dict[str, type[Any]]:
        class GuardedHTTPConnection(HTTPConnection):
            def _new_conn(self) -> socket.socket:
                return new_conn(self, policy)

        class GuardedHTTPSConnection(HTTPSConnection):
            def _new_conn(self) -> socket.socket:
                return new_conn(self, policy)

        class GuardedHTTPPool(HTTPConnectionPool):
            ConnectionCls = GuardedHTTPConnection

        class GuardedHTTPSPool(HTTPSConnectionPool):
            ConnectionCls = GuardedHTTPSConnection

        return {"http": GuardedHTTPPool, "https": GuardedHTTPSPool}

    class GuardedAdapter(HTTPAdapter):
        def __init__(self, policy: UrlPolicy, **kwargs: Any) -> None:
            self.policy = policy
            super().__init__(**kwargs)

        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = classes(self.policy)

    return GuardedAdapter
