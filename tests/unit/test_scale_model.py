"""The scale model on small scenarios: nothing flagged within AWS's limits, a flag (and its fix) above them."""

from __future__ import annotations

import dataclasses

import pytest

from benchmarks.scale_model import DEFAULT_PROFILE, LIMITS, Scenario, design_from, load_profile, render, scale
from local_stack.template import load_template


def test_the_design_is_read_from_the_template_and_the_adapters() -> None:
    design = design_from(load_template())

    assert design.delivery_index_keys_only  # the deliveries table's indexes, from template.yaml
    assert design.tenant_rate_limit == 50 and design.reserved["DeliveryWorker"] == 20
    assert design.batch["DeliveryWorker"] == (10, 1.0) and design.api in ("REST API", "HTTP API")
    assert design.orders_index in ("tenant", "tenant-day")
    assert design_from(load_template(), "tenant-day").orders_index == "tenant-day"


def test_a_small_scenario_stays_within_every_limit() -> None:
    scenario = Scenario(orders_per_day=50_000, tenants=20, largest_share=0.2, peak=3, endpoints=2)
    result = scale(scenario, design_from(load_template()), DEFAULT_PROFILE)

    assert result.flags == []
    assert "flags: 0 (nothing above a limit)" in render(scenario, design_from(load_template()), result)
    assert round(result.dollars_per_day["total"], 2) == round(0.05 * 91.24, 2)  # $ per million x orders/day


def test_a_tenant_above_a_partitions_write_limit_is_flagged_with_the_change_it_needs() -> None:
    design = dataclasses.replace(design_from(load_template()), orders_index="tenant")
    scenario = Scenario(orders_per_day=20_000_000, tenants=10, largest_share=0.5, peak=4, endpoints=2)
    result = scale(scenario, design, DEFAULT_PROFILE)

    flagged = {row.component: row for row in result.flags}
    hot = flagged["OrdersTable by_updated T#<tenant> (key moves on every change)"]
    orders_per_second = 20_000_000 * 0.5 * 4 / 86_400
    assert hot.load == orders_per_second * 6 > LIMITS["partition_wcu"]
    assert "per tenant and day" in hot.fix
    text = render(scenario, design, result)
    assert "FLAG" in text and f"Change: {hot.fix}" in text
    assert "the largest tenant vs TenantRateLimitPerSecond" in flagged  # 2,300 req/s against 50


def test_the_same_load_spread_per_day_is_not_a_hot_key_until_the_day_key_itself_is() -> None:
    design = dataclasses.replace(design_from(load_template()), orders_index="tenant-day", day_counts=True)
    scenario = Scenario(orders_per_day=2_000_000, tenants=10, largest_share=0.5, peak=4, endpoints=2)
    result = scale(scenario, design, DEFAULT_PROFILE)

    writes = {row.component: row for row in result.rows["DynamoDB writes per partition key (largest tenant, at peak)"]}
    assert not writes["OrdersTable by_created C#<tenant>#<day> (at the create and at the end)"].flagged
    assert not writes["OrdersTable COUNTS#<tenant> (one ADD per create)"].flagged


def test_with_bundles_the_endpoint_reads_follow_the_deliveries_and_the_queue_the_messages() -> None:
    """A profile measured with bundles: 6 deliveries in 1 delivery queue message per order."""
    records = {"Dispatcher": 4.0, "WmsForwarder": 1.0, "DeliveryWorker": 1.0, "Deliveries": 6.0}
    bundled = {**DEFAULT_PROFILE, "records_per_order": records}
    design = design_from(load_template())

    def rows(endpoints: int) -> dict[str, float]:
        result = scale(
            Scenario(orders_per_day=1_000_000, tenants=10, largest_share=0.2, peak=2, endpoints=endpoints), design, bundled
        )
        return {row.component: row.load for group in result.rows.values() for row in group}

    two, eight = rows(2), rows(8)
    orders_s = 1_000_000 * 2 / 86_400
    assert two["DeliveryQueue (first attempts)"] == pytest.approx(orders_s * 1.0)  # messages, not deliveries
    assert eight["DeliveryQueue (first attempts)"] == pytest.approx(orders_s * 4.0)  # 4x the deliveries: 4x the bundles
    reads = "TenantsTable TENANT#<tenant> (endpoints per batch, endpoint per attempt; eventually consistent)"
    # at most 4 events' endpoint lists and 6 deliveries' endpoint reads, each eventually consistent (0.5)
    assert two[reads] == pytest.approx(orders_s * 0.2 * (4 + 6) * 0.5)


def test_the_issues_scenario_flags_only_the_largest_tenant_and_its_own_limit_clears_it() -> None:
    design = design_from(load_template())
    scenario = Scenario()  # the recorded cost model run; 10 M orders/day, 1,000 tenants, the largest 20%, peak x5, 2 endpoints
    flags = scale(scenario, design, load_profile()).flags

    assert [row.component for row in flags] == ["the largest tenant vs TenantRateLimitPerSecond"]
    assert "hub-admin tenant rate-limit <tenant> 900" in flags[0].fix
    overridden = scale(dataclasses.replace(scenario, largest_tenant_limit=900), design, load_profile())
    assert overridden.flags == []


def test_route_throttles_are_read_from_the_template_and_flagged_when_the_peak_passes_them() -> None:
    design = design_from(load_template())
    assert design.client_route_rate == 2000 and design.webhook_route_rate == 1000
    old = dataclasses.replace(design, client_route_rate=500, webhook_route_rate=50)  # main's defaults before
    flagged = {row.component: row for row in scale(Scenario(largest_tenant_limit=900), old, load_profile()).flags}

    pgi = flagged["POST /webhooks/wms/{tenant_id}/pgi"]
    assert round(pgi.load, 1) == round(10_000_000 * 5 / 86_400, 1) and pgi.limit == 50
    assert pgi.fix == "deploy with WebhookRouteRateLimit=900 (its burst too)"
    assert "deploy with ApiRouteRateLimit=1800" in flagged["GET .../outbound/oms/{order_no} (order detail)"].fix
