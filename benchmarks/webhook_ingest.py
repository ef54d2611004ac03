"""Webhook ingest, warm, in-process against moto: PGI webhooks for distinct orders.

Prints p50/p99 (total, and the hub's share outside AWS calls) and AWS calls per webhook.

    python -m benchmarks.webhook_ingest [--webhooks 300]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from typing import Any

from benchmarks.common import figures, use_in_process_aws


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--webhooks", type=int, default=300)
    args = parser.parse_args(argv)
    use_in_process_aws()
    from moto import mock_aws

    with mock_aws():
        return _run(args.webhooks)


def _run(count: int) -> int:
    import boto3

    from functions.orders_api.app import lambda_handler as orders_api
    from functions.webhook_ingest.app import lambda_handler as webhooks
    from local_stack.harness import FakeContext, api_event, build_tables, put_secret, seed_tenant, signed_webhook_event
    from order_hub.secret_names import webhook_secret_name

    build_tables()
    key = seed_tenant("demo", ["WH-TGR04"])
    put_secret(webhook_secret_name("demo"), {"hmac_secret": "bench-secret"})
    order = json.loads(api_event("orders_api/create_order", key)["body"])
    pgi = json.loads(signed_webhook_event("webhook_ingest/pgi", "bench-secret")["body"])
    for n in range(count + 1):
        assert (
            orders_api(api_event("orders_api/create_order", key, body={**order, "so_number": f"W-{n}"}), FakeContext())[
                "statusCode"
            ]
            == 200
        )

    calls: Counter[str] = Counter()
    in_aws = [0.0, 0.0]

    def before(event_name: str, **_: Any) -> None:
        calls.update([event_name.split(".")[-2] + "." + event_name.split(".")[-1]])
        in_aws[1] = time.perf_counter()

    def after(**_: Any) -> None:
        in_aws[0] += time.perf_counter() - in_aws[1]

    boto3.DEFAULT_SESSION = None
    from order_hub.adapters.aws import dynamodb_client

    dynamodb_client().meta.events.register("before-call.*.*", before)
    dynamodb_client().meta.events.register("after-call.*.*", after)
    webhooks(signed_webhook_event("webhook_ingest/pgi", "bench-secret", body={**pgi, "doc_no": "W-0"}), FakeContext())  # warm
    calls.clear()
    totals, own = [], []
    for n in range(1, count + 1):
        event = signed_webhook_event("webhook_ingest/pgi", "bench-secret", body={**pgi, "doc_no": f"W-{n}"})
        in_aws[0] = 0.0
        started = time.perf_counter()
        response = webhooks(event, FakeContext())
        elapsed = time.perf_counter() - started
        assert response["statusCode"] == 200, response
        totals.append(elapsed)
        own.append(elapsed - in_aws[0])
    per_webhook = ", ".join(f"{name} {value / count:g}" for name, value in sorted(calls.items()))
    print(f"PGI webhook ingest, warm, in-process against moto, {count} webhooks for distinct orders:")
    print(f"  total (handler + moto)       {figures(totals)}")
    print(f"  hub only (outside AWS calls) {figures(own)}")
    print(f"  AWS calls per webhook        {sum(calls.values()) / count:g}  ({per_webhook}; the webhook secret is cached)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
