"""Warm in-process latency of the create handler against in-process moto (p50/p99).

python -m benchmarks.create_latency [--orders 500]
"""

from __future__ import annotations

import argparse
import json
import time

from benchmarks.common import figures, use_in_process_aws


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=500)
    args = parser.parse_args(argv)
    use_in_process_aws()
    from moto import mock_aws

    with mock_aws():
        from functions.orders_api.app import lambda_handler
        from local_stack.harness import FakeContext, api_event, build_tables, seed_tenant
        from order_hub.adapters.aws import dynamodb_client

        build_tables()
        in_aws = [0.0]
        call_started = [0.0]

        def before(**_: object) -> None:
            call_started[0] = time.perf_counter()

        def after(**_: object) -> None:
            in_aws[0] += time.perf_counter() - call_started[0]

        dynamodb_client().meta.events.register("before-call.dynamodb.*", before)
        dynamodb_client().meta.events.register("after-call.dynamodb.*", after)
        key = seed_tenant("bench", ["WH-TGR04"])
        template = api_event("orders_api/create_order", key)
        body = json.loads(template["body"])
        lambda_handler(api_event("orders_api/create_order", key, body={**body, "so_number": "WARMUP"}), FakeContext())
        timings: list[float] = []
        own: list[float] = []
        for n in range(args.orders):
            event = api_event("orders_api/create_order", key, body={**body, "so_number": f"BENCH-{n}"})
            in_aws[0] = 0.0
            started = time.perf_counter()
            response = lambda_handler(event, FakeContext())
            elapsed = time.perf_counter() - started
            timings.append(elapsed)
            own.append(elapsed - in_aws[0])
            assert response["statusCode"] == 200, response
    print(f"create, warm, in-process handler against in-process moto, {args.orders} orders:")
    print(f"  total (handler + moto)       {figures(timings)}")
    print(f"  hub only (outside DynamoDB)  {figures(own)}")
    print("  moto's TransactWriteItems slows down as its table grows; DynamoDB's own latency is not modelled")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
