"""The WMS simulator's state machine and API, driven through ``WmsSimulator.handle`` (no sockets)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local_stack.wms_simulator import (
    CODE_AUTH,
    CODE_INPUT,
    CODE_INTERNAL,
    FLOW,
    SimulatorError,
    TenantConfig,
    WmsSimulator,
    _tenant_arg,
    sign,
)
from tests.payloads import SHIPPER_PGI_FIELDS, cancel_body, order_body

KEY = "wms-key-acme"
SECRET = "whsec-acme"
OTHER_KEY = "wms-key-rival"
HUB = "http://127.0.0.1:9"
WH = "WH-TGR04"
SO = "SO-2026-0001"
CREATE = "/v3/fulfillment/outbound/oms"
CANCEL = "/v3/fulfillment/outbound/oms/cancel"
LIST = "/v3/fulfillment/outbounds/WMS"


class Clock:
    """A settable clock for order timestamps."""

    def __init__(self) -> None:
        self.moment = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


@dataclass
class FakeTransport:
    """Stands in for HTTP: records every POST, answers the queued statuses (then 200)."""

    statuses: list[int | Exception] = field(default_factory=list)
    sent: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    def __call__(self, url: str, headers: Mapping[str, str], body: bytes, timeout: float) -> int:
        self.sent.append((url, dict(headers), body))
        outcome = self.statuses.pop(0) if self.statuses else 200
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def payloads(self, suffix: str = "") -> list[dict[str, Any]]:
        return [json.loads(body) for url, _, body in self.sent if url.endswith(suffix)]


@dataclass
class Reply:
    status: int
    body: Any

    @property
    def codes(self) -> list[int]:
        return [error["code"] for error in self.body["metadata"].get("errors", [])]

    @property
    def message(self) -> str:
        return " ".join(error["message"] for error in self.body["metadata"].get("errors", []))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def transport() -> FakeTransport:
    return FakeTransport()


@pytest.fixture
def sim(clock: Clock, transport: FakeTransport) -> WmsSimulator:
    return WmsSimulator(
        tenants={"acme": TenantConfig(KEY, SECRET), "rival": TenantConfig(OTHER_KEY, "whsec-rival")},
        hub_url=HUB,
        now=clock,
        transport=transport,
        webhook_retry_delay_s=0,
    )


def call(sim: WmsSimulator, method: str, target: str, body: Any = None, key: str | None = KEY) -> Reply:
    headers = {"X-Api-Key": key} if key is not None else {}
    raw = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b"")
    response = sim.handle(method, target, headers, raw)
    return Reply(response.status, response.json())


def create(sim: WmsSimulator, key: str = KEY, **overrides: Any) -> Reply:
    return call(sim, "POST", CREATE, order_body(**overrides), key)


def detail(sim: WmsSimulator, warehouse_id: str = WH, order_no: str = SO, key: str = KEY) -> Reply:
    return call(sim, "GET", f"/v3/fulfillment/warehouse/{warehouse_id}/outbound/wms/{order_no}", key=key)


# --------------------------------------------------------------------------------------------
# Create, update, cancel
# --------------------------------------------------------------------------------------------


def test_create_stores_an_open_order(sim: WmsSimulator) -> None:
    reply = create(sim)
    assert reply.status == 200
    assert reply.body["data"] == {
        "order_no": SO,
        "warehouse_id": WH,
        "so_status": "OPEN",
        "wms_order_no": "WMSO-000001",
    }
    metadata = reply.body["metadata"]
    assert metadata["path"] == CREATE
    assert metadata["http_status_code"] == 200
    assert isinstance(metadata["timestamp"], int)
    assert "errors" not in metadata
    [order] = sim.orders()
    assert order["status"] == "OPEN"
    assert [line["qty_ordered"] for line in order["lines"]] == [2, 1]


def test_duplicate_create_is_409_and_not_duplicated(sim: WmsSimulator) -> None:
    assert create(sim).status == 200
    again = create(sim, notes="changed")
    assert again.status == 409
    assert again.codes == [CODE_INPUT]
    assert "already exists" in again.message
    assert len(sim.orders()) == 1


def test_same_order_number_in_another_warehouse_or_tenant_is_a_new_order(sim: WmsSimulator) -> None:
    assert create(sim).status == 200
    assert create(sim, warehouse_id="WH-CGK09").status == 200
    assert create(sim, key=OTHER_KEY).status == 200
    assert len(sim.orders()) == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (order_body(warehouse_id=""), "warehouse_id"),
        (order_body(so_number=None), "so_number"),
        (order_body(so_number="X" * 51), "so_number"),
        (order_body(items=[]), "items"),
        (order_body(items=[{"sku": "A", "qty": 0}]), "items[0].qty"),
        (order_body(items=[{"sku": "A", "qty": True}]), "items[0].qty"),
        (order_body(items=[{"qty": 1}]), "items[0].sku"),
        (order_body(express_code=5), "express_code"),
    ],
)
def test_create_refuses_invalid_input(sim: WmsSimulator, body: dict[str, Any], field: str) -> None:
    reply = call(sim, "POST", CREATE, body)
    assert reply.status == 400
    assert reply.codes == [CODE_INPUT]
    assert reply.body["metadata"]["errors"][0]["field"] == field
    assert sim.orders() == []


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b""])
def test_create_refuses_a_body_that_is_not_a_json_object(sim: WmsSimulator, raw: bytes) -> None:
    reply = call(sim, "POST", CREATE, raw)
    assert (reply.status, reply.codes) == (400, [CODE_INPUT])


@pytest.mark.parametrize("key", [None, "", "wrong-key"])
def test_api_needs_a_known_api_key(sim: WmsSimulator, key: str | None) -> None:
    for method, target in [("POST", CREATE), ("GET", LIST), ("GET", f"/v3/fulfillment/warehouse/{WH}/outbound/wms/x")]:
        reply = call(sim, method, target, order_body() if method == "POST" else None, key=key)
        assert reply.status == 401
        assert reply.codes == [CODE_AUTH]
    assert sim.orders() == []


def test_unknown_route_is_404(sim: WmsSimulator) -> None:
    reply = call(sim, "GET", "/v3/fulfillment/nothing")
    assert (reply.status, reply.codes) == (404, [CODE_INPUT])


def test_update_replaces_the_lines_while_open_or_due_out(sim: WmsSimulator, clock: Clock) -> None:
    create(sim)
    clock.advance(minutes=5)
    items = [{"sku": "MUG-WHT", "qty": 3, "unit_price": 50000}]
    reply = call(sim, "PUT", CREATE, order_body(items=items, consignee="Siti"))
    assert reply.status == 200
    assert reply.body["data"]["so_status"] == "OPEN"
    outbound = detail(sim).body["data"]["outbound"]
    assert [(line["sku"], line["qty_ordered"]) for line in outbound["details"]] == [("MUG-WHT", 3)]
    assert outbound["consignee_name"] == "Siti"
    assert outbound["updated_at"] == "2026-11-23T10:05:00Z"

    sim.advance(WH, SO, to="DUE_OUT")
    assert call(sim, "PUT", CREATE, order_body()).status == 200


@pytest.mark.parametrize("status", ["ALLOCATED", "PICKING", "PACKED", "SHIPPED"])
def test_update_after_allocation_is_refused(sim: WmsSimulator, status: str) -> None:
    create(sim)
    sim.advance(WH, SO, to=status)
    reply = call(sim, "PUT", CREATE, order_body(items=[{"sku": "MUG", "qty": 1, "unit_price": 1}]))
    assert (reply.status, reply.codes) == (400, [CODE_INPUT])
    assert "already allocated" in reply.message
    assert [line["sku"] for line in sim.orders()[0]["lines"]] == ["TSHIRT-BLK-M", "CAP-RED"]


def test_update_of_an_unknown_order_is_404(sim: WmsSimulator) -> None:
    reply = call(sim, "PUT", CREATE, order_body())
    assert (reply.status, reply.codes) == (404, [CODE_INPUT])


def test_cancel_rules(sim: WmsSimulator) -> None:
    create(sim)
    reply = call(sim, "PATCH", CANCEL, cancel_body())
    assert reply.status == 200
    assert "data" not in reply.body
    assert reply.body["metadata"]["http_status_code"] == 200
    assert sim.order(WH, SO)["status"] == "CANCELLED"
    # Idempotent.
    assert call(sim, "PATCH", CANCEL, cancel_body()).status == 200
    # Unknown order.
    unknown = call(sim, "PATCH", CANCEL, cancel_body(order_no="SO-NOPE"))
    assert (unknown.status, unknown.codes) == (404, [CODE_INPUT])
    # After allocation.
    create(sim, so_number="SO-2")
    sim.advance(WH, "SO-2", to="ALLOCATED")
    refused = call(sim, "PATCH", CANCEL, cancel_body(order_no="SO-2"))
    assert (refused.status, refused.codes) == (400, [CODE_INPUT])
    assert "already allocated" in refused.message
    assert sim.order(WH, "SO-2")["status"] == "ALLOCATED"
    # Cancelled by the warehouse counts as cancelled.
    create(sim, so_number="SO-3")
    sim.advance(WH, "SO-3", to="CLOSED")
    assert call(sim, "PATCH", CANCEL, cancel_body(order_no="SO-3")).status == 200
    assert sim.order(WH, "SO-3")["status"] == "CLOSED"


def test_cancel_allowed_while_due_out(sim: WmsSimulator) -> None:
    create(sim)
    sim.advance(WH, SO, steps=1)
    assert call(sim, "PATCH", CANCEL, cancel_body()).status == 200
    assert sim.order(WH, SO)["status"] == "CANCELLED"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"data": {}},
        {"data": {"cancellation": {"order_no": SO, "warehouse_id": WH}}},
        {"data": {"cancellation": {"order_no": SO, "warehouse_id": WH, "cancel_reason": "x" * 51}}},
    ],
)
def test_cancel_validates_its_body(sim: WmsSimulator, body: dict[str, Any]) -> None:
    create(sim)
    reply = call(sim, "PATCH", CANCEL, body)
    assert (reply.status, reply.codes) == (400, [CODE_INPUT])
    assert sim.order(WH, SO)["status"] == "OPEN"


def test_another_tenants_order_is_invisible(sim: WmsSimulator) -> None:
    create(sim)
    assert detail(sim, key=OTHER_KEY).status == 404
    assert call(sim, "PATCH", CANCEL, cancel_body(), key=OTHER_KEY).status == 404
    assert call(sim, "GET", LIST, key=OTHER_KEY).body["data"]["outbounds"] == []


# --------------------------------------------------------------------------------------------
# List and detail
# --------------------------------------------------------------------------------------------


def _load(sim: WmsSimulator, count: int, start: datetime, step: timedelta, **extra: Any) -> None:
    sim.bulk_load(
        {"tenant_id": "acme", "warehouse_id": WH, "order_no": f"SO-{n:05d}", "updated_at": start + step * n, **extra}
        for n in range(count)
    )


def test_list_pages_in_updated_order(sim: WmsSimulator) -> None:
    start = datetime(2026, 11, 20, tzinfo=UTC)
    # Loaded in reverse, with pairs sharing a timestamp: the order is (updated_at, order_no).
    sim.bulk_load(
        {
            "tenant_id": "acme",
            "warehouse_id": WH,
            "order_no": f"SO-{n:05d}",
            "updated_at": start + timedelta(seconds=n // 2),
        }
        for n in reversed(range(250))
    )
    seen: list[str] = []
    for page in (1, 2, 3):
        reply = call(sim, "GET", f"{LIST}?page={page}&limit=100")
        assert reply.status == 200
        pagination = reply.body["pagination"]
        assert pagination == {
            "current_page": page,
            "current_elements": 100 if page < 3 else 50,
            "total_pages": 3,
            "total_elements": 250,
        }
        seen += [item["order_no"] for item in reply.body["data"]["outbounds"]]
    assert seen == [f"SO-{n:05d}" for n in range(250)]
    past_end = call(sim, "GET", f"{LIST}?page=4&limit=100")
    assert past_end.body["data"]["outbounds"] == []
    assert past_end.body["pagination"]["current_elements"] == 0


def test_list_filters_on_the_updated_day_and_warehouse(sim: WmsSimulator) -> None:
    # One order per hour over three days: 2026-11-20 00:00 .. 2026-11-22 23:00.
    _load(sim, 72, datetime(2026, 11, 20, tzinfo=UTC), timedelta(hours=1))
    sim.bulk_load([{"tenant_id": "acme", "warehouse_id": "WH-CGK09", "order_no": "X-1", "updated_at": "2026-11-21"}])

    def total(query: str) -> int:
        reply = call(sim, "GET", f"{LIST}?{query}")
        assert reply.status == 200, reply.body
        return int(reply.body["pagination"]["total_elements"])

    assert total("") == 73
    assert total("updated_start=2026-11-21&updated_end=2026-11-21") == 25
    assert total("updated_start=2026-11-21&updated_end=2026-11-21&warehouse_id=WH-TGR04") == 24
    assert total("updated_start=2026-11-22") == 24
    assert total("updated_end=2026-11-20") == 24
    assert total("updated_start=2026-11-23") == 0
    assert total("warehouse_id=WH-CGK09") == 1


def test_list_item_shape(sim: WmsSimulator, clock: Clock) -> None:
    create(sim)
    sim.advance(WH, SO, to="PACKED")
    [item] = call(sim, "GET", f"{LIST}?updated_start=2026-11-23&updated_end=2026-11-23").body["data"]["outbounds"]
    assert item == {
        "order_no": SO,
        "order_type": "SO",
        "so_status": "PACKED",
        "warehouse_id": WH,
        "release_status": True,
        "order_time": "2026-11-23 02:15:00",
        "updated_at": "2026-11-23T10:00:00Z",
        "consignee_name": "Budi Santoso",
        "carrier_name": "JNE YES",
        "delivery_no": item["delivery_no"],
    }
    assert item["delivery_no"].startswith("JNE") and item["delivery_no"][3:].isdigit()


@pytest.mark.parametrize(
    "query",
    [
        "limit=101",
        "limit=0",
        "page=0",
        "page=x",
        "updated_start=2026-13-01",
        "updated_start=20261101",
        "updated_start=2026-11-02&updated_end=2026-11-01",
    ],
)
def test_list_refuses_bad_parameters(sim: WmsSimulator, query: str) -> None:
    reply = call(sim, "GET", f"{LIST}?{query}")
    assert (reply.status, reply.codes) == (400, [CODE_INPUT])


def test_list_sees_changes_between_pages(sim: WmsSimulator, clock: Clock) -> None:
    _load(sim, 5, datetime(2026, 11, 23, 9, tzinfo=UTC), timedelta(minutes=1))
    first = call(sim, "GET", f"{LIST}?limit=2").body["data"]["outbounds"]
    sim.touch(WH, "SO-00000", "ALLOCATED")  # moves to the end: updated now (10:00)
    everything = call(sim, "GET", f"{LIST}?limit=10").body["data"]["outbounds"]
    assert [item["order_no"] for item in first] == ["SO-00000", "SO-00001"]
    assert [item["order_no"] for item in everything][-1] == "SO-00000"
    assert everything[-1]["so_status"] == "ALLOCATED"


def test_detail_quantities_follow_the_status(sim: WmsSimulator) -> None:
    create(sim)

    def lines() -> list[tuple[int, int, int, int]]:
        outbound = detail(sim).body["data"]["outbound"]
        return [
            (line["order_line"], line["qty_allocated"], line["qty_picked"], line["qty_shipped"]) for line in outbound["details"]
        ]

    assert lines() == [(0, 0, 0, 0), (1, 0, 0, 0)]
    sim.advance(WH, SO, to="ALLOCATED")
    assert lines() == [(0, 2, 0, 0), (1, 1, 0, 0)]
    sim.advance(WH, SO, to="PICKED")
    assert lines() == [(0, 2, 2, 0), (1, 1, 1, 0)]
    sim.advance(WH, SO, to="SHIPPED")
    assert lines() == [(0, 2, 2, 2), (1, 1, 1, 1)]


def test_detail_shape(sim: WmsSimulator) -> None:
    create(sim)
    outbound = detail(sim).body["data"]["outbound"]
    assert {
        "order_no",
        "order_type",
        "so_status",
        "warehouse_id",
        "consignee_name",
        "release_status",
        "order_time",
        "carrier_name",
        "delivery_no",
        "updated_at",
        "details",
    } <= set(outbound)
    assert outbound["so_status"] == "OPEN"
    assert outbound["release_status"] is False
    assert outbound["delivery_no"] == ""
    assert outbound["details"][0] == {
        "sku": "TSHIRT-BLK-M",
        "order_line": 0,
        "qty_ordered": 2,
        "qty_allocated": 0,
        "qty_picked": 0,
        "qty_shipped": 0,
        "batch_no": "",
        "serial_no": "",
        "mfg_date": "",
        "exp_date": "",
    }
    sim.advance(WH, SO, to="ALLOCATED")
    line = detail(sim).body["data"]["outbound"]["details"][0]
    assert line["batch_no"] and line["serial_no"] == f"SN-{SO}-1" and line["mfg_date"] < line["exp_date"]


def test_detail_of_an_unknown_order_is_404(sim: WmsSimulator) -> None:
    reply = detail(sim, order_no="SO-NOPE")
    assert (reply.status, reply.codes) == (404, [CODE_INPUT])


# --------------------------------------------------------------------------------------------
# Advance, touch, clock
# --------------------------------------------------------------------------------------------


def test_advance_walks_through_every_status(sim: WmsSimulator) -> None:
    create(sim)
    order = sim.advance(WH, SO, to="PACKED")
    assert order["status"] == "PACKED"
    assert [entry["status"] for entry in order["history"]] == list(FLOW[: FLOW.index("PACKED") + 1])
    assert sim.advance(WH, SO)["status"] == "SHIPPING"
    assert sim.advance(WH, SO, steps=5)["status"] == "SHIPPED"  # stops at the end


def test_advance_refuses_backwards_and_terminal(sim: WmsSimulator) -> None:
    create(sim)
    sim.advance(WH, SO, to="PICKED")
    with pytest.raises(SimulatorError) as backwards:
        sim.advance(WH, SO, to="ALLOCATED")
    assert backwards.value.status == 400
    assert sim.advance(WH, SO, to="PICKED")["status"] == "PICKED"  # staying put is a no-op
    sim.advance(WH, SO, to="SHIPPED")
    for target in ("CLOSED", "SHIPPED", None):
        with pytest.raises(SimulatorError):
            sim.advance(WH, SO, to=target)
    with pytest.raises(SimulatorError) as unknown:
        sim.advance(WH, "SO-NOPE")
    assert unknown.value.status == 404
    with pytest.raises(SimulatorError):
        sim.advance(WH, SO, to="LOST")


def test_warehouse_close_cancels_after_allocation(sim: WmsSimulator) -> None:
    create(sim)
    sim.advance(WH, SO, to="PICKING")
    order = sim.advance(WH, SO, to="CLOSED")
    assert order["status"] == "CLOSED"
    assert [line["qty_allocated"] for line in order["lines"]] == [0, 0]


def test_partial_shipment(sim: WmsSimulator, transport: FakeTransport) -> None:
    create(sim, items=[*order_body()["items"], {"sku": "TSHIRT-BLK-M", "qty": 3, "unit_price": 75000}])
    order = sim.advance(WH, SO, to="SHIPPED", ship_qty={"TSHIRT-BLK-M": 4, "CAP-RED": 0})
    assert [(line["sku"], line["qty_ordered"], line["qty_shipped"]) for line in order["lines"]] == [
        ("TSHIRT-BLK-M", 2, 2),
        ("CAP-RED", 1, 0),
        ("TSHIRT-BLK-M", 3, 2),
    ]
    sim.deliver_pending_webhooks()
    [pgi] = transport.payloads("/pgi")
    assert [(line["sku"], line["qty_shipped"]) for line in pgi["details"]] == [
        ("TSHIRT-BLK-M", 2),
        ("CAP-RED", 0),
        ("TSHIRT-BLK-M", 2),
    ]


@pytest.mark.parametrize("ship_qty", [{"NOPE": 1}, {"CAP-RED": 2}, {"CAP-RED": -1}, {"CAP-RED": "1"}])
def test_partial_shipment_validates_quantities(sim: WmsSimulator, ship_qty: dict[str, Any]) -> None:
    create(sim)
    with pytest.raises(SimulatorError):
        sim.advance(WH, SO, to="SHIPPED", ship_qty=ship_qty)
    assert sim.order(WH, SO)["status"] == "OPEN"


def test_touch_changes_status_without_webhooks(sim: WmsSimulator, transport: FakeTransport) -> None:
    create(sim)
    sim.set_webhooks(enabled=False)
    sim.set_webhooks(enabled=True)
    before = len(sim.webhook_log())
    sim.touch(WH, SO, "SHIPPED", updated_at="2026-11-22T08:00:00Z")
    sim.touch(WH, SO, "picked")  # any direction
    order = sim.order(WH, SO)
    assert order["status"] == "PICKED"
    assert [entry["source"] for entry in order["history"]] == ["api", "touch", "touch"]
    sim.deliver_pending_webhooks()
    assert [url.rsplit("/", 1)[1] for url, _, _ in transport.sent] == ["order-confirmation"]
    assert len(sim.webhook_log()) == before + 1
    with pytest.raises(SimulatorError):
        sim.touch(WH, SO, "NOPE")


def test_tick_moves_every_open_order_except_held_and_terminal(sim: WmsSimulator) -> None:
    for number in ("A", "B", "C"):
        create(sim, so_number=number)
    sim.hold(WH, "B")
    sim.advance(WH, "C", to="CLOSED")
    assert sim.tick() == 1
    assert {order["order_no"]: order["status"] for order in sim.orders()} == {
        "A": "DUE_OUT",
        "B": "OPEN",
        "C": "CLOSED",
    }
    for _ in range(20):
        sim.tick()
    assert sim.order(WH, "A")["status"] == "SHIPPED"
    sim.hold(WH, "B", hold=False)
    sim.tick()
    assert sim.order(WH, "B")["status"] == "DUE_OUT"


def test_clock_ticker_thread(sim: WmsSimulator) -> None:
    create(sim)
    threads_before = set(threading.enumerate())
    assert sim.set_clock(True, interval_ms=5) == {"enabled": True, "interval_ms": 5}
    deadline = time.monotonic() + 5
    while sim.order(WH, SO)["status"] != "SHIPPED" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sim.order(WH, SO)["status"] == "SHIPPED"
    assert sim.set_clock(False)["enabled"] is False
    assert set(threading.enumerate()) == threads_before


def test_bulk_load_is_fast_and_pages(sim: WmsSimulator) -> None:
    statuses = ["OPEN", "ALLOCATED", "PACKED", "SHIPPED", "CANCELLED"]
    start = datetime(2026, 11, 1, tzinfo=UTC)
    loaded = sim.bulk_load(
        {
            "tenant_id": "acme",
            "warehouse_id": WH,
            "order_no": f"BULK-{n:06d}",
            "status": statuses[n % len(statuses)],
            "updated_at": start + timedelta(seconds=n * 30),
        }
        for n in range(10_000)
    )
    assert loaded == 10_000
    pages = 0
    total = 0
    while True:
        reply = call(sim, "GET", f"{LIST}?limit=100&page={pages + 1}")
        total += reply.body["pagination"]["current_elements"]
        pages += 1
        if pages >= reply.body["pagination"]["total_pages"]:
            break
    assert (pages, total) == (100, 10_000)  # speed is for benchmarks/poll_reconcile.py, not for a test
    shipped = detail(sim, order_no="BULK-000003").body["data"]["outbound"]
    assert shipped["so_status"] == "SHIPPED" and shipped["delivery_no"]


def test_bulk_load_rules(clock: Clock) -> None:
    two = WmsSimulator(tenants={"a": TenantConfig("ka", "sa"), "b": TenantConfig("kb", "sb")}, now=clock)
    with pytest.raises(ValueError, match="tenant_id"):
        two.bulk_load([{"warehouse_id": WH, "order_no": "X"}])
    one = WmsSimulator(tenants={"a": TenantConfig("ka", "sa")}, now=clock)
    assert one.bulk_load([{"warehouse_id": WH, "order_no": "X"}]) == 1
    assert one.order(WH, "X")["tenant_id"] == "a"
    with pytest.raises(ValueError, match="already exists"):
        one.bulk_load([{"warehouse_id": WH, "order_no": "X"}])
    with pytest.raises(ValueError, match="status"):
        one.bulk_load([{"warehouse_id": WH, "order_no": "Y", "status": "LOST"}])


# --------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------


def test_error_fault_for_a_number_of_requests(sim: WmsSimulator) -> None:
    sim.set_faults("error", status=503, count=2)
    for _ in range(2):
        reply = create(sim)
        assert (reply.status, reply.codes) == (503, [CODE_INTERNAL])
    assert sim.orders() == []
    assert call(sim, "GET", "/_sim/orders", key=None).status == 200  # the control API is never affected
    assert create(sim).status == 200
    assert sim.faults()["mode"] == "none"


def test_error_fault_until_reset_and_only_on_given_paths(sim: WmsSimulator) -> None:
    sim.set_faults("error", status=429, paths=["/v3/fulfillment/outbounds"])
    assert create(sim).status == 200
    for _ in range(3):
        reply = call(sim, "GET", LIST)
        assert (reply.status, reply.codes) == (429, [CODE_INPUT])
    sim.set_faults("none")
    assert call(sim, "GET", LIST).status == 200


def test_slow_fault_delays_the_answer(sim: WmsSimulator) -> None:
    sim.set_faults("slow", delay_ms=150, count=1)
    began = time.perf_counter()
    assert create(sim).status == 200
    assert time.perf_counter() - began >= 0.14
    began = time.perf_counter()
    assert call(sim, "GET", LIST).status == 200
    assert time.perf_counter() - began < 0.1


def test_timeout_fault_holds_then_gives_no_reply(sim: WmsSimulator) -> None:
    sim.set_faults("timeout", count=1, hold_ms=100)
    began = time.perf_counter()
    response = sim.handle("POST", CREATE, {"x-api-key": KEY}, json.dumps(order_body()).encode())
    assert response.no_reply
    assert time.perf_counter() - began >= 0.09
    assert sim.orders() == []


@pytest.mark.parametrize(
    "kwargs",
    [{"mode": "explode"}, {"mode": "error", "status": 99}, {"mode": "error", "count": 0}, {"mode": "slow", "delay_ms": -1}],
)
def test_fault_settings_are_validated(sim: WmsSimulator, kwargs: dict[str, Any]) -> None:
    with pytest.raises(SimulatorError):
        sim.set_faults(**kwargs)


# --------------------------------------------------------------------------------------------
# Webhooks
# --------------------------------------------------------------------------------------------


def _verify(headers: Mapping[str, str], body: bytes, secret: str = SECRET) -> bool:
    timestamp = headers["x-hub-timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["x-hub-signature"], f"v1={expected}")


def test_sign_matches_the_documented_scheme() -> None:
    body = b'{"a":1}'
    expected = hmac.new(b"s", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("s", 1700000000, body) == f"v1={expected}"


def test_confirmation_and_pgi_webhooks(sim: WmsSimulator, transport: FakeTransport) -> None:
    create(sim, express_code="")
    sim.advance(WH, SO, to="SHIPPED")
    sim.deliver_pending_webhooks()
    urls = [url for url, _, _ in transport.sent]
    assert urls == [f"{HUB}/webhooks/wms/acme/order-confirmation", f"{HUB}/webhooks/wms/acme/pgi"]
    for _, headers, body in transport.sent:
        assert headers["Content-Type"] == "application/json"
        assert abs(int(headers["x-hub-timestamp"]) - time.time()) < 60
        assert _verify(headers, body)
    confirmation, pgi = (json.loads(body) for _, _, body in transport.sent)
    assert confirmation == {
        "event": "fulfillment.outbound.order.confirmation",
        "order_no": SO,
        "warehouse_id": WH,
        "wms_order_no": "WMSO-000001",
        "so_status": "OPEN",
        "confirmed_at": "2026-11-23 10:00:00",
    }
    assert pgi["doc_no"] == pgi["so_reference_b"] == SO
    assert pgi["carrier_id"] == "JNE" and pgi["carrier_name"] == "JNE REG"
    assert pgi["delivery_no"] == sim.order(WH, SO)["delivery_no"] != ""
    assert pgi["customer_id"] == "CS674"
    assert pgi["pgi_date"] == "2026-11-23 10:00:00"
    assert pgi["order_type"] == "SO"
    assert set(pgi) == set(SHIPPER_PGI_FIELDS)
    assert set(pgi["details"][0]) == {
        "sku",
        "qty_shipped",
        "mfg_date",
        "exp_date",
        "stock_condition",
        "batch_no",
        "serial_no",
        "receipt_date",
        "user_define_1",
        "user_define_2",
        "user_define_3",
        "project_ref_no",
    }
    assert pgi["details"][0]["stock_condition"] == "N"
    log = sim.webhook_log()
    assert [(entry["kind"], entry["attempt"], entry["status_code"], entry["outcome"]) for entry in log] == [
        ("order_confirmation", 1, 200, "delivered"),
        ("pgi", 1, 200, "delivered"),
    ]


def test_webhooks_retry_then_give_up(sim: WmsSimulator, transport: FakeTransport) -> None:
    transport.statuses = [500, ConnectionRefusedError("refused"), 200, 502, 502, 502]
    create(sim)
    sim.advance(WH, SO, to="SHIPPED")
    sim.deliver_pending_webhooks()
    log = [(entry["kind"], entry["attempt"], entry["status_code"], entry["outcome"]) for entry in sim.webhook_log()]
    assert log == [
        ("order_confirmation", 1, 500, "failed"),
        ("order_confirmation", 2, None, "failed"),
        ("order_confirmation", 3, 200, "delivered"),
        ("pgi", 1, 502, "failed"),
        ("pgi", 2, 502, "failed"),
        ("pgi", 3, 502, "failed"),
    ]
    assert "refused" in sim.webhook_log()[1]["error"]
    # Every attempt is signed afresh and carries the same body.
    bodies = {body for url, _, body in transport.sent if url.endswith("/pgi")}
    assert len(bodies) == 1


def test_dropped_webhooks_are_recorded_not_sent(sim: WmsSimulator, transport: FakeTransport) -> None:
    sim.set_webhooks(drop=True)
    create(sim)
    sim.advance(WH, SO, to="SHIPPED")
    sim.deliver_pending_webhooks()
    assert transport.sent == []
    assert [(entry["kind"], entry["outcome"]) for entry in sim.webhook_log()] == [
        ("order_confirmation", "dropped"),
        ("pgi", "dropped"),
    ]
    assert sim.webhook_log()[1]["payload"]["doc_no"] == SO


def test_duplicated_webhooks_are_sent_twice(sim: WmsSimulator, transport: FakeTransport) -> None:
    sim.set_webhooks(duplicate=True)
    create(sim)
    sim.deliver_pending_webhooks()
    assert len(transport.sent) == 2
    assert transport.sent[0][2] == transport.sent[1][2]
    assert [entry["copy"] for entry in sim.webhook_log()] == [1, 2]


def test_reordered_confirmation_comes_after_the_pgi(sim: WmsSimulator, transport: FakeTransport) -> None:
    sim.set_webhooks(reorder=True)
    create(sim)
    create(sim, so_number="SO-CANCELLED")
    sim.deliver_pending_webhooks()
    assert transport.sent == []
    sim.advance(WH, SO, to="SHIPPED")
    call(sim, "PATCH", CANCEL, cancel_body(order_no="SO-CANCELLED"))
    sim.deliver_pending_webhooks()
    assert [(payload.get("event", "pgi"), payload.get("order_no") or payload["doc_no"]) for payload in transport.payloads()] == [
        ("pgi", SO),
        ("fulfillment.outbound.order.confirmation", SO),
        ("fulfillment.outbound.order.confirmation", "SO-CANCELLED"),
    ]


def test_switching_reorder_off_releases_held_confirmations(sim: WmsSimulator, transport: FakeTransport) -> None:
    sim.set_webhooks(reorder=True)
    create(sim)
    sim.set_webhooks(reorder=False)
    sim.deliver_pending_webhooks()
    assert len(transport.payloads("/order-confirmation")) == 1


def test_disabled_webhooks_are_not_raised(sim: WmsSimulator, transport: FakeTransport) -> None:
    sim.set_webhooks(enabled=False)
    create(sim)
    sim.advance(WH, SO, to="SHIPPED")
    sim.deliver_pending_webhooks()
    assert transport.sent == [] and sim.webhook_log() == []


def test_without_hub_url_webhooks_are_undeliverable(clock: Clock, transport: FakeTransport) -> None:
    sim = WmsSimulator(tenants={"acme": TenantConfig(KEY, SECRET)}, now=clock, transport=transport)
    create(sim)
    [entry] = sim.webhook_log()
    assert entry["outcome"] == "undeliverable" and "hub_url" in entry["error"]
    sim.set_hub_url(HUB + "/")
    create(sim, so_number="SO-2")
    sim.deliver_pending_webhooks()
    assert [url for url, _, _ in transport.sent] == [f"{HUB}/webhooks/wms/acme/order-confirmation"]


def test_add_tenant(clock: Clock, transport: FakeTransport) -> None:
    sim = WmsSimulator(hub_url=HUB, now=clock, transport=transport)
    assert create(sim, key="late-key").status == 401
    sim.add_tenant("late", TenantConfig("late-key", "late-secret"))
    assert create(sim, key="late-key").status == 200
    sim.deliver_pending_webhooks()
    [(url, headers, body)] = transport.sent
    assert url.endswith("/webhooks/wms/late/order-confirmation")
    assert _verify(headers, body, "late-secret")


# --------------------------------------------------------------------------------------------
# Control API over handle()
# --------------------------------------------------------------------------------------------


def control(sim: WmsSimulator, method: str, path: str, body: Any = None) -> Reply:
    return call(sim, method, f"/_sim/{path}", body, key=None)


def test_control_api(sim: WmsSimulator, transport: FakeTransport) -> None:
    create(sim)
    reply = control(sim, "POST", f"orders/{WH}/{SO}/advance", {"to": "PACKED", "ship_qty": {"CAP-RED": 0}})
    assert reply.status == 200 and reply.body["order"]["status"] == "PACKED"
    assert control(sim, "POST", f"orders/{WH}/{SO}/advance", {"to": "OPEN"}).status == 400
    assert control(sim, "POST", f"orders/{WH}/{SO}/advance", {"steps": 0}).status == 400
    assert control(sim, "POST", f"orders/{WH}/NOPE/advance", {}).status == 404
    assert control(sim, "POST", f"orders/{WH}/{SO}/hold", {}).body["order"]["hold"] is True
    assert control(sim, "POST", f"orders/{WH}/{SO}/hold", {"hold": False}).body["order"]["hold"] is False
    touched = control(sim, "POST", f"orders/{WH}/{SO}/touch", {"status": "SHIPPED", "updated_at": "2026-11-22T01:02:03Z"})
    assert touched.body["order"]["updated_at"] == "2026-11-22T01:02:03Z"
    [order] = control(sim, "GET", "orders").body["orders"]
    assert order["status"] == "SHIPPED"
    assert [line["qty_shipped"] for line in order["lines"]] == [2, 0]

    assert control(sim, "POST", "faults", {"mode": "error", "status": 500, "count": 1}).body["count"] == 1
    assert control(sim, "GET", "faults").body["mode"] == "error"
    assert control(sim, "POST", "faults", {"mode": "error", "bogus": 1}).status == 400
    assert control(sim, "POST", "webhooks", {"drop": True}).body["drop"] is True
    assert control(sim, "POST", "webhooks", {"drop": "yes"}).status == 400
    sim.deliver_pending_webhooks()
    webhooks = control(sim, "GET", "webhooks").body
    assert webhooks["settings"]["drop"] is True and len(webhooks["deliveries"]) == 1
    assert control(sim, "GET", "clock").body == {"enabled": False, "interval_ms": 500}
    assert control(sim, "POST", "tick").body == {"moved": 0}
    assert control(sim, "POST", "clock", {"enabled": "no"}).status == 400

    assert control(sim, "POST", "reset").status == 200
    assert sim.orders() == [] and sim.webhook_log() == [] and sim.faults()["mode"] == "none"
    assert sim.webhook_settings()["drop"] is False
    assert control(sim, "GET", "nothing").status == 404
    assert control(sim, "POST", "faults", b"{nope").status == 400
    # Counters restart after a reset.
    assert create(sim).body["data"]["wms_order_no"] == "WMSO-000001"


def test_control_needs_tenant_id_when_an_order_number_is_shared(sim: WmsSimulator) -> None:
    create(sim)
    create(sim, key=OTHER_KEY)
    assert control(sim, "POST", f"orders/{WH}/{SO}/advance", {}).status == 409
    reply = control(sim, "POST", f"orders/{WH}/{SO}/advance?tenant_id=rival", {})
    assert reply.status == 200 and reply.body["order"]["tenant_id"] == "rival"
    assert sim.order(WH, SO, tenant_id="acme")["status"] == "OPEN"


def test_url_needs_a_port_before_start() -> None:
    with pytest.raises(RuntimeError):
        _ = WmsSimulator().url
    assert WmsSimulator(port=8123).url == "http://127.0.0.1:8123"


def test_cli_tenant_argument() -> None:
    assert _tenant_arg("demo:key:sec:ret") == ("demo", TenantConfig("key", "sec:ret"))
    with pytest.raises(Exception, match="TENANT:API_KEY:SECRET"):
        _tenant_arg("demo:key")


def test_ship_rest_sends_a_second_package_under_a_new_awb(sim: WmsSimulator, transport: FakeTransport) -> None:
    create(sim)
    with pytest.raises(SimulatorError, match="no open quantity"):
        sim.ship_rest(WH, SO)  # not shipped yet
    first = sim.advance(WH, SO, to="SHIPPED", ship_qty={"TSHIRT-BLK-M": 1, "CAP-RED": 0})
    order = sim.ship_rest(WH, SO)
    sim.deliver_pending_webhooks()
    one, two = transport.payloads("/pgi")
    assert [line["qty_shipped"] for line in one["details"]] == [1, 0]
    assert [line["qty_shipped"] for line in two["details"]] == [1, 1]
    assert two["delivery_no"] != one["delivery_no"] == first["delivery_no"] == order["delivery_no"]
    assert [line["qty_shipped"] for line in order["lines"]] == [2, 1]
    with pytest.raises(SimulatorError, match="no open quantity"):
        sim.ship_rest(WH, SO)  # fully shipped now
    for pgi in (one, two):  # the hub forwards each PGI back (seed 002 step 7): both are the warehouse's own
        assert call(sim, "POST", "/v3/fulfillment/webhooks/pgi", pgi).status == 200
    assert sim.order(WH, SO)["pgi_confirmations"] == 2


def test_cancel_rest_closes_a_partly_shipped_order_short(sim: WmsSimulator, transport: FakeTransport) -> None:
    create(sim)
    with pytest.raises(SimulatorError, match="no open quantity to cancel"):
        sim.cancel_rest(WH, SO)  # nothing shipped yet: a plain cancel is the API's business
    sim.advance(WH, SO, to="SHIPPED", ship_qty={"TSHIRT-BLK-M": 1, "CAP-RED": 0})
    sim.deliver_pending_webhooks()
    sent = len(transport.payloads())

    order = sim.cancel_rest(WH, SO)

    assert order["status"] == "CLOSED" and order["rest_cancelled"] is True
    assert order["history"][-1]["source"] == "cancel_rest 1 x TSHIRT-BLK-M, 1 x CAP-RED"
    sim.deliver_pending_webhooks()
    assert len(transport.payloads()) == sent  # no webhook: the hub learns it from its poll
    listed = call(sim, "GET", "/v3/fulfillment/outbounds/WMS").body["data"]["outbounds"]
    assert [(o["order_no"], o["so_status"], o["release_status"]) for o in listed] == [(SO, "CLOSED", True)]
    lines = detail(sim).body["data"]["outbound"]["details"]
    assert [(d["qty_ordered"], d["qty_shipped"]) for d in lines] == [(2, 1), (1, 0)]  # what shipped stays shipped
    with pytest.raises(SimulatorError, match="no open quantity"):
        sim.cancel_rest(WH, SO)
    with pytest.raises(SimulatorError, match="no open quantity"):
        sim.ship_rest(WH, SO)
    (pgi,) = transport.payloads("/pgi")
    assert call(sim, "POST", "/v3/fulfillment/webhooks/pgi", pgi).status == 200  # the shipped package is still its own


def test_cancel_rest_over_the_control_api(sim: WmsSimulator) -> None:
    create(sim)
    sim.advance(WH, SO, to="SHIPPED", ship_qty={"CAP-RED": 0})
    reply = call(sim, "POST", f"/_sim/orders/{WH}/{SO}/cancel-rest", {}, key=None)
    assert reply.status == 200 and reply.body["order"]["status"] == "CLOSED"
    again = call(sim, "POST", f"/_sim/orders/{WH}/{SO}/cancel-rest", {}, key=None)
    assert again.status == 400 and again.body == {"error": f"order {SO} has no open quantity to cancel", "field": "order_no"}
