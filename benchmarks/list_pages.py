"""List pages at tenant scale: RRU and hub time per page at 1k / 10k / 100k orders in one tenant.

The orders are written straight into moto's tables (``DynamoOrderRepository.bulk_load``: the items,
index entries and day counts a create writes, without the events), spread evenly over the last 30
days; then each list runs through the real OrdersApi handler, metered like ``benchmarks.cost_model``
(every DynamoDB call sized into RRU: Query per page of results, BatchGetItem per item, eventually
consistent reads at half price). ``hub ms`` is the handler's own time in-process, warm, without the
time spent inside moto (whose index Query walks the whole table, unlike DynamoDB); ``+moto ms`` with it;
``calls`` the DynamoDB requests (each a network round trip in AWS, a few ms).

    python -m benchmarks.list_pages [--sizes 1000,10000,100000] [--days 30]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.common import use_in_process_aws

WH = "WH-TGR04"
QUERIES: list[tuple[str, str, dict[str, str]]] = [
    ("page 1 of 20", "OMS", {}),
    ("page 50 of 20", "OMS", {"page": "50"}),
    ("limit 100", "OMS", {"limit": "100"}),
    ("created range (3 days)", "OMS", {"created_start": "{d3}", "created_end": "{d1}"}),
    ("warehouse filter", "OMS", {"warehouse_id": WH}),
    ("status filter", "OMS", {"so_status": "REGISTERED"}),
    ("WMS list (none match)", "WMS", {}),
    ("updated since yesterday", "OMS", {"updated_start": "{d1}"}),
]


def sample_orders(tenant_id: str, count: int, days: int, now: datetime) -> list[Any]:
    """``count`` orders of one tenant, created evenly over the last ``days`` days (oldest first)."""
    from local_stack.harness import load_event
    from order_hub.models.api import CreateOrderRequest
    from order_hub.models.order import Order
    from order_hub.models.tenant import Tenant
    from order_hub.services.orders import create_order

    class _Capture:
        order: Order

        def stored_size(self, order: Order, event: Any) -> int:
            return 0

        def insert(self, order: Order, event: Any) -> None:
            self.order = order

    capture = _Capture()
    tenant = Tenant(tenant_id=tenant_id, name="Bench", warehouse_ids=[WH], created_at=now)
    request = CreateOrderRequest.model_validate(json.loads(load_event("orders_api/create_order")["body"]))
    create_order(tenant, request, capture, now=lambda: now)  # type: ignore[arg-type]
    template = capture.order
    span = timedelta(days=days) / max(1, count)
    start = now - timedelta(days=days)
    orders = []
    for n in range(count):
        at = start + span * n
        orders.append(template.model_copy(update={"order_no": f"SO-{n:07d}", "created_at": at, "updated_at": at}))
    return orders


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000", help="tenant sizes, ascending")
    parser.add_argument("--days", type=int, default=30, help="days the orders are spread over")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    use_in_process_aws()
    from moto import mock_aws

    with mock_aws():
        return _run(sizes, args.days)


def _run(sizes: list[int], days: int) -> int:
    from benchmarks.cost_model import Meter, table_specs
    from functions.orders_api.app import lambda_handler
    from local_stack.harness import FakeContext, api_event, build_tables, seed_tenant
    from local_stack.template import load_template
    from order_hub import wiring
    from order_hub.adapters.aws import dynamodb_client

    template = load_template()
    names = build_tables()
    meter = Meter(table_specs(template, names), int(template["Globals"]["Function"]["MemorySize"]))
    in_aws = {"seconds": 0.0, "calls": 0, "started": 0.0}

    def before(**_: Any) -> None:
        in_aws["started"] = time.perf_counter()

    def after(**_: Any) -> None:
        in_aws["seconds"] += time.perf_counter() - in_aws["started"]
        in_aws["calls"] += 1

    client = dynamodb_client()
    client.meta.events.register("before-call.dynamodb.*", before)
    client.meta.events.register("after-call.dynamodb.*", after)
    now = datetime.now(UTC)
    stamps = {f"d{n}": (now - timedelta(days=n)).date().isoformat() for n in range(4)}
    print(
        f"List pages: one tenant per size, its orders spread over the last {days} days; OrdersApi handler in-process (moto), warm"
    )
    print(f"  {'orders':>8}  {'list':<24} {'RRU':>6} {'calls':>5} {'hub ms':>7} {'+moto ms':>8} {'items':>5} {'total':>7}  exact")
    for size in sizes:
        tenant_id = f"bench{size}"
        with meter.paused():
            key = seed_tenant(tenant_id, [WH])
            wiring.order_repository().bulk_load(sample_orders(tenant_id, size, days, now))
        meter.invoke("warm-up", lambda_handler, api_event("orders_api/list_orders", key, query={}), 10_000)
        for label, outbound, raw in QUERIES:
            query = {name: value.format(**stamps) for name, value in raw.items()}
            event = api_event("orders_api/list_orders", key, path_parameters={"outbound_type": outbound}, query=query)
            meter.usage.pop(label, None)
            response = meter.invoke(label, lambda_handler, event, 10_000)  # RRU
            with meter.paused():  # time: again, unmetered, less the time inside moto's calls
                in_aws.update(seconds=0.0, calls=0)
                started = time.perf_counter()
                lambda_handler(event, FakeContext(remaining_ms=10_000))
                total_ms = (time.perf_counter() - started) * 1000
            moto_ms = in_aws["seconds"] * 1000
            body = json.loads(response["body"])
            assert response["statusCode"] == 200, body
            usage, pagination = meter.usage[label], body["pagination"]
            print(
                f"  {size:>8,}  {label:<24} {usage.rru:6.1f} {in_aws['calls']:>5} {total_ms - moto_ms:7.1f}"
                f" {total_ms:8.0f} {pagination['current_elements']:>5}"
                f" {pagination['total_elements']:>7,}  {pagination['total_exact']}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
