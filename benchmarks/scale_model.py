"""Scale model: the load each component takes at peak, per partition key, and the $ per day.

For ``--orders-per-day`` over ``--tenants`` tenants (the largest one has ``--largest-share`` of the
orders), ``--peak`` times the day's average rate and ``--endpoints`` callback endpoints per tenant,
it prints per component the load at peak: DynamoDB writes (and reads) per partition key, indexes
included; Lambda concurrency per function; SQS messages/s; API requests/s; Secrets Manager
GetSecretValue calls/s; and the $ per day. Anything above an AWS default limit (or a limit of our
own template) is flagged with the design change it needs.

Where the figures come from:
- the key design: template.yaml (indexes, projections, batch sizes, reserved concurrency, the
  tenant rate limit) and the adapters' key patterns (``order_hub.adapters.dynamodb`` and
  ``dynamodb_deliveries``): the orders list indexes are keyed per tenant (``T#<tenant>``) or per
  tenant and day (``C#<tenant>#<day>``), detected from the adapter's source (``--orders-index``
  overrides);
- the lifecycle per order (API requests, events, deliveries, forwards, Lambda invocations and their
  durations): ``benchmarks/cost_model_latest.json`` (``python -m benchmarks.cost_model --record``),
  or ``DEFAULT_PROFILE`` (the cost model's default run) when there is none;
- the limits: AWS's documented defaults (``LIMITS``).

    python -m benchmarks.scale_model [--orders-per-day 10000000] [--tenants 1000] [--largest-share 0.2]
                                     [--peak 5] [--endpoints 2]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from benchmarks.cost_model import BEFORE as COST_MODEL_BEFORE
from order_hub.services.callback_delivery import MESSAGE_ID_BLOCK
from order_hub.services.request_limits import FLUSH_EVERY

SECONDS_PER_DAY = 86_400
MILLION = 1_000_000
SECRET_MAX_AGE_S = 300  # order_hub.config.SecretsSettings.SECRETS_CACHE_SECONDS
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LATEST = os.path.join(HERE, "cost_model_latest.json")

LIMITS = {
    "partition_wcu": 1_000,  # DynamoDB: per partition (and so per partition key), writes of 1 KB per second
    "partition_rcu": 3_000,  # DynamoDB: per partition, strongly consistent 4 KB reads per second
    "table_wru_on_demand": 40_000,  # DynamoDB on-demand: default per-table throughput quota (WRU/s, RRU/s alike)
    "lambda_account_concurrency": 1_000,  # Lambda: concurrent executions per account and region (default)
    "apigw_rps": 10_000,  # API Gateway: requests per second per account and region (default, REST and HTTP APIs)
    "secrets_rps": 10_000,  # Secrets Manager: GetSecretValue requests per second (combined quota)
}

DEFAULT_PROFILE: dict[str, Any] = {
    "endpoints": 2,
    "api_requests": 5.05,  # create, 2 webhooks, 2 detail reads, a list page per 20 orders
    "records_per_order": {"Dispatcher": 4.0, "WmsForwarder": 1.0, "DeliveryWorker": 6.0},
    "functions": {
        "OrdersApi": {"invocations_per_order": 3.05, "avg_ms": 70.0, "secrets": 0},
        "WebhookIngest": {"invocations_per_order": 2.0, "avg_ms": 120.0, "secrets": 1},
        "Dispatcher": {"invocations_per_order": 4.0, "avg_ms": 55.0, "secrets": 0},
        "WmsForwarder": {"invocations_per_order": 1.0, "avg_ms": 145.0, "secrets": 1},
        "DeliveryWorker": {"invocations_per_order": 6.0, "avg_ms": 150.0, "secrets": 1},
    },
    "wru_per_order": 90.06,
    "dollars": COST_MODEL_BEFORE["dollars"],
}
"""Per order, for the cost model's default lifecycle (2 endpoints): main's run of 2026-12-02."""

ORDER_CHANGES = 5
"""Writes of an order item per lifecycle: create, forwarded, confirmation, picking, shipped."""
LATER_DAY_MOVES = 0.5
"""``by_updated`` moves per order when keyed per day (a change on a later day than the last)."""
DELIVERIES_PER_EVENT_ENDPOINT = 0.75
"""Deliveries per (event, endpoint): not every format emits every event (6 deliveries for 4 events x 2 endpoints)."""

ROUTES_PER_ORDER = {
    "GET .../outbound/oms/{order_no} (order detail)": 2.0,
    "POST /v3/fulfillment/outbound/oms (create)": 1.0,
    "POST /webhooks/wms/{tenant_id}/order-confirmation": 1.0,
    "POST /webhooks/wms/{tenant_id}/pgi": 1.0,
}
"""Requests per order on each route in the cost model's lifecycle (``--detail-reads 2``; the list's 0.05
and the logistics webhooks, which it does not drive, are below these)."""

FUNCTION_IDS = {
    "OrdersApi": ("OrdersApiFunction", "OrdersApiConcurrency"),
    "WebhookIngest": ("WebhookIngestFunction", "WebhookIngestConcurrency"),
    "Dispatcher": ("DispatcherFunction", "DispatcherConcurrency"),
    "WmsForwarder": ("WmsForwarderFunction", "WmsForwarderConcurrency"),
    "DeliveryWorker": ("DeliveryWorkerFunction", "DeliveryWorkerConcurrency"),
}


@dataclass(frozen=True)
class Scenario:
    orders_per_day: int = 10_000_000
    tenants: int = 1_000
    largest_share: float = 0.2
    peak: float = 5.0
    endpoints: int = 2
    increff_share: float = 0.5  # of endpoints numbered per endpoint (Increff messageId counter)
    warehouses_per_tenant: int = 2
    largest_tenant_limit: int = 0  # the largest tenant's own request limit (hub-admin tenant rate-limit); 0: the stack's


@dataclass(frozen=True)
class Design:
    """What the key design and the template say, per scale-relevant choice."""

    orders_index: str  # "tenant" (T#<tenant>) or "tenant-day" (C#/U#<tenant>#<day>)
    day_counts: bool  # COUNTS#<tenant> incremented by every create
    delivery_index_keys_only: bool
    tenant_rate_limit: int  # TenantRateLimitPerSecond default (0: off, no counter written)
    client_route_rate: int = 0  # ApiRouteRateLimit default (each client route's bucket)
    webhook_route_rate: int = 0  # WebhookRouteRateLimit default (each webhook route's bucket)
    reserved: dict[str, int] = field(default_factory=dict)  # function -> reserved concurrency (template default)
    batch: dict[str, tuple[int, float]] = field(default_factory=dict)  # function -> (BatchSize, window s)
    api: str = "REST API"


@dataclass
class Row:
    component: str
    load: float
    unit: str
    limit: float | None = None
    fix: str = ""

    @property
    def flagged(self) -> bool:
        return self.limit is not None and self.load > self.limit


def _adapter_source(name: str) -> str:
    path = os.path.join(ROOT, "layers", "shared", "order_hub", "adapters", name)
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _round_up(value: float, step: int = 100) -> int:
    return max(step, math.ceil(value / step) * step)


def design_from(template: Mapping[str, Any], orders_index: str = "auto") -> Design:
    """The scale-relevant choices of this tree: template.yaml and the adapters' key patterns."""
    from benchmarks.cost_model import api_type, triggers

    source = _adapter_source("dynamodb.py")
    day_counts = "COUNTS#" in source or orders_index == "tenant-day"  # the per-day design comes with day counts
    if orders_index == "auto":
        per_day = re.search(r'"gsi1pk": \{"S": f"[A-Z]+#\{order\.tenant_id\}#\{', source)
        orders_index = "tenant-day" if per_day else "tenant"
    parameters = template["Parameters"]
    deliveries = template["Resources"]["DeliveriesTable"]["Properties"]["GlobalSecondaryIndexes"]
    return Design(
        orders_index=orders_index,
        day_counts=day_counts,
        delivery_index_keys_only=all(index["Projection"]["ProjectionType"] == "KEYS_ONLY" for index in deliveries),
        tenant_rate_limit=int(parameters["TenantRateLimitPerSecond"]["Default"]),
        client_route_rate=int(parameters["ApiRouteRateLimit"]["Default"]),
        webhook_route_rate=int(parameters["WebhookRouteRateLimit"]["Default"]),
        reserved={name: int(parameters[parameter]["Default"]) for name, (_, parameter) in FUNCTION_IDS.items()},
        batch={
            name: (found.batch_size, found.window_s)
            for name, (function, _) in FUNCTION_IDS.items()
            if (found := triggers(template).get(function)) is not None
        },
        api=api_type(template),
    )


def load_profile(path: str = LATEST) -> dict[str, Any]:
    """The cost model's last recorded run (per order), or ``DEFAULT_PROFILE``."""
    if not os.path.exists(path):
        return DEFAULT_PROFILE
    with open(path, encoding="utf-8") as handle:
        recorded = json.load(handle)
    if "functions" not in recorded or "records_per_order" not in recorded:
        return DEFAULT_PROFILE
    return {
        "endpoints": DEFAULT_PROFILE["endpoints"],
        "api_requests": float(recorded["requests"]["API Gateway"]),
        "records_per_order": recorded["records_per_order"],
        "functions": {
            name: value for name, value in recorded["functions"].items() if name in FUNCTION_IDS and name != "StatusPoller"
        },
        "dollars": recorded["dollars"],
        "wru_per_order": float(recorded["units"]["DynamoDB"].split(" WRU")[0]),
    }


@dataclass
class Result:
    rows: dict[str, list[Row]]
    dollars_per_day: dict[str, float]

    @property
    def flags(self) -> list[Row]:
        return [row for rows in self.rows.values() for row in rows if row.flagged]


def scale(scenario: Scenario, design: Design, profile: Mapping[str, Any] = DEFAULT_PROFILE) -> Result:
    """The load at peak per component, and the $ per day."""
    orders_s = scenario.orders_per_day * scenario.peak / SECONDS_PER_DAY
    big_s = orders_s * scenario.largest_share  # the largest tenant's orders per second at peak
    endpoint_factor = scenario.endpoints / profile["endpoints"]
    records = dict(profile["records_per_order"])
    # deliveries per order, and delivery queue messages per order (bundles of up to 10 deliveries since
    # issue 15, measured as "Deliveries" beside the messages; before, one message per delivery): both
    # grow with the endpoints, the messages at the packing the cost model measured
    deliveries = float(records.pop("Deliveries", records["DeliveryWorker"])) * endpoint_factor
    records["DeliveryWorker"] = records["DeliveryWorker"] * endpoint_factor
    events = records["Dispatcher"]
    per_endpoint = deliveries / max(1, scenario.endpoints)  # deliveries per order and endpoint
    api_per_order = float(profile["api_requests"])
    rows: dict[str, list[Row]] = {}

    # -- DynamoDB: writes per partition key (the largest tenant), indexes included -------------
    keys: list[Row] = []
    if design.orders_index == "tenant":
        keys += [
            Row(
                "OrdersTable by_created T#<tenant> (rewritten on every change)",
                big_s * ORDER_CHANGES,
                "WCU/s",
                LIMITS["partition_wcu"],
                "spread by_created per tenant and day (and shard), write it once, project only what never changes",
            ),
            Row(
                "OrdersTable by_updated T#<tenant> (key moves on every change)",
                big_s * (ORDER_CHANGES + 1),
                "WCU/s",
                LIMITS["partition_wcu"],
                "key by_updated per tenant and day of the change; move it only when the day changes",
            ),
        ]
    else:
        keys += [
            Row(
                "OrdersTable by_created C#<tenant>#<day> (at the create and at the end)",
                big_s * 2,
                "WCU/s",
                LIMITS["partition_wcu"],
                "add a shard to the day key (C#<tenant>#<day>#<n>, n = hash(order) % N) and merge N pages in lists",
            ),
            Row(
                "OrdersTable by_updated U#<tenant>#<day>",
                big_s * (1 + LATER_DAY_MOVES),
                "WCU/s",
                LIMITS["partition_wcu"],
                "shard the day key as for by_created",
            ),
        ]
    if design.day_counts:
        keys.append(
            Row(
                "OrdersTable COUNTS#<tenant> (one ADD per create)",
                big_s,
                "WCU/s",
                LIMITS["partition_wcu"],
                "shard the day counter (COUNTS#<tenant>#<n>) and add the shards when reading totals",
            )
        )
    tenant_rps = big_s * api_per_order
    if design.tenant_rate_limit:
        keys.append(
            Row(
                "TenantsTable RATE#<tenant>#<second> (request limit)",
                tenant_rps / FLUSH_EVERY,  # containers add their requests in batches (services.request_limits)
                "WCU/s",
                LIMITS["partition_wcu"],
                "raise the batch (FLUSH_EVERY), or shard the counter (RATE#<tenant>#<second>#<n>)",
            )
        )
    projection = "KEYS_ONLY, once" if design.delivery_index_keys_only else "ALL"
    keys += [
        Row(
            f"DeliveriesTable by_endpoint EP#<tenant>#<endpoint> ({projection})",
            big_s * per_endpoint * (1 if design.delivery_index_keys_only else 2),
            "WCU/s",
            LIMITS["partition_wcu"],
            "add the day to the key (EP#<tenant>#<endpoint>#<day>); replays read the days since T",
        ),
        Row(
            "DeliveriesTable by_problem PROBLEM#<tenant> (one endpoint down)",
            big_s * per_endpoint,
            "WCU/s",
            LIMITS["partition_wcu"],
            "shard the problem key per endpoint (PROBLEM#<tenant>#<endpoint>) and merge in the problems view",
        ),
    ]
    if scenario.increff_share > 0:
        keys.append(
            Row(
                "DeliveriesTable COUNTER#<tenant>#<endpoint> (Increff messageId, blocks of 100)",
                big_s * per_endpoint / MESSAGE_ID_BLOCK,
                "WCU/s",
                LIMITS["partition_wcu"],
                "allocate message ids in blocks per dispatcher batch (ADD n :count once per batch)",
            )
        )
    rows["DynamoDB writes per partition key (largest tenant, at peak)"] = keys
    endpoint_bytes = scenario.endpoints * 1024
    rows["DynamoDB reads per partition key (largest tenant, at peak)"] = [
        Row(
            "TenantsTable TENANT#<tenant> (endpoints per batch, endpoint per attempt; eventually consistent)",
            # at most one endpoints Query per event (one per tenant and stream batch), one GetItem per
            # attempt; both eventually consistent: 0.5 RCU per 4 KB
            0.5 * (big_s * events * max(1, math.ceil(endpoint_bytes / 4096)) + big_s * deliveries),
            "RCU/s",
            LIMITS["partition_rcu"],
            "cache the tenant's endpoints with a version check (one small read), or move endpoints to their own keys",
        ),
    ]

    # -- DynamoDB tables as a whole ---------------------------------------------------------------
    rows["DynamoDB tables (on-demand quota, all tenants)"] = [
        Row(
            "the three tables together vs one table's default quota",
            orders_s * float(profile["wru_per_order"]),
            "WRU/s",
            LIMITS["table_wru_on_demand"],
            "request a higher on-demand throughput quota for the orders table (default 40,000 WRU/s per table)",
        ),
    ]

    # -- Lambda --------------------------------------------------------------------------------------
    functions = profile["functions"]
    lambda_rows: list[Row] = []
    total_concurrency = 0.0
    for name, stats in functions.items():
        per_order = float(stats["invocations_per_order"])
        if name in design.batch:  # at peak a batching window fills the batch
            size, window = design.batch[name]
            rate = records.get(name, per_order) * orders_s
            share = rate * window / (5 if name != "Dispatcher" else 1)
            batch = max(1, min(size, math.floor(share))) if window > 0 else 1
            invocations = rate / batch
        else:
            invocations = per_order * orders_s * (endpoint_factor if name == "DeliveryWorker" else 1)
        concurrency = invocations * float(stats["avg_ms"]) / 1000
        total_concurrency += concurrency
        _, parameter = FUNCTION_IDS[name]
        lambda_rows.append(
            Row(
                f"{name}: {invocations:,.0f} invocations/s",
                concurrency,
                "concurrent",
                float(design.reserved.get(name, 0)) or None,
                f"raise {parameter} to the peak's concurrency"
                + (" (it is also the SQS trigger's MaximumConcurrency)" if name in ("WmsForwarder", "DeliveryWorker") else ""),
            )
        )
    lambda_rows.append(
        Row(
            "all functions",
            total_concurrency,
            "concurrent",
            LIMITS["lambda_account_concurrency"],
            "request a Lambda concurrency quota increase for the account and region",
        )
    )
    rows["Lambda concurrency at peak"] = lambda_rows

    # -- SQS, API Gateway, Secrets Manager ----------------------------------------------------------
    rows["SQS messages/s at peak (standard queues: no limit)"] = [
        Row("WmsForwardQueue", records["WmsForwarder"] * orders_s, "msg/s"),
        Row("DeliveryQueue (first attempts)", records["DeliveryWorker"] * orders_s, "msg/s"),
    ]
    rows["API requests/s at peak"] = [
        Row(
            f"{design.api}, all tenants",
            orders_s * api_per_order,
            "req/s",
            LIMITS["apigw_rps"],
            "request an API Gateway throttle quota increase for the account and region",
        ),
        Row(
            "the largest tenant vs "
            + (
                f"its own limit ({scenario.largest_tenant_limit}/s)"
                if scenario.largest_tenant_limit
                else "TenantRateLimitPerSecond"
            ),
            tenant_rps,
            "req/s",
            float(scenario.largest_tenant_limit or design.tenant_rate_limit) or None,
            f"give it its own limit: hub-admin tenant rate-limit <tenant> {_round_up(tenant_rps * 1.5)}"
            f" (or --largest-tenant-limit {_round_up(tenant_rps * 1.5)} here)",
        ),
    ]
    route_rows: list[Row] = []
    for route, per_order in ROUTES_PER_ORDER.items():
        webhook = route.startswith("POST /webhooks")
        limit = design.webhook_route_rate if webhook else design.client_route_rate
        parameter = "WebhookRouteRateLimit" if webhook else "ApiRouteRateLimit"
        load = orders_s * per_order
        route_rows.append(
            Row(route, load, "req/s", float(limit) or None, f"deploy with {parameter}={_round_up(load * 1.5)} (its burst too)")
        )
    rows["HTTP API route throttles at peak (each route its own bucket, all tenants)"] = route_rows
    tenants_per_window = float(scenario.tenants)
    endpoints_total = float(scenario.tenants * scenario.endpoints)
    secrets_s = 0.0
    for name, stats in functions.items():
        if not stats.get("secrets"):
            continue
        containers = max(1.0, next(r.load for r in lambda_rows if r.component.startswith(f"{name}:")))
        distinct = endpoints_total if name == "DeliveryWorker" else tenants_per_window
        per_container = float(stats["invocations_per_order"]) * orders_s / containers * SECRET_MAX_AGE_S
        secrets_s += containers * min(distinct, max(1.0, per_container)) / SECRET_MAX_AGE_S
    secrets_s += scenario.tenants / SECRET_MAX_AGE_S  # the poller: one container, every tenant's WMS secret
    rows["Secrets Manager GetSecretValue/s at peak"] = [
        Row(
            "all functions (5-minute cache per container)",
            secrets_s,
            "calls/s",
            LIMITS["secrets_rps"],
            "lengthen the secret cache or share one cache per tenant (e.g. the Parameters and Secrets extension)",
        )
    ]
    dollars = {service: float(value) * scenario.orders_per_day / MILLION for service, value in profile["dollars"].items()}
    dollars["total"] = sum(dollars.values())
    return Result(rows, dollars)


def profile_note(result: Result) -> str:
    return "its default lifecycle with 2 endpoints"


def render(scenario: Scenario, design: Design, result: Result) -> str:
    lines = [
        f"Scale model: {scenario.orders_per_day:,} orders/day over {scenario.tenants:,} tenants, the largest"
        f" {scenario.largest_share:.0%}, peak x{scenario.peak:g}, {scenario.endpoints} endpoints per tenant",
        f"  key design: orders list indexes per {design.orders_index.replace('-', ' and ')}"
        f"{', day counts' if design.day_counts else ''}; deliveries indexes"
        f" {'KEYS_ONLY' if design.delivery_index_keys_only else 'ALL'}; {design.api}; tenant limit"
        f" {design.tenant_rate_limit}/s",
        "",
    ]
    for section, rows in result.rows.items():
        lines.append(f"  {section}")
        for row in rows:
            limit = f"limit {row.limit:,.0f} ({row.load / row.limit:4.0%})" if row.limit else ""
            mark = "  FLAG" if row.flagged else ""
            lines.append(f"    {row.component:<72} {row.load:>10,.1f} {row.unit:<10} {limit:<22}{mark}")
        lines.append("")
    lines.append(f"  $ per day (the cost model's $ per order, {profile_note(result)}, x orders/day):")
    for service, value in result.dollars_per_day.items():
        lines.append(f"    {service:<24} {value:>12,.2f}")
    lines.append("")
    flags = result.flags
    lines.append(f"  flags: {len(flags)}" + ("" if flags else " (nothing above a limit)"))
    for row in flags:
        lines.append(f"  - {row.component}: {row.load:,.0f} {row.unit} > {row.limit:,.0f}. Change: {row.fix}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from local_stack.template import load_template

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders-per-day", type=int, default=Scenario.orders_per_day)
    parser.add_argument("--tenants", type=int, default=Scenario.tenants)
    parser.add_argument("--largest-share", type=float, default=Scenario.largest_share)
    parser.add_argument("--peak", type=float, default=Scenario.peak)
    parser.add_argument("--endpoints", type=int, default=Scenario.endpoints, help="callback endpoints per tenant")
    parser.add_argument("--orders-index", choices=("auto", "tenant", "tenant-day"), default="auto")
    parser.add_argument(
        "--largest-tenant-limit",
        type=int,
        default=0,
        help="the largest tenant's own request limit per second (hub-admin tenant rate-limit); 0: TenantRateLimitPerSecond",
    )
    args = parser.parse_args(argv)
    scenario = Scenario(
        args.orders_per_day,
        args.tenants,
        args.largest_share,
        args.peak,
        args.endpoints,
        largest_tenant_limit=args.largest_tenant_limit,
    )
    design = design_from(load_template(), args.orders_index)
    result = scale(scenario, design, load_profile())
    print(render(scenario, design, result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
