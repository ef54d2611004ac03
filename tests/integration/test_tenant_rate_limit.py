"""Per-tenant request limit: one tenant over its per-second budget gets 429 in the envelope while
another tenant is still served (order_hub.http_api.preflight, a counter per tenant and second)."""

from __future__ import annotations

import json
import time
from typing import Any

from local_stack.harness import FakeContext, api_event
from local_stack.testkit import MotoHubFactory

LIMIT = 3


def _call(api_key: str, name: str = "orders_api/list_orders") -> dict[str, Any]:
    from functions.orders_api.app import lambda_handler

    raw = lambda_handler(api_event(name, api_key), FakeContext())
    return {"status": raw["statusCode"], "headers": raw.get("headers") or {}, "body": json.loads(raw["body"])}


def _admin_call(api_key: str) -> dict[str, Any]:
    from functions.admin_api.app import lambda_handler

    raw = lambda_handler(api_event("admin_api/list_endpoints", api_key), FakeContext())
    return {"status": raw["statusCode"], "headers": raw.get("headers") or {}, "body": json.loads(raw["body"])}


def test_a_tenant_over_its_limit_gets_429_while_another_is_served(moto_hub_factory: MotoHubFactory) -> None:
    hub = moto_hub_factory(
        tenants={"acme": ["WH-TGR04"], "rival": ["WH-TGR04"]},
        settings={"TENANT_RATE_LIMIT_PER_SECOND": str(LIMIT), "HUB_ENV": "dev"},
    )
    for _ in range(5):  # the budget is per wall-clock second: start over if a second boundary was crossed
        second = int(time.time())
        acme = [_call(hub.api_keys["acme"]) for _ in range(LIMIT + 2)]
        rival = _call(hub.api_keys["rival"])
        admin = _admin_call(hub.api_keys["acme"])
        if int(time.time()) == second:
            break
        time.sleep(1 - time.time() % 1)
    else:
        raise AssertionError("could not fit the requests into one second")

    assert [reply["status"] for reply in acme] == [200] * LIMIT + [429, 429]
    refused = acme[-1]
    metadata = refused["body"]["metadata"]
    assert metadata["http_status_code"] == 429 and metadata["http_status"] == "Too Many Requests"
    assert metadata["errors"][0]["code"] == 810 and f"{LIMIT} requests per second" in metadata["errors"][0]["message"]
    assert refused["headers"]["Retry-After"] == "1" and refused["headers"]["x-request-id"]
    assert rival["status"] == 200  # the other tenant keeps its own budget
    assert admin["status"] == 429  # the admin API counts against the same tenant budget


def test_the_limit_is_off_at_zero(moto_hub_factory: MotoHubFactory) -> None:
    hub = moto_hub_factory(tenants={"acme": ["WH-TGR04"]}, settings={"TENANT_RATE_LIMIT_PER_SECOND": "0", "HUB_ENV": "dev"})
    assert [_call(hub.api_keys["acme"])["status"] for _ in range(5)] == [200] * 5
