"""The WMS simulator over real HTTP on 127.0.0.1: API, control API, signed webhooks, faults, shutdown."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from local_stack.testkit import wait_until
from local_stack.wms_simulator import TenantConfig, WmsSimulator
from tests.payloads import cancel_body, order_body

KEY = "wms-key-acme"
SECRET = "whsec-acme"
WH = "WH-TGR04"
SO = "SO-2026-0001"
OMS = "/v3/fulfillment/outbound/oms"
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A tiny hub stand-in: records webhooks, answers the queued statuses (then 200)."""

    server: ThreadingHTTPServer
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.01)
        with self.lock:
            raise AssertionError(f"expected {count} webhooks, got {len(self.received)}")


def _verified(item: Received, secret: str = SECRET) -> bool:
    timestamp = item.headers["x-hub-timestamp"]
    if abs(int(timestamp) - time.time()) > 300:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + item.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(item.headers["x-hub-signature"], f"v1={expected}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    holder: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            state = holder[0]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with state.lock:
                status = state.statuses.pop(0) if state.statuses else 200
                if status < 300:
                    headers = {name.lower(): value for name, value in self.headers.items()}
                    state.received.append(Received(self.path, headers, body))
            reply = b'{"metadata":{"http_status_code":%d}}' % status
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(Receiver(server))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield holder[0]
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


@pytest.fixture
def sim(receiver: Receiver) -> Iterator[WmsSimulator]:
    simulator = WmsSimulator(tenants={"acme": TenantConfig(KEY, SECRET)}, hub_url=receiver.url)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def http(sim: WmsSimulator) -> Iterator[requests.Session]:
    session = requests.Session()
    session.headers["x-api-key"] = KEY
    yield session
    session.close()


def test_order_lifecycle_with_signed_webhooks(sim: WmsSimulator, http: requests.Session, receiver: Receiver) -> None:
    created = http.post(sim.url + OMS, json=order_body(), timeout=5)
    assert created.status_code == 200
    assert created.headers["Content-Type"] == "application/json"
    assert created.json()["data"]["so_status"] == "OPEN"
    assert http.post(sim.url + OMS, json=order_body(), timeout=5).status_code == 409

    [confirmation] = receiver.wait_for(1)
    assert confirmation.path == "/webhooks/wms/acme/order-confirmation"
    assert confirmation.headers["content-type"] == "application/json"
    assert _verified(confirmation)
    assert not _verified(confirmation, "another-secret")
    assert confirmation.payload["wms_order_no"] == created.json()["data"]["wms_order_no"]

    advanced = requests.post(f"{sim.url}/_sim/orders/{WH}/{SO}/advance", json={"to": "SHIPPED"}, timeout=5)
    assert advanced.status_code == 200
    _, pgi = receiver.wait_for(2)
    assert pgi.path == "/webhooks/wms/acme/pgi"
    assert _verified(pgi)
    assert pgi.payload["doc_no"] == SO
    assert [line["qty_shipped"] for line in pgi.payload["details"]] == [2, 1]

    detail = http.get(f"{sim.url}/v3/fulfillment/warehouse/{WH}/outbound/wms/{SO}", timeout=5).json()
    assert detail["data"]["outbound"]["so_status"] == "SHIPPED"
    assert detail["data"]["outbound"]["delivery_no"] == pgi.payload["delivery_no"]
    listing = http.get(f"{sim.url}/v3/fulfillment/outbounds/WMS", params={"warehouse_id": WH, "limit": "50"}, timeout=5)
    assert [item["so_status"] for item in listing.json()["data"]["outbounds"]] == ["SHIPPED"]
    cancel = http.patch(f"{sim.url}{OMS}/cancel", json=cancel_body(), timeout=5)
    assert cancel.status_code == 400 and cancel.json()["metadata"]["errors"][0]["code"] == 810

    assert sim.wait_webhooks_idle(5)
    log = requests.get(f"{sim.url}/_sim/webhooks", timeout=5).json()["deliveries"]
    assert [(entry["kind"], entry["status_code"]) for entry in log] == [("order_confirmation", 200), ("pgi", 200)]


def test_wrong_api_key_is_401(sim: WmsSimulator) -> None:
    for headers in ({}, {"x-api-key": "nope"}):
        reply = requests.post(sim.url + OMS, json=order_body(), headers=headers, timeout=5)
        assert reply.status_code == 401
        assert reply.json()["metadata"]["errors"][0]["code"] == 802


def test_webhook_retries_on_failure(sim: WmsSimulator, http: requests.Session, receiver: Receiver) -> None:
    receiver.statuses = [500, 503]
    http.post(sim.url + OMS, json=order_body(), timeout=5)
    [delivered] = receiver.wait_for(1)
    assert _verified(delivered)
    assert sim.wait_webhooks_idle(5)
    assert [(entry["attempt"], entry["status_code"]) for entry in sim.webhook_log()] == [(1, 500), (2, 503), (3, 200)]


def test_webhook_to_a_dead_hub_is_recorded(receiver: Receiver) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    simulator = WmsSimulator(tenants={"acme": TenantConfig(KEY, SECRET)}, hub_url=f"http://127.0.0.1:{dead_port}")
    simulator.start()
    try:
        requests.post(simulator.url + OMS, json=order_body(), headers={"x-api-key": KEY}, timeout=5)
        assert simulator.wait_webhooks_idle(5)
        log = simulator.webhook_log()
        assert [(entry["attempt"], entry["status_code"], entry["outcome"]) for entry in log] == [
            (1, None, "failed"),
            (2, None, "failed"),
            (3, None, "failed"),
        ]
        assert all(entry["error"] for entry in log)
    finally:
        simulator.stop()


def test_duplicate_and_reorder_over_http(sim: WmsSimulator, http: requests.Session, receiver: Receiver) -> None:
    assert requests.post(f"{sim.url}/_sim/webhooks", json={"duplicate": True, "reorder": True}, timeout=5).ok
    http.post(sim.url + OMS, json=order_body(), timeout=5)
    requests.post(f"{sim.url}/_sim/orders/{WH}/{SO}/advance", json={"to": "SHIPPED"}, timeout=5)
    received = receiver.wait_for(4)
    assert [item.path.rsplit("/", 1)[1] for item in received] == ["pgi", "pgi", "order-confirmation", "order-confirmation"]
    assert all(_verified(item) for item in received)


def test_error_fault_then_recovery(sim: WmsSimulator, http: requests.Session) -> None:
    assert requests.post(f"{sim.url}/_sim/faults", json={"mode": "error", "status": 500, "count": 2}, timeout=5).ok
    for _ in range(2):
        reply = http.post(sim.url + OMS, json=order_body(), timeout=5)
        assert reply.status_code == 500
        assert reply.json()["metadata"]["errors"][0]["code"] == 803
    assert http.post(sim.url + OMS, json=order_body(), timeout=5).status_code == 200


def test_slow_fault(sim: WmsSimulator, http: requests.Session) -> None:
    sim.set_faults("slow", delay_ms=300, count=1)
    began = time.perf_counter()
    assert http.get(f"{sim.url}/v3/fulfillment/outbounds/WMS", timeout=5).status_code == 200
    assert time.perf_counter() - began >= 0.3


def _connection_threads() -> int:
    return sum(thread.name == "wms-sim-conn" for thread in threading.enumerate())


def test_timeout_fault_is_released_by_stop(receiver: Receiver) -> None:
    threads_before = set(threading.enumerate())
    simulator = WmsSimulator(tenants={"acme": TenantConfig(KEY, SECRET)}, hub_url=receiver.url)
    simulator.start()
    simulator.set_faults("timeout")  # holds 30 s
    outcome: list[BaseException | int] = []

    def client() -> None:
        try:
            reply = requests.post(simulator.url + OMS, json=order_body(), headers={"x-api-key": KEY}, timeout=20)
            outcome.append(reply.status_code)
        except requests.RequestException as error:
            outcome.append(error)

    with pytest.raises(requests.ReadTimeout):
        requests.get(f"{simulator.url}/v3/fulfillment/outbounds/WMS", headers={"x-api-key": KEY}, timeout=0.3)
    caller = threading.Thread(target=client)
    caller.start()
    wait_until(lambda: _connection_threads() >= 2, what="the client's request held next to the first one")
    began = time.perf_counter()
    simulator.stop()
    assert time.perf_counter() - began < 3
    caller.join(timeout=5)
    assert len(outcome) == 1 and isinstance(outcome[0], requests.ConnectionError)
    assert simulator.orders() == []
    assert set(threading.enumerate()) == threads_before


def test_clock_ticker_over_http(sim: WmsSimulator, http: requests.Session, receiver: Receiver) -> None:
    http.post(sim.url + OMS, json=order_body(), timeout=5)
    http.post(sim.url + OMS, json=order_body(so_number="SO-HELD"), timeout=5)
    assert requests.post(f"{sim.url}/_sim/orders/{WH}/SO-HELD/hold", json={"hold": True}, timeout=5).ok
    assert requests.post(f"{sim.url}/_sim/clock", json={"enabled": True, "interval_ms": 10}, timeout=5).json()["enabled"]
    received = receiver.wait_for(3)  # two confirmations, one PGI
    assert received[-1].path.endswith("/pgi")
    requests.post(f"{sim.url}/_sim/clock", json={"enabled": False}, timeout=5)
    statuses = {
        order["order_no"]: order["status"] for order in requests.get(f"{sim.url}/_sim/orders", timeout=5).json()["orders"]
    }
    assert statuses == {SO: "SHIPPED", "SO-HELD": "OPEN"}


def test_keep_alive_requests_do_not_stall(sim: WmsSimulator, http: requests.Session) -> None:
    http.post(sim.url + OMS, json=order_body(), timeout=5)
    timings = []
    for _ in range(20):
        began = time.perf_counter()
        assert http.get(f"{sim.url}/v3/fulfillment/warehouse/{WH}/outbound/wms/{SO}", timeout=5).status_code == 200
        timings.append(time.perf_counter() - began)
    timings.sort()
    assert timings[len(timings) // 2] < 0.03, timings  # Nagle + delayed ACK would make it ~40 ms


def test_stop_leaves_no_threads() -> None:
    threads_before = set(threading.enumerate())
    # No hub: the receiver's own handler threads would blur the picture.
    simulator = WmsSimulator(tenants={"acme": TenantConfig(KEY, SECRET)})
    simulator.start()
    session = requests.Session()  # an idle keep-alive connection stays open
    session.post(simulator.url + OMS, json=order_body(), headers={"x-api-key": KEY}, timeout=5)
    simulator.set_clock(True, interval_ms=20)
    simulator.set_faults("slow", delay_ms=10_000, count=1)
    slow = threading.Thread(target=lambda: _swallow(simulator.url))
    slow.start()
    wait_until(lambda: len(set(threading.enumerate()) - threads_before) >= 5, what="server, clock, sender and two connections")
    began = time.perf_counter()
    simulator.stop()
    slow.join(timeout=5)
    session.close()
    assert time.perf_counter() - began < 3
    assert set(threading.enumerate()) == threads_before
    # Restartable, on the same port.
    url = simulator.url
    simulator.start()
    assert simulator.url == url
    assert requests.get(f"{simulator.url}/_sim/health", timeout=5).json() == {"ok": True}
    simulator.stop()
    assert set(threading.enumerate()) == threads_before


def _swallow(url: str) -> None:
    with contextlib.suppress(requests.RequestException):
        requests.get(f"{url}/v3/fulfillment/outbounds/WMS", headers={"x-api-key": KEY}, timeout=10)


def test_command_line_entry_point(receiver: Receiver) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local_stack.wms_simulator",
            "--port",
            str(port),
            "--tenant",
            f"acme:{KEY}:{SECRET}",
            "--hub-url",
            receiver.url,
            "--quiet",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert f"http://127.0.0.1:{port}" in banner
        reply = requests.post(f"http://127.0.0.1:{port}{OMS}", json=order_body(), headers={"x-api-key": KEY}, timeout=5)
        assert reply.status_code == 200
        [confirmation] = receiver.wait_for(1)
        assert _verified(confirmation)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_contract_with_the_hubs_wms_adapter_poller_and_webhook_checks(receiver: Receiver) -> None:
    """The hub's own Shipper client, poller and webhook verification against the simulator."""
    from order_hub.adapters.wms_http import ShipperWmsClient
    from order_hub.errors import WmsAlreadyExists, WmsUnavailable
    from order_hub.models.api import CreateOrderRequest
    from order_hub.models.status import ApiStatus
    from order_hub.models.tenant import Tenant
    from order_hub.models.wms import OrderConfirmationWebhook, PgiWebhook
    from order_hub.rendering.api_views import create_body
    from order_hub.services import orders
    from order_hub.services.forwarding import forward_order
    from order_hub.services.polling import poll_warehouse
    from order_hub.services.webhooks import verify_webhook
    from tests.fakes import InMemoryOrderRepository, InMemoryTenantDirectory

    simulator = WmsSimulator(tenants={"acme": TenantConfig(KEY, SECRET)}, hub_url=receiver.url)
    simulator.start()
    session = requests.Session()
    try:
        tenant = Tenant(tenant_id="acme", name="Acme", warehouse_ids=[WH], created_at=datetime.now(UTC))
        repo, directory = InMemoryOrderRepository(), InMemoryTenantDirectory()
        client = ShipperWmsClient(simulator.url, KEY, session, timeout=2)
        for n in range(3):
            orders.create_order(tenant, CreateOrderRequest.model_validate(order_body(so_number=f"SO-{n}")), repo)
            assert forward_order("acme", WH, f"SO-{n}", repo, client).action == "created"
        stored = repo.get("acme", WH, "SO-0")
        assert stored is not None
        with pytest.raises(WmsAlreadyExists):
            client.create_outbound(create_body(stored))

        simulator.advance(WH, "SO-0", to="CLOSED")
        simulator.advance(WH, "SO-1", to="PICKING")
        simulator.touch(WH, "SO-2", "SHIPPED")  # as if its PGI webhook was lost
        stats = poll_warehouse("acme", WH, client, repo, directory, lambda: False)
        assert (stats.seen, stats.written, stats.unknown_statuses) == (3, 3, 0)
        statuses = {n: getattr(repo.get("acme", WH, f"SO-{n}"), "status", None) for n in range(3)}
        assert statuses == {0: ApiStatus.CANCELLED, 1: ApiStatus.ALLOCATED, 2: ApiStatus.CLOSED}

        simulator.advance(WH, "SO-1", to="SHIPPED")
        received = receiver.wait_for(4)  # three confirmations, one PGI
        for item in received:
            verify_webhook({"hmac_secret": SECRET}, item.headers, item.body, time.time())
            model = PgiWebhook if item.path.endswith("/pgi") else OrderConfirmationWebhook
            model.model_validate_json(item.body)

        simulator.set_faults("error", status=503, count=1)
        with pytest.raises(WmsUnavailable):
            client.get_outbound(WH, "SO-1")
        assert client.get_outbound(WH, "SO-NOPE") is None
    finally:
        session.close()
        simulator.stop()


def test_the_pgi_forwarded_back_is_checked_against_the_shipped_order() -> None:
    from local_stack.wms_simulator import TenantConfig, WmsSimulator

    simulator = WmsSimulator(port=0, tenants={"acme": TenantConfig(api_key="k", webhook_secret="s")}, hub_url=None)
    headers = {"x-api-key": "k", "content-type": "application/json"}
    body = {
        "warehouse_id": "WH-1",
        "so_number": "SO-PGI",
        "customer_id": "C1",
        "consignee": "Budi",
        "express_code": "JNE",
        "items": [{"sku": "A", "qty": 1}],
    }
    simulator.handle("POST", "/v3/fulfillment/outbound/oms", headers, json.dumps(body).encode())
    pgi = {"warehouse_id": "WH-1", "doc_no": "SO-PGI", "delivery_no": "nope"}

    early = simulator.handle("POST", "/v3/fulfillment/webhooks/pgi", headers, json.dumps(pgi).encode())
    order = simulator.advance("WH-1", "SO-PGI", "SHIPPED", None, None, "acme")
    pgi["delivery_no"] = order["delivery_no"]
    ok = simulator.handle("POST", "/v3/fulfillment/webhooks/pgi", headers, json.dumps(pgi).encode())
    unknown = simulator.handle("POST", "/v3/fulfillment/webhooks/pgi", headers, json.dumps({**pgi, "doc_no": "X"}).encode())
    unauthorised = simulator.handle("POST", "/v3/fulfillment/webhooks/pgi", {}, json.dumps(pgi).encode())

    assert early.status == 400 and ok.status == 200 and unknown.status == 404 and unauthorised.status == 401
    assert simulator.order("WH-1", "SO-PGI", "acme")["pgi_confirmations"] == 1
