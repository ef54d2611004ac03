"""The largest order the API accepts lives its whole life through the local stack (issue 12 item 2).

Lines with every text at its cap (none repeating, so compression helps least) and what every
callback format needs: as many as the size check admits. The order is created, forwarded to the
WMS simulator, shipped with one PGI detail per line (batch and serial numbers) and delivered to
the demo receiver in all four formats; one line more is refused with 400/810 and not stored.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.e2e.client import OMS, Hub, payload
from tests.sizes import big_order, deliverable_line, most_lines

WAIT = 120.0


def _body(lines: int, so_number: str) -> dict[str, Any]:
    body = big_order(lines, deliverable_line, so_number=so_number)
    body["ext"] = {
        "consignee_state_code": "JK",
        "consignee_country_code": "ID",
        "invoice": {"number": f"INV-{body['so_number']}", "date": "2026-11-23"},
    }
    return body


def test_the_largest_accepted_order_is_forwarded_shipped_and_delivered_in_every_format(stack: dict[str, Any]) -> None:
    hub = Hub(stack)
    so = f"E2E-BIG-{uuid.uuid4().hex[:8].upper()}"
    lines = most_lines(lambda n: _body(n, so))
    assert lines >= 400

    refused = hub.api("POST", OMS, json=_body(lines + 1, so))
    assert refused.status_code == 400, refused.text
    (error,) = refused.json()["metadata"]["errors"]
    assert error["code"] == 810 and error["field"] == "items" and "409,600 bytes" in error["message"]

    created = hub.api("POST", OMS, json=_body(lines, so))
    assert created.status_code == 200, created.text[:500]
    hub.forwarded(so)
    hub.advance(so, "SHIPPED")
    closed = hub.wait_for(so, lambda d: d["so_status"] == "CLOSED" and bool(d["shipments"]), "CLOSED")
    (shipment,) = closed["shipments"]
    assert len(shipment["items"]) == lines
    assert all(item["batch_no"] and item["serial_no"] for item in shipment["items"])

    standard = hub.wait_received(
        "standard", so, lambda rs: any(payload(r)["type"] == "order.shipped" for r in rs), "order.shipped", WAIT
    )
    shipper = hub.wait_received("shipper", so, lambda rs: any("delivery_no" in r["json"] for r in rs), "PGI", WAIT)
    increff = hub.wait_received(
        "increff", so, lambda rs: any(payload(r)["eventType"] == "OUTWARD_ORDER_COMPLETE" for r in rs), "COMPLETE", WAIT
    )
    unicommerce = hub.wait_received("unicommerce", so, lambda rs: any(r["outcome"] == "accepted" for r in rs), "dispatch", WAIT)

    shipped = next(payload(r) for r in standard if payload(r)["type"] == "order.shipped")
    assert len(shipped["data"]["order"]["outbound"]["details"]) == lines
    pgi = next(r["json"] for r in shipper if "delivery_no" in r["json"])
    assert len(pgi["details"]) == lines and {d["serial_no"] for d in pgi["details"]} == {
        i["serial_no"] for i in shipment["items"]
    }
    complete = next(payload(r) for r in increff if payload(r)["eventType"] == "OUTWARD_ORDER_COMPLETE")
    assert len(complete["shipments"][0]["shipmentItems"]) == lines
    dispatch = next(r for r in unicommerce if r["outcome"] == "accepted")
    assert dispatch["json"]["trackingNumber"] == shipment["awb"]
