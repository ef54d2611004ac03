"""Every function works under its own IAM policy, and every permission it has is needed.

moto allows every call; the local stack checks each AWS call a function makes against that
function's ``Policies`` in template.yaml (``local_stack.iam``) and writes what it saw to
``iam.json`` when it stops. This test drives one stack through every function's code paths
(orders, admin API, WMS and logistics webhooks, forwarding, the poll, callbacks that succeed,
retry, are deferred by a rate limit, dead-letter and meet a 410) and then checks: no call was denied, and the permissions no
call needed are exactly the ones listed below, each with the reason it stays.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from local_stack.harness import load_event
from tests.e2e.client import OMS, Hub, full_order, tracking_body
from tests.e2e.conftest import LaunchStack

ADMIN = "/hub/v1"
WH = "WH-TGR04"

# Granted, and used by no code path the stack runs. Each stays for the reason given; anything
# else unused fails the test: narrow the policy or say here why the permission must stay.
EXPECTED_UNUSED: dict[str, str] = {
    "AdminApiFunction [EndpointSecretsWrite] secretsmanager:PutSecretValue on "
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:hub/*/endpoint/*": (
        "registration stores the secret before the endpoint; when that endpoint write fails, the secret "
        "is left behind and the retried registration replaces it (create-or-replace)"
    ),
}


def _wait(what: str, check: Any, timeout: float = 40.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not seen within {timeout:.0f} s")
        time.sleep(0.25)


def _delivery_ids(hub: Hub, fmt: str, so: str) -> set[str]:
    return {r["headers"].get("webhook-id") for r in hub.received(fmt, so)} - {None}


def _drive_portal(hub: Hub, stack: dict[str, Any], so: str, delivery_id: str) -> None:
    import re

    import requests

    link = hub.api("POST", f"{ADMIN}/portal/sessions")
    assert link.status_code == 200, link.text
    browser = requests.Session()
    signed_in = browser.get(link.json()["data"]["url"], timeout=30)
    assert signed_in.status_code == 200 and "hub_portal" in browser.cookies
    match = re.search(r'name="csrf" value="([^"]+)"', signed_in.text)
    assert match
    csrf = match.group(1)
    portal = stack["api_url"] + "/portal"

    def get(path: str) -> None:
        response = browser.get(portal + path, timeout=30)
        assert response.status_code == 200, (path, response.status_code)

    def post(path: str, form: dict[str, str], status: int = 200) -> requests.Response:
        response = browser.post(portal + path, data={**form, "csrf": csrf}, timeout=30, allow_redirects=False)
        assert response.status_code == status, (path, response.status_code, response.text[:500])
        return response

    for path in ("", f"/orders?warehouse_id={WH}", f"/orders?so_number={so}", f"/orders/{WH}/{so}"):
        get(path)
    get("/deliveries?endpoint_id=demo-standard")
    get(f"/deliveries/{delivery_id}")
    endpoint_id = f"portal-{uuid.uuid4().hex[:6]}"
    receiver = stack["demo_receiver"]["endpoints"]["demo-standard"]
    post("/endpoints", {"endpoint_id": endpoint_id, "format": "standard", "url": receiver}, status=201)
    post(f"/endpoints/{endpoint_id}/rotate", {})
    post(f"/endpoints/{endpoint_id}/test", {})
    post(f"/endpoints/{endpoint_id}", {"url": receiver, "description": "edited in the portal"}, status=303)
    post(f"/endpoints/{endpoint_id}/enabled", {"enabled": "false", "reason": "iam e2e"}, status=303)
    post(f"/deliveries/{delivery_id}/replay", {}, status=303)
    post("/endpoints/demo-standard/replay", {"since": "2026-01-01T00:00"}, status=303)
    post("/logout", {})
    assert browser.get(portal, timeout=30).status_code == 401


def _burst(hub: Hub, path: str, per_second: int = 5) -> None:
    """GET ``path`` until ``per_second`` requests began and ended within one wall-clock second (the stack
    runs on this machine's clock, so its function counted them in that second)."""
    from collections import Counter

    within: Counter[int] = Counter()
    for _ in range(200):
        began = time.time()
        assert hub.api("GET", path).status_code == 200
        if int(began) == int(time.time()):
            within[int(began)] += 1
            if within[int(began)] >= per_second:
                return
    pytest.fail(f"could not make {per_second} requests within one second to {path}")


def test_every_function_runs_under_its_own_policy_and_needs_all_of_it(launch_stack: LaunchStack) -> None:
    started = launch_stack(schedule_seconds=1.0)
    stack = started.wait_ready()
    hub = Hub(stack)

    # Orders API: create, update, detail, list, pricing; the forwarder takes the order to the WMS.
    shipped = full_order()
    so = str(shipped["so_number"])
    assert hub.api("POST", OMS, json=shipped).status_code == 200
    assert hub.api("POST", OMS, json=shipped).headers.get("x-idempotent-replay") == "true"
    hub.forwarded(so)
    assert hub.api("GET", f"/v3/fulfillment/outbounds/OMS?warehouse_id={WH}&limit=5").status_code == 200
    assert hub.api("GET", f"/v3/fulfillment/warehouse/{WH}/outbound/wms/{so}").status_code == 200
    priced = hub.api(
        "POST", "/v3/fulfillment/pricing/domestic", json=json.loads(load_event("orders_api/pricing_domestic")["body"])
    )
    assert priced.status_code == 200, priced.text

    # WMS webhooks (confirmation, PGI), the poll, logistics webhooks; callbacks in every format.
    hub.advance(so, "SHIPPED")
    closed = hub.wait_for(so, lambda d: d["so_status"] == "CLOSED" and bool(d["shipments"]), "CLOSED")
    tracking_url = stack["logistics_secrets"]["demo"]["tracking_url"]
    awb = closed["shipments"][0]["awb"]
    assert hub.http.post(tracking_url, json=tracking_body(stack, so, awb, 2000, "2026-11-24T15:00:00+07:00"), timeout=30).ok
    hub.wait_for(so, lambda d: d["shipments"][0]["status"] == "DELIVERED", "DELIVERED")
    for fmt in ("shipper", "increff", "unicommerce", "standard"):
        hub.wait_received(fmt, so, lambda rs: any(r["outcome"] == "accepted" for r in rs), "a delivered callback")

    # A warehouse that is down (the forwarder backs off through SQS visibility) and webhooks that
    # are lost (the poll repairs the shipment from the WMS detail).
    hub.sim("POST", "/_sim/faults", {"mode": "error", "status": 503, "count": 2, "paths": ["/v3/fulfillment/outbound/oms"]})
    repaired = hub.create()
    hub.forwarded(repaired)
    hub.sim("POST", "/_sim/faults", {"mode": "none"})
    hub.sim("POST", "/_sim/webhooks", {"drop": True})
    hub.advance(repaired, "SHIPPED")
    hub.wait_for(repaired, lambda d: d["so_status"] == "CLOSED" and bool(d["shipments"]), "repaired by the poll")
    hub.sim("POST", "/_sim/webhooks", {"drop": False})

    # Update and cancel before allocation (the WMS is asked synchronously).
    cancelled = full_order()
    other = str(cancelled["so_number"])
    assert hub.api("POST", OMS, json=cancelled).status_code == 200
    hub.forwarded(other)
    cancelled["customer_id"] = "CS675"
    assert hub.api("PUT", OMS, json=cancelled).status_code == 200
    body = {"data": {"cancellation": {"order_no": other, "warehouse_id": WH, "cancel_reason": "iam e2e"}}}
    assert hub.api("PATCH", f"{OMS}/cancel", json=body).status_code == 200

    # Admin API: register an endpoint, show, list, disable, enable, replay.
    endpoint_id = f"iam-{uuid.uuid4().hex[:6]}"
    registered = hub.api(
        "POST",
        f"{ADMIN}/endpoints",
        json={
            "endpoint_id": endpoint_id,
            "url": stack["demo_receiver"]["endpoints"]["demo-standard"],
            "format": "standard",
            "rate_limit_per_second": 1,  # a burst of events defers (sent again with a delay)
        },
    )
    assert registered.status_code == 201, registered.text
    assert hub.api("GET", f"{ADMIN}/endpoints/{endpoint_id}").status_code == 200
    assert hub.api("GET", f"{ADMIN}/endpoints").status_code == 200
    for enabled in (False, True):
        assert hub.api("PATCH", f"{ADMIN}/endpoints/{endpoint_id}", json={"enabled": enabled}).status_code == 200
    for _ in range(3):  # a burst over the rate limit: deferrals go back to the queue with DelaySeconds
        hub.create()

    # The tenant's request counter (TenantsTable UpdateItem) is written once per five requests of a second
    # in a container (services.request_limits): bursts on both APIs make each of them add a batch.
    _burst(hub, f"/v3/fulfillment/outbounds/OMS?warehouse_id={WH}&limit=1")
    _burst(hub, f"{ADMIN}/endpoints")

    # A receiver that fails: retries through SQS visibility, then the DLQ; replay one delivery.
    hub.receiver("POST", "/_demo/config", {"standard": {"status": 500}})
    failing = hub.create()
    delivery_id = _wait("a standard delivery", lambda: next(iter(_delivery_ids(hub, "standard", failing)), None))

    def dead() -> bool:
        shown = hub.api("GET", f"{ADMIN}/deliveries/{delivery_id}")
        return shown.status_code == 200 and shown.json()["data"]["status"] == "failed"

    _wait("the delivery dead-lettered", dead)
    assert hub.api("GET", f"{ADMIN}/deliveries?status=problems").status_code == 200
    hub.receiver("POST", "/_demo/config", {"standard": {"status": None}})
    assert hub.api("POST", f"{ADMIN}/deliveries/{delivery_id}/replay").status_code == 200
    replay = hub.api("POST", f"{ADMIN}/endpoints/demo-standard/replay", json={"since": "2026-01-01T00:00:00Z"})
    assert replay.status_code == 200, replay.text

    # The tenant portal: a one-time link (admin API), then every page and form a person uses.
    _drive_portal(hub, stack, so, delivery_id)

    # A receiver that answers 410 Gone: the worker disables the endpoint.
    hub.receiver("POST", "/_demo/config", {"standard": {"status": 410}})
    hub.create()

    def disabled() -> bool:
        shown = hub.api("GET", f"{ADMIN}/endpoints/{endpoint_id}")
        return shown.status_code == 200 and shown.json()["data"]["enabled"] is False

    _wait("the endpoint disabled after a 410", disabled)

    assert started.stop() == 0
    report = started.iam_report()
    assert report["denials"] == []
    assert report["checked_calls"] > 100
    unused = set(report["unused_grants"])
    assert unused == set(EXPECTED_UNUSED), json.dumps(sorted(unused), indent=1)
