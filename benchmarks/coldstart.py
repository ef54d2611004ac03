"""Cold start of every function in template.yaml, measured as fresh processes.

For each function: the time to import its handler module in a new interpreter, as a ratio to a
new interpreter that only does ``import boto3`` (same machine, same run, interleaved), plus the
first invocation of every function (on a committed event from events/, against in-process moto)
and the next, warm one.

    python -m benchmarks.coldstart [--runs 9]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import textwrap

from local_stack.template import function_specs, load_template, local_table_names

IMPORT_PROBE = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"

FIRST_CALL_PROBE = textwrap.dedent(
    """
    import json, os, time
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.update(AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x",
                      AWS_MAX_ATTEMPTS="1", AUTH_CACHE_TTL_SECONDS="60", POWERTOOLS_METRICS_NAMESPACE="Bench",
                      POWERTOOLS_LOG_LEVEL="WARNING", HUB_ENV="local")
    from moto import mock_aws
    with mock_aws():
        from local_stack.harness import (FakeContext, api_event, build_tables, load_event, put_secret, seed_tenant,
                                         signed_webhook_event)
        build_tables()
        key = seed_tenant("demo", ["WH-TGR04"])
        put_secret("hub/demo/wms-webhook", {{"hmac_secret": "bench"}})
        events = {{
            "orders_api": lambda: api_event("orders_api/create_order", key),
            "admin_api": lambda: api_event("admin_api/list_endpoints", key),
            "webhook_ingest": lambda: signed_webhook_event("webhook_ingest/pgi", "bench"),
            "dispatcher": lambda: load_event("dispatcher/order_created"),
            "wms_forwarder": lambda: load_event("wms_forwarder/forward_order"),
            "delivery_worker": lambda: load_event("delivery_worker/deliver"),
            "status_poller": lambda: load_event("status_poller/scheduled"),
        }}
        from order_hub import wiring
        wiring.reset()  # the function starts with nothing cached: no clients, no settings
        event = events["{name}"]()
        t = time.perf_counter()
        import functions.{name}.app as app
        imported = time.perf_counter() - t
        t = time.perf_counter()
        first = app.lambda_handler(event, FakeContext(remaining_ms=60_000))
        first_call = time.perf_counter() - t
        t = time.perf_counter()
        app.lambda_handler(events["{name}"](), FakeContext(remaining_ms=60_000))
        warm_call = time.perf_counter() - t
        status = first.get("statusCode", 200) if isinstance(first, dict) else 200
        assert status < 500, first
        print(json.dumps({{"import": imported, "first_call": first_call, "warm_call": warm_call}}))
    """
)


def _time_import(module: str) -> float:
    out = subprocess.run([sys.executable, "-c", IMPORT_PROBE.format(module=module)], check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args(argv)
    template = load_template()
    specs = function_specs(template, local_table_names(template), {}, resolve_environment=False)
    baseline: list[float] = []
    samples: dict[str, list[float]] = {spec.module: [] for spec in specs}
    for _ in range(args.runs):  # interleaved so machine noise hits both sides alike
        baseline.append(_time_import("boto3"))
        for module in samples:
            samples[module].append(_time_import(module))
    base = statistics.median(baseline)
    print(f"cold import, fresh process, median of {args.runs} (min):")
    print(f"  {'import boto3 (baseline)':40s} {base * 1000:7.1f} ms ({min(baseline) * 1000:.1f})   1.00x")
    for module, values in samples.items():
        median = statistics.median(values)
        print(f"  {module:40s} {median * 1000:7.1f} ms ({min(values) * 1000:.1f})   {median / base:.2f}x")
    print("first and next invocation in a fresh process (moto in-process; the harness set-up imports part of order_hub first):")
    for module in samples:
        name = module.split(".")[1]
        out = subprocess.run(
            [sys.executable, "-c", FIRST_CALL_PROBE.format(name=name)], check=True, capture_output=True, text=True
        )
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        imported, first, warm = (figures[k] * 1000 for k in ("import", "first_call", "warm_call"))
        print(f"  {name:16s} import (after set-up) {imported:6.1f} ms, first call {first:6.1f} ms, next {warm:6.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
