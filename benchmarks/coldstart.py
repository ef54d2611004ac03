"""Cold start of every function in template.yaml, measured as fresh processes.

For each function: the time to import its handler module in a new interpreter, as a ratio to a
new interpreter that only does ``import boto3`` (same machine, same run, interleaved), plus the
first invocation (create order against in-process moto) and the next, warm one.

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
                      AWS_MAX_ATTEMPTS="1", AUTH_CACHE_TTL_SECONDS="60", POWERTOOLS_METRICS_NAMESPACE="Bench")
    from moto import mock_aws
    with mock_aws():
        from local_stack.harness import FakeContext, api_event, build_tables, seed_tenant
        build_tables()
        key = seed_tenant("bench", ["WH-TGR04"])
        from order_hub import wiring
        wiring.reset()  # the function starts with nothing cached: no clients, no settings
        t = time.perf_counter()
        import functions.orders_api.app as app
        imported = time.perf_counter() - t
        t = time.perf_counter()
        first = app.lambda_handler(api_event("orders_api/create_order", key), FakeContext())
        first_call = time.perf_counter() - t
        t = time.perf_counter()
        body = dict(json.loads(api_event("orders_api/create_order", key)["body"]), so_number="SO-2")
        app.lambda_handler(api_event("orders_api/create_order", key, body=body), FakeContext())
        warm_call = time.perf_counter() - t
        assert first["statusCode"] == 200, first
        print(json.dumps({"import": imported, "first_call": first_call, "warm_call": warm_call}))
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
    out = subprocess.run([sys.executable, "-c", FIRST_CALL_PROBE], check=True, capture_output=True, text=True)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    print("orders_api in one fresh process (moto in-process):")
    print(
        f"  import {figures['import'] * 1000:.1f} ms, first create {figures['first_call'] * 1000:.1f} ms "
        f"(creates the boto3 client), next create {figures['warm_call'] * 1000:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
