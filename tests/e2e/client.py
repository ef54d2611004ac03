"""An HTTP client of the session's local stack: the hub API, the WMS simulator and the demo receiver."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.payloads import order_body

OMS = "/v3/fulfillment/outbound/oms"
WH = "WH-TGR04"
WAIT_SECONDS = 30


class Hub:
    def __init__(self, stack: dict[str, Any]) -> None:
        self.stack = stack
        self.http = requests.Session()
        self.sim_url = stack["wms_simulator"]["url"]

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"x-api-key": self.stack["api_key"], **kwargs.pop("headers", {})}
        return self.http.request(method, self.stack["api_url"] + path, headers=headers, timeout=30, **kwargs)

    def sim(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.http.request(method, self.sim_url + path, json=body, timeout=30)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def create(self, **overrides: Any) -> str:
        so_number = f"E2E-{uuid.uuid4().hex[:10].upper()}"
        response = self.api("POST", OMS, json=order_body(so_number=so_number, **overrides))
        assert response.status_code == 200, response.text
        return so_number

    def detail(self, so_number: str) -> dict[str, Any]:
        response = self.api("GET", f"/v3/fulfillment/warehouse/{WH}/outbound/oms/{so_number}")
        assert response.status_code == 200, response.text
        outbound: dict[str, Any] = response.json()["data"]["outbound"]
        return outbound

    def wait_for(self, so_number: str, check: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT_SECONDS
        detail = self.detail(so_number)
        while not check(detail):
            if time.monotonic() > deadline:
                pytest.fail(f"{so_number}: not {what} after {WAIT_SECONDS} s; last seen {json.dumps(detail)[:1500]}")
            time.sleep(0.25)
            detail = self.detail(so_number)
        return detail

    def wms_orders(self, so_number: str) -> list[dict[str, Any]]:
        return [o for o in self.sim("GET", "/_sim/orders")["orders"] if o["order_no"] == so_number]

    def advance(self, so_number: str, to: str, **extra: Any) -> None:
        self.sim("POST", f"/_sim/orders/{WH}/{so_number}/advance", {"to": to, **extra})

    def forwarded(self, so_number: str) -> dict[str, Any]:
        return self.wait_for(
            so_number, lambda d: d["so_status"] == "CREATED" and d["forward"]["state"] == "forwarded", "forwarded"
        )

    def wait_webhooks(self, so_number: str, kind: str, copies: int) -> list[dict[str, Any]]:
        """Wait until the simulator's webhook log shows ``copies`` deliveries of ``kind`` for the order that
        the hub answered with 2xx (the hub stores a webhook before it answers)."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            log = self.sim("GET", "/_sim/webhooks")["deliveries"]
            delivered = [d for d in log if d["order_no"] == so_number and d["kind"] == kind and d["outcome"] == "delivered"]
            if len(delivered) >= copies:
                return delivered
            if time.monotonic() > deadline:
                pytest.fail(f"{so_number}: {len(delivered)} of {copies} {kind} webhooks delivered after {WAIT_SECONDS} s")
            time.sleep(0.1)

    def settle(self) -> None:
        """Wait until the pumps have provably carried every change made so far, so that "did not happen" means it.

        A barrier order created now travels the pipes any earlier change travels: the orders table's
        stream (read in order, a failed batch retried before the next) to the dispatcher, the forward
        queue to the forwarder, the delivery queue to the callback worker. Once the barrier is forwarded
        and its first callback reached the receiver, every earlier change has been through them too.
        """
        barrier = self.create()
        self.forwarded(barrier)
        self.wait_received("standard", barrier, bool, "the barrier order's callback")

    # -- the demo receiver (client side of the callbacks) ----------------------------------------
    @property
    def receiver_url(self) -> str:
        return str(self.stack["demo_receiver"]["url"])

    def receiver(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.http.request(method, self.receiver_url + path, json=body, timeout=30)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def received(self, fmt: str, order_no: str, kind: str = "event") -> list[dict[str, Any]]:
        """What the receiver got for one order, in arrival order."""
        records = self.receiver("GET", f"/_demo/received?format={fmt}&kind={kind}")["received"]
        return [r for r in records if order_of(r) == order_no]

    def wait_received(
        self, fmt: str, order_no: str, check: Callable[[list[dict[str, Any]]], bool], what: str, timeout: float = WAIT_SECONDS
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        records = self.received(fmt, order_no)
        while not check(records):
            if time.monotonic() > deadline:
                summary = [(r["status"], r["outcome"], r["dedupe_key"], r["path"]) for r in records]
                pytest.fail(f"{fmt} receiver: {what} not seen for {order_no} in {timeout:.0f} s; got {summary}")
            time.sleep(0.2)
            records = self.received(fmt, order_no)
        return records


def payload(record: dict[str, Any]) -> dict[str, Any]:
    """A received callback's JSON body (the receiver answers simulated failures before parsing it)."""
    body = record.get("json")
    if body is None and record.get("body"):
        try:
            body = json.loads(record["body"])
        except ValueError:
            return {}
    return body if isinstance(body, dict) else {}


def order_of(record: dict[str, Any]) -> str | None:
    """The order a received callback is about, in each format's own field."""
    body = payload(record)
    if record["format"] == "standard":
        data = body.get("data") or {}
        return data.get("order_no") if isinstance(data, dict) else None
    for key in ("doc_no", "orderCode", "saleOrderID", "order_no"):
        if isinstance(body.get(key), str):
            return str(body[key])
    return None


def full_order(**overrides: Any) -> dict[str, Any]:
    """A create body with the extension fields the Increff and Unicommerce formats need (GST, HSN, invoice, codes)."""
    body = order_body(so_number=f"E2E-{uuid.uuid4().hex[:10].upper()}", **overrides)
    body["ext"] = {
        "consignee_state_code": "JK",
        "consignee_country_code": "ID",
        "invoice": {"number": f"INV-{body['so_number']}", "date": "2026-11-23"},
    }
    for item in body["items"]:
        item["ext"] = {"hsn_code": "61091000", "tax_lines": [{"type": "IGST", "rate": 11, "per_unit": 1000, "total": 1000}]}
    return body


def tracking_body(stack: dict[str, Any], so: str, awb: str, code: int, at: str, auth: str | None = None) -> dict[str, Any]:
    """A Shipper Logistics tracking webhook for ``so`` with its md5 ``auth`` (or ``auth`` as given)."""
    import hashlib

    secret = stack["logistics_secrets"]["demo"]
    digest = hashlib.md5((secret["api_key"] + secret["tracking_url"] + "json").encode(), usedforsecurity=False).hexdigest()
    return {
        "auth": auth or digest,
        "order_id": "6523a9f0c1d2e3f4a5b6c7d8",
        "tracking_id": f"TRK-{so}",
        "order_tracking_id": f"TRK-{so}-01",
        "external_id": so,
        "status_date": at,
        "external_status": {"code": code, "name": f"status {code}", "description": "e2e"},
        "internal_status": {"code": code, "name": f"status {code}", "description": "e2e"},
        "awb": awb,
    }
