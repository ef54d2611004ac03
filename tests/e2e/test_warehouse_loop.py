"""The warehouse loop through the local stack: forward, webhooks, poll, faults (issue: warehouse loop).

The session stack runs the WMS simulator with its clock off (orders move only when a test says
so), polls every 2 s, retries forwards after 1-2 s and times WMS calls out after 2 s.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.e2e.client import OMS, WH, Hub
from tests.payloads import cancel_body, order_body


@pytest.fixture
def hub(stack: dict[str, Any]) -> Iterator[Hub]:
    hub = Hub(stack)
    yield hub
    hub.sim("POST", "/_sim/faults", {"mode": "none"})
    hub.sim("POST", "/_sim/webhooks", {"drop": False, "duplicate": False, "reorder": False, "enabled": True})


def test_order_flows_to_the_door(hub: Hub) -> None:
    so = hub.create()
    created = hub.forwarded(so)
    assert created["forward"]["wms_order_no"] and len(hub.wms_orders(so)) == 1

    hub.advance(so, "PACKED")  # no webhook for these steps: the poller brings them
    hub.wait_for(so, lambda d: d["so_status"] == "PACKED", "PACKED")

    hub.advance(so, "SHIPPED")
    closed = hub.wait_for(so, lambda d: d["so_status"] == "CLOSED", "CLOSED")
    (shipment,) = closed["shipments"]
    assert shipment["awb"] and closed["delivery_no"] == shipment["awb"] and not closed["partially_shipped"]
    assert sum(item["qty"] for item in shipment["items"]) == 3


def test_orders_without_courier_stay_registered(hub: Hub) -> None:
    so = hub.create(express_code="")
    hub.settle()  # the forwarder has seen the order (and left it alone)
    detail = hub.detail(so)
    assert detail["so_status"] == "REGISTERED" and detail["forward"]["state"] == "waiting_for_courier"
    assert hub.wms_orders(so) == []
    wms = hub.api("GET", f"/v3/fulfillment/warehouse/{WH}/outbound/wms/{so}")
    assert wms.status_code == 404


def test_lost_webhooks_are_repaired_by_the_poller(hub: Hub) -> None:
    hub.sim("POST", "/_sim/webhooks", {"drop": True})
    so = hub.create()
    hub.forwarded(so)
    hub.advance(so, "SHIPPED")
    closed = hub.wait_for(so, lambda d: d["so_status"] == "CLOSED" and d["shipments"], "CLOSED by the poller")
    assert closed["shipments"][0]["awb"] == hub.wms_orders(so)[0]["delivery_no"]


def test_duplicated_webhooks_make_one_shipment(hub: Hub) -> None:
    hub.sim("POST", "/_sim/webhooks", {"duplicate": True})
    so = hub.create()
    hub.forwarded(so)
    hub.advance(so, "SHIPPED")
    hub.wait_for(so, lambda d: d["so_status"] == "CLOSED", "CLOSED")
    hub.wait_webhooks(so, "pgi", copies=2)  # the hub answered both copies
    hub.settle()
    assert len(hub.detail(so)["shipments"]) == 1


def test_reordered_webhooks_do_not_move_the_status_back(hub: Hub) -> None:
    hub.sim("POST", "/_sim/webhooks", {"reorder": True})
    so = hub.create()
    hub.forwarded(so)
    hub.advance(so, "SHIPPED")
    hub.wait_for(so, lambda d: d["so_status"] == "CLOSED", "CLOSED")
    hub.wait_webhooks(so, "order_confirmation", copies=1)  # the held confirmation arrived after the PGI
    hub.settle()
    assert hub.detail(so)["so_status"] == "CLOSED"


def test_warehouse_errors_are_retried_and_never_duplicate_the_order(hub: Hub) -> None:
    hub.sim("POST", "/_sim/faults", {"mode": "error", "status": 503, "count": 2, "paths": ["/v3/fulfillment/outbound/oms"]})
    so = hub.create()
    detail = hub.forwarded(so)
    assert detail["forward"]["attempts"] >= 3 and len(hub.wms_orders(so)) == 1


def test_warehouse_timeouts_are_retried_and_never_duplicate_the_order(hub: Hub) -> None:
    hub.sim("POST", "/_sim/faults", {"mode": "timeout", "count": 1, "hold_ms": 4000, "paths": ["/v3/fulfillment/outbound/oms"]})
    so = hub.create()
    hub.forwarded(so)
    assert len(hub.wms_orders(so)) == 1


def test_cancel_before_allocation_cancels_in_the_warehouse(hub: Hub) -> None:
    so = hub.create()
    hub.forwarded(so)
    response = hub.api("PATCH", f"{OMS}/cancel", json=cancel_body(order_no=so))
    assert response.status_code == 200, response.text
    assert hub.wms_orders(so)[0]["status"] == "CANCELLED"
    assert hub.detail(so)["forward"]["state"] == "cancelled"


def test_cancel_after_allocation_is_refused(hub: Hub) -> None:
    so = hub.create()
    hub.forwarded(so)
    hub.advance(so, "ALLOCATED")  # the hub may not know yet: the warehouse decides the race
    response = hub.api("PATCH", f"{OMS}/cancel", json=cancel_body(order_no=so))
    assert response.status_code == 400 and response.json()["metadata"]["errors"][0]["code"] == 810
    assert hub.wms_orders(so)[0]["status"] == "ALLOCATED"
    hub.wait_for(so, lambda d: d["so_status"] == "ALLOCATED", "ALLOCATED")


BIGGER = [{"sku": "TSHIRT-BLK-M", "name": "T-Shirt Black M", "uom": "PCS", "qty": 5, "unit_price": 75000}]


def _wms_lines(hub: Hub, so: str) -> list[tuple[str, int]]:
    return [(line["sku"], line["qty_ordered"]) for line in hub.wms_orders(so)[0]["lines"]]


def _hub_lines(hub: Hub, so: str) -> list[tuple[str, int]]:
    return [(line["sku"], line["qty_ordered"]) for line in hub.detail(so)["details"]]


def test_an_update_reaches_the_warehouse_before_the_answer(hub: Hub) -> None:
    so = hub.create()
    hub.forwarded(so)
    response = hub.api("PUT", OMS, json=order_body(so_number=so, items=BIGGER, consignee="Siti Rahma"))
    assert response.status_code == 200, response.text
    assert _wms_lines(hub, so) == [("TSHIRT-BLK-M", 5)]  # already there: no queue hop in between
    detail = hub.detail(so)
    assert _hub_lines(hub, so) == [("TSHIRT-BLK-M", 5)] and detail["forward"]["state"] == "forwarded"


def test_an_update_after_the_warehouse_allocated_is_refused_and_changes_nothing(hub: Hub) -> None:
    so = hub.create()
    hub.forwarded(so)
    hub.advance(so, "ALLOCATED")  # the hub may not know yet: the warehouse decides the race
    response = hub.api("PUT", OMS, json=order_body(so_number=so, items=BIGGER))
    assert response.status_code == 400, response.text
    error = response.json()["metadata"]["errors"][0]
    assert error["code"] == 810 and "the warehouse refused" in error["message"]
    assert _hub_lines(hub, so) == _wms_lines(hub, so) == [("TSHIRT-BLK-M", 2), ("CAP-RED", 1)]
    hub.wait_for(so, lambda d: d["so_status"] == "ALLOCATED", "ALLOCATED")
    again = hub.api("PUT", OMS, json=order_body(so_number=so))  # the stored body again: no longer a quiet 200
    assert again.status_code == 400 and "status ALLOCATED" in again.json()["metadata"]["errors"][0]["message"]


def test_an_update_while_the_warehouse_is_down_is_503_and_changes_nothing(hub: Hub) -> None:
    so = hub.create()
    hub.forwarded(so)
    hub.sim("POST", "/_sim/faults", {"mode": "error", "status": 503, "count": 1, "paths": ["/v3/fulfillment/outbound/oms"]})
    response = hub.api("PUT", OMS, json=order_body(so_number=so, items=BIGGER))
    assert response.status_code == 503, response.text
    assert response.json()["metadata"]["errors"][0]["code"] == 803
    assert _hub_lines(hub, so) == _wms_lines(hub, so) == [("TSHIRT-BLK-M", 2), ("CAP-RED", 1)]
    assert hub.detail(so)["so_status"] == "CREATED"


def _post_webhook(hub: Hub, route: str, body: bytes, headers: dict[str, str]) -> requests.Response:
    url = hub.stack["webhook_urls"][route]
    return hub.http.post(url, data=body, headers={"content-type": "application/json", **headers}, timeout=30)


def _signature(secret: str, body: bytes, ts: int) -> dict[str, str]:
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return {"x-hub-timestamp": str(ts), "x-hub-signature": f"v1={digest}"}


def test_webhook_authentication_and_validation_over_http(hub: Hub) -> None:
    so = hub.create()
    hub.forwarded(so)
    version = hub.detail(so)["version"]
    secret = hub.stack["webhook_secrets"]["demo"]["hmac_secret"]
    pgi = {
        "warehouse_id": WH,
        "doc_no": so,
        "delivery_no": "AWB-FORGED",
        "carrier_name": "X",
        "details": [{"sku": "CAP-RED", "qty_shipped": 1}],
    }
    body = json.dumps(pgi).encode()
    now = int(time.time())

    assert _post_webhook(hub, "pgi", body, _signature("not-the-secret", body, now)).status_code == 401
    assert _post_webhook(hub, "pgi", body, _signature(secret, body, now - 3600)).status_code == 401
    assert _post_webhook(hub, "pgi", body, {}).status_code == 401
    malformed = b'{"warehouse_id": "WH-TGR04"}'
    response = _post_webhook(hub, "pgi", malformed, _signature(secret, malformed, now))
    assert response.status_code == 400 and response.json()["metadata"]["errors"][0]["code"] == 810
    garbage = b"\x00not json"
    assert _post_webhook(hub, "pgi", garbage, _signature(secret, garbage, now)).status_code == 400

    detail = hub.detail(so)
    assert detail["version"] == version and detail["shipments"] == [] and detail["so_status"] == "CREATED"
