"""Callback delivery throughput and cost, in-process against moto with the demo receiver on loopback.

Batches of 10 deliveries (10 orders, one standard endpoint whose receiver answers after 200 ms)
go through the real delivery worker handler; the dispatcher handler fans events out from stream
records. Prints the batch wall time (target: about one request, not ten), deliveries per second,
and AWS calls and SQS messages per delivered callback.

    python -m benchmarks.deliveries [--batches 5] [--latency-ms 200] [--endpoints 4]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import time
from collections import Counter
from typing import Any

from benchmarks.common import use_in_process_aws

BATCH = 10


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--endpoints", type=int, default=4, help="standard endpoints per tenant for the fan-out figure")
    args = parser.parse_args(argv)
    use_in_process_aws()
    os.environ["HUB_ENV"] = "local"  # the receiver is on 127.0.0.1
    from moto import mock_aws

    with mock_aws():
        return _run(args.batches, args.latency_ms, args.endpoints)


class CallCounter:
    """Counts every AWS API call (all clients, including Powertools' own)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        import botocore.client

        original = getattr(botocore.client.BaseClient, "_make_api_call")  # noqa: B009 - private hook, untyped
        counter = self

        def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
            counter.calls[f"{client.meta.service_model.service_name}.{operation}"] += 1
            return original(client, operation, params)

        setattr(botocore.client.BaseClient, "_make_api_call", counted)  # noqa: B010

    def take(self) -> Counter[str]:
        taken = self.calls.copy()
        self.calls.clear()
        return taken


def _stream_record(event_item: dict[str, Any]) -> dict[str, Any]:
    from local_stack.harness import load_event

    record: dict[str, Any] = copy.deepcopy(load_event("dispatcher/order_created")["Records"][0])
    record["dynamodb"]["NewImage"] = event_item
    record["dynamodb"]["Keys"] = {"pk": event_item["pk"], "sk": event_item["sk"]}
    return record


def _sqs_records(bodies: list[str]) -> dict[str, Any]:
    from local_stack.harness import load_event

    template = load_event("delivery_worker/deliver")["Records"][0]
    records = []
    for n, body in enumerate(bodies):
        record = copy.deepcopy(template)
        record.update(messageId=f"m-{n}", receiptHandle=f"r-{n}", body=body)
        records.append(record)
    return {"Records": records}


def _run(batches: int, latency_ms: int, endpoint_count: int) -> int:
    import boto3

    from functions.delivery_worker.app import lambda_handler as worker
    from functions.dispatcher.app import lambda_handler as dispatcher
    from functions.orders_api.app import lambda_handler as orders_api
    from local_stack.demo_receiver import DemoReceiver
    from local_stack.harness import FakeContext, api_event, build_tables, put_secret, seed_tenant
    from order_hub import wiring
    from order_hub.services.endpoints import register_endpoint, registration

    names = build_tables()
    key = seed_tenant("demo", ["WH-TGR04"])
    receiver = DemoReceiver(port=0)
    receiver.start()
    try:
        receiver.configure("standard", delay_ms=latency_ms)
        for n in range(endpoint_count):
            register_endpoint(
                registration(
                    endpoint_id=f"erp-{n}", url=receiver.endpoint_urls()["standard"], format="standard", events=["order.created"]
                ),
                "demo",
                wiring.endpoint_ports(write_secret=put_secret),
            )
        body = json.loads(api_event("orders_api/create_order", key)["body"])
        total = batches * BATCH
        for n in range(total):
            response = orders_api(api_event("orders_api/create_order", key, body={**body, "so_number": f"D-{n}"}), FakeContext())
            assert response["statusCode"] == 200, response
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        items = [
            dynamodb.get_item(
                TableName=names["OrdersTable"], Key={"pk": {"S": f"ORDER#demo#WH-TGR04#D-{n}"}, "sk": {"S": "EVENT#000000000001"}}
            )["Item"]
            for n in range(total)
        ]
        counter = CallCounter()
        dispatcher({"Records": [_stream_record(items[0])]}, FakeContext())  # warm (endpoint cache)
        counter.take()
        dispatcher({"Records": [_stream_record(item) for item in items[1:]]}, FakeContext())
        dispatch_calls = counter.take()
        sqs = boto3.client("sqs", region_name="us-east-1")
        bodies: list[str] = []
        while True:
            got = sqs.receive_message(QueueUrl=names["DeliveryQueue"], MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                break
            bodies.extend(m["Body"] for m in got)
        # one endpoint for the latency figure: 10 orders per batch to erp-0
        mine = [b for b in bodies if json.loads(b)["endpoint_id"] == "erp-0"][: (batches - 1) * BATCH]
        worker(_sqs_records(mine[:BATCH]), FakeContext(remaining_ms=120_000))  # warm: secret, session, token
        counter.take()
        walls = []
        for start in range(BATCH, len(mine), BATCH):
            started = time.perf_counter()
            result = worker(_sqs_records(mine[start : start + BATCH]), FakeContext(remaining_ms=120_000))
            walls.append(time.perf_counter() - started)
            assert result["batchItemFailures"] == [], result
        worker_calls = counter.take()
        delivered = len(walls) * BATCH
        accepted = receiver.stats()["formats"]["standard"]["accepted"]
    finally:
        receiver.stop()

    per = ", ".join(f"{name} {value / delivered:g}" for name, value in sorted(worker_calls.items()))
    events = len(items) - 1
    fan = ", ".join(f"{name} {value / events:g}" for name, value in sorted(dispatch_calls.items()))
    wall = statistics.median(walls)
    print(f"Callback delivery, in-process against moto; receiver on 127.0.0.1 answering after {latency_ms} ms:")
    print(
        f"  batch of {BATCH} to one endpoint   wall p50 {wall * 1000:.0f} ms, max {max(walls) * 1000:.0f} ms "
        f"= {wall * 1000 / max(latency_ms, 1):.2f}x one request, vs {BATCH * latency_ms} ms one by one ({len(walls)} batches)"
    )
    print(f"  throughput                 {delivered / sum(walls):.1f} deliveries/s per worker invocation stream")
    print(f"  receiver accepted          {accepted} (warm-up included), duplicates 0 expected")
    print(f"  worker AWS calls/delivery  {sum(worker_calls.values()) / delivered:g}  ({per})")
    print(f"  dispatch AWS calls/event   {sum(dispatch_calls.values()) / events:g} for {endpoint_count} endpoints ({fan})")
    print("  SQS messages per callback  1 (SendMessageBatch carries up to 10: one call per event for <= 10 endpoints)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
