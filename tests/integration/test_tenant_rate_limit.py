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


def _counter(hub: Any, tenant: str, second: int) -> int | None:
    import boto3

    item = (
        boto3.client("dynamodb", region_name="us-east-1")
        .get_item(TableName=hub.resources["TenantsTable"], Key={"pk": {"S": f"RATE#{tenant}#{second}"}, "sk": {"S": "RATE"}})
        .get("Item")
    )
    return int(item["n"]["N"]) if item else None


def test_requests_are_counted_in_memory_and_written_once_per_batch(moto_hub_factory: MotoHubFactory) -> None:
    """Below a batch (services.request_limits.FLUSH_EVERY) a tenant's requests write no counter; the batch's
    last request adds the whole batch in one write."""
    from order_hub.services.request_limits import FLUSH_EVERY

    hub = moto_hub_factory(tenants={"acme": ["WH-TGR04"]}, settings={"TENANT_RATE_LIMIT_PER_SECOND": "50", "HUB_ENV": "dev"})
    for _ in range(5):
        second = int(time.time())
        replies = [_call(hub.api_keys["acme"]) for _ in range(FLUSH_EVERY - 1)]
        before_batch = _counter(hub, "acme", second)
        replies.append(_call(hub.api_keys["acme"]))
        if int(time.time()) == second:
            break
        time.sleep(1 - time.time() % 1)
    else:
        raise AssertionError("could not fit the requests into one second")

    assert [reply["status"] for reply in replies] == [200] * FLUSH_EVERY
    assert before_batch is None and _counter(hub, "acme", second) == FLUSH_EVERY


def test_two_containers_share_the_tenant_counter_within_the_documented_bound(moto_hub_factory: MotoHubFactory) -> None:
    """Two containers (two limiters on the real tenants table) in one second: the tenant is admitted at
    most limit + (N - 1) x (batch - 1) times, then refused in both; the counter holds what they added."""
    from order_hub import wiring
    from order_hub.services.request_limits import TenantRequestLimiter, flush_every, overshoot_bound

    hub = moto_hub_factory(tenants={"acme": ["WH-TGR04"]}, settings={"HUB_ENV": "dev"})
    limit, now = 20, float(int(time.time()) + 3600)  # a second of its own: no other test's counter
    a, b = (TenantRequestLimiter(wiring.tenant_directory(), limit) for _ in range(2))

    early = [container.allow("acme", now) for container in (a, b) for _ in range(flush_every(limit) - 1)]
    late = [container.allow("acme", now) for _ in range(limit) for container in (a, b)]

    assert all(early) and sum(early) + sum(late) == overshoot_bound(limit, 2) == limit + flush_every(limit) - 1
    assert late[-4:] == [False] * 4 and not a.allow("acme", now) and not b.allow("acme", now)
    assert a.writes + b.writes <= (len(early) + len(late)) // flush_every(limit)
    stored = _counter(hub, "acme", int(now))
    assert stored is not None and limit < stored <= len(early) + len(late)
    assert _counter(hub, "rival", int(now)) is None
