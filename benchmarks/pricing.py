"""Domestic pricing, warm, in-process against moto: the built-in rate card, then cache hits.

Prints p50/p99 of distinct requests (cache misses priced with the rate card) and of repeated
requests (cache hits), and AWS calls per request beyond auth (auth is cached after the first call).

    python -m benchmarks.pricing [--requests 500]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import time
from collections import Counter
from typing import Any

from benchmarks.common import figures, use_in_process_aws


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args(argv)
    use_in_process_aws()
    from moto import mock_aws

    with mock_aws():
        return _run(args.requests)


def _run(count: int) -> int:
    import boto3

    from functions.orders_api.app import lambda_handler
    from local_stack.harness import FakeContext, api_event, build_tables, seed_tenant

    build_tables()
    key = seed_tenant("demo", ["WH-TGR04"])
    body = json.loads(api_event("orders_api/pricing_domestic", key)["body"])

    calls: Counter[str] = Counter()

    def before(event_name: str, **_: Any) -> None:
        calls.update([event_name.split(".")[-2] + "." + event_name.split(".")[-1]])

    boto3.DEFAULT_SESSION = None
    from order_hub.adapters.aws import dynamodb_client

    dynamodb_client().meta.events.register("before-call.*.*", before)

    quiet = io.StringIO()

    def price(order_price: int) -> tuple[float, dict[str, Any]]:
        event = api_event("orders_api/pricing_domestic", key, body={**body, "order_price": order_price})
        with contextlib.redirect_stdout(quiet):  # the EMF metric lines
            started = time.perf_counter()
            response = lambda_handler(event, FakeContext())
            elapsed = time.perf_counter() - started
        quiet.seek(0)
        quiet.truncate()
        assert response["statusCode"] == 200, response
        return elapsed, response

    price(1)  # warm: auth, provider choice (the RATECARD read and the logistics secret lookup), imports
    first = dict(calls)
    calls.clear()
    misses = [price(100_000 + n)[0] for n in range(count)]
    miss_calls = sum(calls.values())
    calls.clear()
    hits = []
    for n in range(count):
        elapsed, response = price(100_000 + n % 50)
        assert (response.get("multiValueHeaders") or {}).get("x-cache", [response["headers"].get("x-cache")])[-1] == "hit"
        hits.append(elapsed)
    hit_calls = sum(calls.values())
    print(f"Domestic pricing, warm, in-process against moto, {count} requests each:")
    print(f"  rate card (cache miss)   {figures(misses)}   AWS calls per request {miss_calls / count:g}")
    print(f"  cache hit                {figures(hits)}   AWS calls per request {hit_calls / count:g}")
    print(f"  first request of a container (DynamoDB): {first}, plus one Secrets Manager read (hub/<tenant>/logistics)")
    print("  (auth and the tenant's provider choice are cached per container: 60 s and 300 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
