"""Poll reconcile of N WMS orders (a share of them changed) against the WMS simulator.

The hub's orders are bulk-loaded into moto (in-process) as the forwarder would have left them
(CREATED, forwarded); the simulator holds the same orders (last updated an hour ago), ``--changed``
percent of them moved on to PICKING. One poll run of the real status_poller handler then
reconciles them. Then another ``--changed`` percent move on, and a second run (the next minute's)
reconciles those: with the simulator's list sorted by update time, it reads the list's tail only.

    python -m benchmarks.poll_reconcile [--orders 10000] [--changed 1]
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.common import use_in_process_aws


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--changed", type=float, default=1.0, help="percent of orders the WMS moved on")
    args = parser.parse_args(argv)
    use_in_process_aws()
    from moto import mock_aws

    from local_stack.wms_simulator import TenantConfig, WmsSimulator

    simulator = WmsSimulator(port=0, tenants={"bench": TenantConfig(api_key="wms-key", webhook_secret="s")})
    simulator.start()
    try:
        with mock_aws():
            return _run(args, simulator)
    finally:
        simulator.stop()


def _run(args: argparse.Namespace, simulator: Any) -> int:
    from functions.status_poller.app import lambda_handler as poll
    from local_stack.harness import FakeContext, build_tables, load_event, put_secret, seed_tenant
    from local_stack.testkit import order_body
    from order_hub import wiring
    from order_hub.adapters.aws import dynamodb_client
    from order_hub.adapters.secrets import http_session
    from order_hub.models.api import CreateOrderRequest
    from order_hub.models.order import ForwardState
    from order_hub.models.status import ApiStatus
    from order_hub.secret_names import wms_secret_name
    from order_hub.services.orders import create_order

    build_tables()
    seed_tenant("bench", ["WH-TGR04"])
    put_secret(wms_secret_name("bench"), {"base_url": simulator.url, "api_key": "wms-key"})
    tenant = wiring.tenant_directory().get_tenant("bench")
    assert tenant is not None
    repo = wiring.order_repository()
    # The model of every bench order: one real create (the WMS never lists it, so the poll ignores it).
    template = create_order(tenant, CreateOrderRequest.model_validate(order_body(so_number="TEMPLATE")), repo).order
    every = max(1, round(100 / args.changed)) if args.changed > 0 else 0
    started = time.perf_counter()
    now = datetime.now(UTC)
    batch: list[Any] = []
    wms_rows = []
    for n in range(args.orders):
        order_no = f"BENCH-{n:06d}"
        order = template.model_copy(
            update={
                "order_no": order_no,
                "status": ApiStatus.CREATED,
                "wms_status": "OPEN",
                "forward": ForwardState(state="forwarded"),
            }
        )
        batch.append({"PutRequest": {"Item": repo._order_item(order)}})
        changed = every and n % every == 0
        wms_rows.append(
            {
                "order_no": order_no,
                "warehouse_id": "WH-TGR04",
                "status": "PICKING" if changed else "OPEN",
                "updated_at": now - timedelta(hours=1),
            }
        )
        if len(batch) == 25:
            dynamodb_client().batch_write_item(RequestItems={os.environ["ORDERS_TABLE_NAME"]: batch})
            batch = []
    if batch:
        dynamodb_client().batch_write_item(RequestItems={os.environ["ORDERS_TABLE_NAME"]: batch})
    simulator.bulk_load(wms_rows)
    print(f"loaded {args.orders} orders in the hub and the WMS in {time.perf_counter() - started:.1f} s")

    calls: Counter[str] = Counter()
    in_aws = [0.0, 0.0]  # total seconds inside DynamoDB calls, start of the current one

    def before(model: Any, **_: Any) -> None:
        calls.update([model.name])
        in_aws[1] = time.perf_counter()

    def after(**_: Any) -> None:
        in_aws[0] += time.perf_counter() - in_aws[1]

    dynamodb_client().meta.events.register("before-call.dynamodb.*", before)
    dynamodb_client().meta.events.register("after-call.dynamodb.*", after)
    wms_requests = Counter[str]()
    http_session().hooks["response"].append(lambda response, **_: wms_requests.update([response.request.method]))

    started = time.perf_counter()
    summary = poll(load_event("status_poller/scheduled"), FakeContext(remaining_ms=290_000))
    elapsed = time.perf_counter() - started
    writes = calls["TransactWriteItems"] + calls["PutItem"]
    changed_count = sum(1 for row in wms_rows if row["status"] == "PICKING")
    print(f"poll reconcile, {args.orders} WMS orders, {changed_count} changed ({args.changed:g}%):")
    print(f"  wall time            {elapsed:.2f} s   (one status_poller run, moto in-process, simulator on loopback)")
    print(f"  of which in moto     {in_aws[0]:.2f} s   (moto's TransactWriteItems slows as its table grows)")
    print(f"  hub + WMS HTTP       {elapsed - in_aws[0]:.2f} s")
    print(f"  orders written       {summary['written']}   (target: = changed orders, {changed_count})")
    transactions, puts = calls["TransactWriteItems"], calls["PutItem"]
    print(f"  DynamoDB write calls {writes}   ({transactions} TransactWriteItems: order + event, {puts} PutItem: cursor)")
    print(f"  DynamoDB read calls  {calls['BatchGetItem']} BatchGetItem, {calls['GetItem']} GetItem, {calls['Query']} Query")
    print(f"  WMS requests         {sum(wms_requests.values())}   ({summary['pages']} list pages of 100)")
    assert summary["written"] == changed_count, summary

    again = [
        {**row, "status": "PICKING", "updated_at": datetime.now(UTC)}
        for n, row in enumerate(wms_rows)
        if every and n % every == 1 and row["status"] == "OPEN"
    ]
    for row in again:
        simulator.touch("WH-TGR04", row["order_no"], "PICKING", updated_at=row["updated_at"])
    calls.clear()
    wms_requests.clear()
    started = time.perf_counter()
    second = poll(load_event("status_poller/scheduled"), FakeContext(remaining_ms=290_000))
    elapsed = time.perf_counter() - started
    print(f"the next run, {len(again)} more changed:")
    print(f"  wall time            {elapsed:.2f} s")
    print(f"  orders written       {second['written']}   (target: {len(again)})")
    print(f"  WMS requests         {sum(wms_requests.values())}   ({second['pages']} list pages read,")
    print(f"                       {second['pages_skipped']} pages of the reconciled head skipped: the list is sorted)")
    reads = calls["BatchGetItem"]
    print(f"  DynamoDB read calls  {reads} BatchGetItem ({second['seen']} orders read), {calls['GetItem']} GetItem")
    assert second["written"] == len(again), second
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
