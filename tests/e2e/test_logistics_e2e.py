"""Logistics tracking through the local stack: webhooks in, shipment states, callbacks out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.client import OMS, Hub, full_order, payload, tracking_body


@pytest.fixture
def hub(stack: dict[str, Any]) -> Iterator[Hub]:
    yield Hub(stack)


def _post(hub: Hub, stack: dict[str, Any], body: dict[str, Any]) -> int:
    response = hub.http.post(stack["logistics_secrets"]["demo"]["tracking_url"], json=body, timeout=30)
    return response.status_code


def test_tracking_reaches_delivered_without_regressing_and_is_forwarded(hub: Hub, stack: dict[str, Any]) -> None:
    body = full_order()
    so = str(body["so_number"])
    assert hub.api("POST", OMS, json=body).status_code == 200
    hub.forwarded(so)
    hub.advance(so, "SHIPPED")
    closed = hub.wait_for(so, lambda d: d["so_status"] == "CLOSED" and bool(d["shipments"]), "CLOSED")
    awb = closed["shipments"][0]["awb"]

    assert _post(hub, stack, tracking_body(stack, so, awb, 1100, "2026-11-24T08:15:00+07:00")) == 200
    assert _post(hub, stack, tracking_body(stack, so, awb, 2000, "2026-11-24T15:00:00+07:00")) == 200
    late = _post(hub, stack, tracking_body(stack, so, awb, 1100, "2026-11-24T16:00:00+07:00"))  # in transit after delivered
    forged = _post(hub, stack, tracking_body(stack, so, awb, 2000, "2026-11-24T17:00:00+07:00", auth="0" * 32))

    assert late in (200, 202) and forged == 401
    standard = hub.wait_received(
        "standard", so, lambda rs: any(payload(r).get("type") == "order.delivered" for r in rs), "order.delivered"
    )
    (delivered,) = [payload(r) for r in standard if payload(r).get("type") == "order.delivered"]
    assert delivered["data"]["logistics"]["external_status"]["code"] == 2000
    increff = hub.wait_received(
        "increff",
        so,
        lambda rs: any(payload(r).get("eventType") == "OUTWARD_ORDER_SHIPMENT_DELIVER" for r in rs),
        "SHIPMENT_DELIVER",
    )
    deliver = next(payload(r) for r in increff if payload(r).get("eventType") == "OUTWARD_ORDER_SHIPMENT_DELIVER")
    assert deliver["shipments"][0]["shipmentStatus"] == "DELIVERED"
    hub.settle()  # any (wrong) callback for the late update has reached the receiver by now
    types = [payload(r).get("type") for r in hub.received("standard", so)]
    assert types.count("order.delivered") == 1
    assert hub.detail(so)["shipments"][0]["status"] == "DELIVERED"
