"""What every in-process benchmark shares: a fake AWS environment and percentile figures."""

from __future__ import annotations

import os
import statistics


def use_in_process_aws() -> None:
    """Fake credentials, no endpoint (so moto's in-process mock intercepts), quiet logs."""
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.update(AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x")
    os.environ.update(AUTH_CACHE_TTL_SECONDS="60", POWERTOOLS_METRICS_NAMESPACE="Bench", POWERTOOLS_LOG_LEVEL="WARNING")


def figures(values: list[float]) -> str:
    """``p50 ... ms   p99 ... ms`` of durations in seconds."""
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:7.2f} ms   p99 {p99 * 1000:7.2f} ms"
