"""Credentials never cross tenants: one sender serves every tenant of a container, endpoint ids repeat.

Two tenants register an endpoint with the same id in every auth kind, each pointing at its own
receiver on loopback. Each receiver hands out credentials of its own and refuses anything else; it
must only ever see its own tenant's token, credentials, static headers and signing secret.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from order_hub.adapters.callbacks_http import HttpCallbackSender
from order_hub.adapters.net_guard import UrlPolicy
from order_hub.models.endpoints import AuthKind, Endpoint, EndpointFormat
from order_hub.rendering.callbacks.base import Rendered

TENANTS = ("acme", "rival")


class Receiver:
    """A loopback receiver that issues credentials named after its tenant and logs every request."""

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.token_calls = 0
        self.credential_calls = 0
        self.token_version = 1
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                owner.requests.append(("GET", self.path, {k.lower(): v for k, v in self.headers.items()}, b""))
                if self.path == "/credential":
                    owner.credential_calls += 1
                    self._answer(200, {"x-secret-cred": owner.credential})
                else:
                    self._answer(404, {})

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                owner.requests.append(("POST", self.path, headers, body))
                if self.path == "/v1/auth/Token":
                    owner.token_calls += 1
                    if headers.get("username") != owner.username or headers.get("password") != owner.password:
                        self._answer(401, {"errorMessage": "bad credentials"})
                        return
                    self._answer(200, {"access_token": owner.token, "expires_in": 3600})
                elif self.path.startswith("/v1/shipment/"):
                    ok = headers.get("authorization") == f"bearer {owner.token}"
                    self._answer(200 if ok else 401, {"successful": ok})
                elif self.path == "/increff":
                    ok = headers.get("x-secret-cred") == owner.credential
                    self._answer(200 if ok else 401, {"hasError": not ok})
                else:
                    self._answer(200, {})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def username(self) -> str:
        return f"{self.tenant}-user"

    @property
    def password(self) -> str:
        return f"{self.tenant}-password-{self.token_version}"

    @property
    def token(self) -> str:
        return f"{self.tenant}-token-{self.token_version}"

    @property
    def credential(self) -> str:
        return f"{self.tenant}-credential"

    def seen(self) -> str:
        """Everything this receiver was sent, headers and bodies, as one text."""
        return "\n".join(f"{m} {p} {json.dumps(h)} {b.decode(errors='replace')}" for m, p, h, b in self.requests)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[dict[str, Receiver]]:
    started = {tenant: Receiver(tenant) for tenant in TENANTS}
    yield started
    for receiver in started.values():
        receiver.stop()


def _endpoint(tenant: str, endpoint_id: str, fmt: EndpointFormat, auth: AuthKind, url: str, **extra: Any) -> Endpoint:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    return Endpoint(
        tenant_id=tenant,
        endpoint_id=endpoint_id,
        url=url,
        format=fmt,
        auth=auth,
        secret_name=f"hub/{tenant}/endpoint/{endpoint_id}",
        created_at=now,
        updated_at=now,
        **extra,
    )


def _secrets(receivers: dict[str, Receiver]) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for tenant, receiver in receivers.items():
        table[f"hub/{tenant}/endpoint/pos"] = {"username": receiver.username, "password": receiver.password}
        table[f"hub/{tenant}/endpoint/omni"] = {"headers": {"x-static": f"{tenant}-static"}}
        table[f"hub/{tenant}/endpoint/events"] = {"secret": "whsec_" + ("QUNNRQ==" if tenant == "acme" else "UklWQUw=")}
    return table


def _rendered(path: str = "") -> Rendered:
    return Rendered(body={"hello": "world"}, kind="test", dedupe_key="k", path=path)


def test_tokens_credentials_headers_and_signatures_stay_with_their_tenant(receivers: dict[str, Receiver]) -> None:
    secrets = _secrets(receivers)
    sender = HttpCallbackSender(UrlPolicy(allow_http=True, allow_loopback=True), secrets=secrets.get)
    endpoints = {
        tenant: [
            _endpoint(tenant, "pos", "unicommerce", "unicommerce_token", receiver.url),
            _endpoint(tenant, "omni", "increff", "increff_credential", receiver.url, credential_url=receiver.url + "/credential"),
            _endpoint(tenant, "events", "standard", "standard_webhooks", receiver.url),
        ]
        for tenant, receiver in receivers.items()
    }

    # Interleave the tenants twice: a cache keyed by endpoint id alone would hand the second
    # tenant the first one's token and credentials.
    results = []
    for _ in range(2):
        for tenant in TENANTS:
            pos, omni, events = endpoints[tenant]
            results.append((tenant, "pos", sender.send(pos, _rendered("/v1/shipment/PKG-1"), f"{tenant}-d1")))
            results.append((tenant, "omni", sender.send(omni, _rendered("/increff"), f"{tenant}-d2")))
            results.append((tenant, "events", sender.send(events, _rendered(), f"{tenant}-d3")))

    assert [(tenant, name, result.status_code) for tenant, name, result in results] == [
        (tenant, name, 200) for tenant, name, _ in results
    ]
    for tenant, receiver in receivers.items():
        other = receivers[next(t for t in TENANTS if t != tenant)]
        seen = receiver.seen()
        for foreign in (other.token, other.credential, other.username, other.password, f"{other.tenant}-static"):
            assert foreign not in seen, f"{tenant}'s receiver saw {foreign!r}"
        assert receiver.token_calls == 1  # its own token call, cached for the second round
        assert receiver.credential_calls == 1
        # Standard Webhooks: each receiver verifies with its own tenant's secret.
        signed = [(h, b) for m, p, h, b in receiver.requests if m == "POST" and p == "/"]
        assert len(signed) == 2
        for headers, body in signed:
            Webhook(secrets[f"hub/{tenant}/endpoint/events"]["secret"]).verify(body, headers)


def test_a_rotated_password_fetches_a_new_token(receivers: dict[str, Receiver]) -> None:
    receiver = receivers["acme"]
    secrets = _secrets(receivers)
    sender = HttpCallbackSender(UrlPolicy(allow_http=True, allow_loopback=True), secrets=secrets.get)
    pos = _endpoint("acme", "pos", "unicommerce", "unicommerce_token", receiver.url)
    assert sender.send(pos, _rendered("/v1/shipment/PKG-1"), "d1").status_code == 200

    receiver.token_version = 2  # the receiver rotates the password and every token it issued
    secrets["hub/acme/endpoint/pos"] = {"username": receiver.username, "password": receiver.password}

    assert sender.send(pos, _rendered("/v1/shipment/PKG-1"), "d2").status_code == 200
    assert receiver.token_calls == 2
    last = receiver.requests[-1]
    assert last[2]["authorization"] == f"bearer {receiver.token}"
