"""The order API as a Shipper client uses it: HTTP against the local stack, admin CLI for keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.payloads import cancel_body, order_body

OMS = "/v3/fulfillment/outbound/oms"


def _admin(stack: dict[str, Any], *args: str) -> Any:
    """Run the real admin CLI against the stack's moto endpoint and tables."""
    cmd = [sys.executable, "-m", "order_hub.admin_cli", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=_stack_env(stack))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _stack_env(stack: dict[str, Any]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=stack["aws_endpoint_url"],
        AWS_DEFAULT_REGION=stack["region"],
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        TENANTS_TABLE_NAME=stack["tables"]["TenantsTable"],
        ORDERS_TABLE_NAME=stack["tables"]["OrdersTable"],
    )
    return env


Client = Callable[..., requests.Response]


@pytest.fixture
def api(stack: dict[str, Any]) -> Client:
    session = requests.Session()

    def call(method: str, path: str, key: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {"x-api-key": key or stack["api_key"], **kwargs.pop("headers", {})}
        return session.request(method, stack["api_url"] + path, headers=headers, timeout=30, **kwargs)

    return call


@pytest.fixture
def so_number() -> str:
    return f"E2E-{uuid.uuid4().hex[:12].upper()}"


def test_order_lifecycle_over_http(api: Client, so_number: str) -> None:
    body = order_body(so_number=so_number)

    created = api("POST", OMS, json=body, headers={"x-request-id": "e2e-create-1"})
    assert created.status_code == 200, created.text
    assert created.headers["x-request-id"] == "e2e-create-1"
    assert created.json()["data"]["so_status"] == "REGISTERED"

    replay = api("POST", OMS, json=body)
    assert replay.status_code == 200 and replay.headers["x-idempotent-replay"] == "true"
    conflict = api("POST", OMS, json={**body, "notes": "changed"})
    assert conflict.status_code == 409 and conflict.json()["metadata"]["errors"][0]["code"] == 810

    updated = api("PUT", OMS, json={**body, "consignee": "Siti Rahma"})
    # the forward to the WMS runs concurrently and may have added its own version first
    assert updated.status_code == 200 and updated.json()["data"]["version"] in (2, 3)

    detail = api("GET", f"/v3/fulfillment/warehouse/WH-TGR04/outbound/oms/{so_number}")
    outbound = detail.json()["data"]["outbound"]
    assert detail.status_code == 200 and outbound["consignee_name"] == "Siti Rahma"
    assert outbound["total_amount"] == 185000 and outbound["payment_type"] == "COD"

    listed = api("GET", "/v3/fulfillment/outbounds/OMS", params={"warehouse_id": "WH-TGR04", "limit": 100})
    assert so_number in [o["order_no"] for o in listed.json()["data"]["outbounds"]]
    assert listed.json()["pagination"]["total_elements"] >= 1

    cancelled = api("PATCH", f"{OMS}/cancel", json=cancel_body(order_no=so_number))
    assert cancelled.status_code == 200 and set(cancelled.json()) == {"metadata"}
    again = api("PATCH", f"{OMS}/cancel", json=cancel_body(order_no=so_number))  # a lost answer, retried
    assert again.status_code == 200 and again.headers["x-idempotent-replay"] == "true"
    other = api("PATCH", f"{OMS}/cancel", json=cancel_body(order_no=so_number, reason="another reason"))
    assert other.status_code == 400 and "already CANCELLED" in other.text
    final = api("GET", f"/v3/fulfillment/warehouse/WH-TGR04/outbound/oms/{so_number}").json()["data"]["outbound"]
    # forwarding to the WMS adds its own change, so the version moved past the update's at least once more
    assert final["so_status"] == "CANCELLED" and final["version"] > updated.json()["data"]["version"]


def test_bad_input_is_a_clear_810_never_a_5xx(api: Client, so_number: str) -> None:
    bad_json = api("POST", OMS, data="{nope", headers={"content-type": "application/json"})
    assert bad_json.status_code == 400 and bad_json.json()["metadata"]["errors"][0]["field"] == "body"

    too_long = api("POST", OMS, json=order_body(so_number="S" * 51))
    assert too_long.status_code == 400
    assert [e["field"] for e in too_long.json()["metadata"]["errors"]] == ["so_number"]

    unknown = api("GET", "/v3/fulfillment/warehouse/WH-TGR04/outbound/oms/DOES-NOT-EXIST")
    assert unknown.status_code == 404 and unknown.json()["metadata"]["errors"][0]["code"] == 810


def test_auth_and_tenant_isolation_with_the_admin_cli(api: Client, stack: dict[str, Any], so_number: str) -> None:
    tenant_id = f"t{uuid.uuid4().hex[:8]}"
    _admin(stack, "tenant", "create", tenant_id, "--name", "Other Seller", "--warehouse", "WH-TGR04")
    issued = _admin(stack, "key", "create", tenant_id)
    other_key = issued["api_key"]

    assert api("POST", OMS, json=order_body(so_number=so_number)).status_code == 200
    hidden = api("GET", f"/v3/fulfillment/warehouse/WH-TGR04/outbound/oms/{so_number}", key=other_key)
    assert hidden.status_code == 404
    assert api("PATCH", f"{OMS}/cancel", key=other_key, json=cancel_body(order_no=so_number)).status_code == 404

    keys = _admin(stack, "key", "list", tenant_id)
    assert [k["key_id"] for k in keys] == [issued["key_id"]] and all("key_hash" not in k for k in keys)
    _admin(stack, "key", "revoke", tenant_id, issued["key_id"])
    revoked = api("GET", "/v3/fulfillment/outbounds/OMS", key=other_key)  # the stack runs with AuthCacheTtlSeconds=0
    assert revoked.status_code == 401 and revoked.json()["metadata"]["errors"][0]["code"] == 802

    missing = requests.get(stack["api_url"] + "/v3/fulfillment/outbounds/OMS", timeout=30)
    assert missing.status_code == 401 and missing.json()["metadata"]["errors"][0]["code"] == 802
