"""A tenant's own request limit (``hub-admin tenant rate-limit``) replaces the stack's
``TenantRateLimitPerSecond`` for that tenant only; ``default`` gives the stack's back."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from local_stack.harness import FakeContext, api_event
from local_stack.testkit import MotoHubFactory
from order_hub import admin_cli, wiring
from order_hub.errors import InvalidInput
from order_hub.services import tenants

STACK_LIMIT = 3


def _status(api_key: str) -> int:
    from functions.orders_api.app import lambda_handler

    raw: dict[str, Any] = lambda_handler(api_event("orders_api/list_orders", api_key), FakeContext())
    json.loads(raw["body"])
    return int(raw["statusCode"])


def _in_one_second(calls: Any) -> Any:
    for _ in range(5):  # the budget is per wall-clock second: start over if a boundary was crossed
        second = int(time.time())
        result = calls()
        if int(time.time()) == second:
            return result
        time.sleep(1 - time.time() % 1)
    raise AssertionError("could not fit the requests into one second")


def test_a_tenant_with_its_own_limit_is_held_to_it_and_others_to_the_stack_limit(moto_hub_factory: MotoHubFactory) -> None:
    hub = moto_hub_factory(
        tenants={"big": ["WH-TGR04"], "small": ["WH-TGR04"]},
        settings={"TENANT_RATE_LIMIT_PER_SECOND": str(STACK_LIMIT), "HUB_ENV": "dev"},
    )
    updated = tenants.set_rate_limit(wiring.tenant_directory(), "big", 6)
    assert updated.rate_limit_per_second == 6 and tenants.get_tenant(wiring.tenant_directory(), "big").rate_limit_per_second == 6

    big, small = _in_one_second(
        lambda: ([_status(hub.api_keys["big"]) for _ in range(8)], [_status(hub.api_keys["small"]) for _ in range(5)])
    )
    assert big == [200] * 6 + [429, 429]  # above the stack's 3: its own 6
    assert small == [200] * STACK_LIMIT + [429, 429]  # everyone else: the stack's


def test_the_admin_cli_sets_and_clears_the_limit_and_refuses_bad_ones(
    moto_hub_factory: MotoHubFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    moto_hub_factory(tenants={"big": ["WH-TGR04"]}, settings={"HUB_ENV": "dev"})
    directory = wiring.tenant_directory()
    assert admin_cli.main(["tenant", "rate-limit", "big", "500"]) == 0
    assert json.loads(capsys.readouterr().out)["rate_limit_per_second"] == 500
    assert tenants.get_tenant(directory, "big").rate_limit_per_second == 500
    assert admin_cli.main(["tenant", "rate-limit", "big", "many"]) == 2
    assert "rate_limit_per_second must be a whole number" in capsys.readouterr().err
    assert admin_cli.main(["tenant", "rate-limit", "big", "default"]) == 0
    assert json.loads(capsys.readouterr().out)["rate_limit_per_second"] is None
    for wrong in (0, -1, 10_001):
        with pytest.raises(InvalidInput) as refused:
            tenants.set_rate_limit(directory, "big", wrong)
        assert refused.value.field == "rate_limit_per_second"
    assert tenants.get_tenant(directory, "big").rate_limit_per_second is None


def test_a_new_limit_counts_once_the_containers_cached_key_lapses(moto_hub_factory: MotoHubFactory) -> None:
    hub = moto_hub_factory(
        tenants={"big": ["WH-TGR04"]},
        settings={"TENANT_RATE_LIMIT_PER_SECOND": str(STACK_LIMIT), "AUTH_CACHE_TTL_SECONDS": "0", "HUB_ENV": "dev"},
    )
    key = hub.api_keys["big"]

    def second_with_a_new_limit() -> tuple[list[int], list[int]]:
        before = [_status(key) for _ in range(STACK_LIMIT + 1)]  # the stack's limit
        tenants.set_rate_limit(wiring.tenant_directory(), "big", 20)  # raised mid-second
        after = [_status(key) for _ in range(2)]  # the key is looked up again (no cache): its own limit now
        tenants.set_rate_limit(wiring.tenant_directory(), "big", None)
        return before, after

    before, after = _in_one_second(second_with_a_new_limit)
    assert before == [200] * STACK_LIMIT + [429]
    assert after == [200, 200]
