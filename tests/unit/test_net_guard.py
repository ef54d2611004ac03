"""SSRF guard: callback URLs are refused on scheme and on every resolved address, at registration
and at send time, without ever connecting to a refused address (names resolve through a stub)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from order_hub.adapters import net_guard
from order_hub.adapters.callbacks_http import HttpCallbackSender
from order_hub.adapters.net_guard import UnsafeUrl, UrlPolicy, check_url, refusal
from order_hub.models.endpoints import Endpoint
from order_hub.rendering.callbacks.base import Rendered

PROD = UrlPolicy()
LOCAL = UrlPolicy(allow_http=True, allow_loopback=True)
PUBLIC = "93.184.215.14"


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """A fake resolver: names map to the given addresses; nothing else resolves."""
    table: dict[str, list[str]] = {
        "hooks.example.com": [PUBLIC],
        "internal.example.com": ["10.20.30.40"],
        "mixed.example.com": [PUBLIC, "192.168.1.10"],
        "metadata.example.com": ["169.254.169.254"],
        "v6-loopback.example.com": ["::1"],
    }

    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError(f"no such host {host}")
        return table[host]

    monkeypatch.setattr(net_guard, "resolve", resolve)
    return table


@pytest.fixture
def no_connect(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Records (and refuses) every connection attempt the guarded adapter makes."""
    attempts: list[Any] = []

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(address)
        raise OSError("test: connecting is not allowed")

    monkeypatch.setattr(net_guard.socket, "create_connection", create_connection)
    return attempts


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "fe80::1",
        "fd00:ec2::254",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "fec0::1",  # site-local
        "2002:0a00:0001::1",  # 6to4 carrying 10.0.0.1
        "2002:a9fe:a9fe::1",  # 6to4 carrying 169.254.169.254
        "2002:7f00:0001::1",  # 6to4 carrying 127.0.0.1
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo, client 10.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 carrying 169.254.169.254
        "64:ff9b:1::c0a8:1",  # local-use NAT64 carrying 192.168.0.1
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert refusal(address, PROD) is not None


def test_embedded_ipv4_is_judged_by_what_it_carries() -> None:
    assert refusal("2002:5db8:d70e::1", PROD) is None  # 6to4 carrying a public address
    assert refusal("64:ff9b::5db8:d70e", PROD) is None  # NAT64 carrying a public address
    reason = refusal("2002:0a00:0001::1", PROD)
    assert reason is not None and "carries 10.0.0.1" in reason
    # loopback allowed in the local stack is the stack's own 127.0.0.1, never through a gateway
    assert refusal("2002:7f00:0001::1", LOCAL) is not None


def test_public_addresses_pass_and_loopback_only_when_allowed() -> None:
    assert refusal(PUBLIC, PROD) is None
    assert refusal("2606:2800:21f:cb07:6820:80da:af6b:8b2c", PROD) is None
    assert refusal("127.0.0.1", LOCAL) is None
    assert refusal("169.254.169.254", LOCAL) is not None  # the local stack still never reaches metadata
    assert refusal("10.0.0.1", LOCAL) is not None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example.com/x", "must use https"),
        ("ftp://hooks.example.com/x", "must use https"),
        ("https://user:pw@hooks.example.com/x", "credentials"),
        ("https:///nohost", "no host"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://10.0.0.8/hook", "private"),
        ("https://[::1]:8443/hook", "loopback"),
        ("https://internal.example.com/hook", "10.20.30.40"),
        ("https://mixed.example.com/hook", "192.168.1.10"),
        ("https://metadata.example.com/", "link-local"),
        ("https://v6-loopback.example.com/", "loopback"),
        ("https://unknown.example.com/", "does not resolve"),
        ("https://hooks.example.com:99999/", "port"),
    ],
)
def test_registration_refuses_unsafe_urls(dns: dict[str, list[str]], url: str, message: str) -> None:
    with pytest.raises(UnsafeUrl, match=message):
        check_url(url, PROD)


def test_registration_accepts_public_https_and_local_http_loopback(dns: dict[str, list[str]]) -> None:
    check_url("https://hooks.example.com/orders", PROD)
    check_url("http://127.0.0.1:8123/standard/callback", LOCAL)
    with pytest.raises(UnsafeUrl, match="loopback"):
        check_url("http://127.0.0.1:8123/standard/callback", UrlPolicy(allow_http=True))


def _endpoint(url: str) -> Endpoint:
    now = datetime.now(UTC)
    return Endpoint(tenant_id="t", endpoint_id="e", url=url, format="shipper", created_at=now, updated_at=now)


@pytest.mark.parametrize(
    "url",
    ["https://10.1.1.1/hook", "https://169.254.169.254/latest", "https://internal.example.com/hook", "https://127.0.0.1/hook"],
)
def test_send_time_guard_refuses_before_connecting(dns: dict[str, list[str]], no_connect: list[Any], url: str) -> None:
    """An endpoint stored before its DNS changed (or written around the API) is still refused at send time."""
    sender = HttpCallbackSender(PROD, secrets=lambda name: None)

    result = sender.send(_endpoint(url), Rendered(body={"a": 1}, kind="test", dedupe_key="k"), "d-1")

    assert result.refused is True
    assert result.status_code is None
    assert "refused" in result.error
    assert no_connect == []  # never even tried to connect


def test_send_time_guard_connects_to_the_checked_address(dns: dict[str, list[str]], no_connect: list[Any]) -> None:
    """A public name is connected by the address that was checked (no second DNS lookup to rebind)."""
    sender = HttpCallbackSender(PROD, secrets=lambda name: None)

    result = sender.send(_endpoint("https://hooks.example.com/hook"), Rendered(body={}, kind="test", dedupe_key="k"), "d-2")

    assert no_connect == [(PUBLIC, 443)]
    assert result.refused is False and result.status_code is None and "connection failed" in result.error
