"""Test-wide safety: fake AWS credentials, no retries, never a real endpoint."""

from __future__ import annotations

import os

# Before anything creates a boto3 client: fake credentials, one attempt, a fixed region.
os.environ.update(
    AWS_DEFAULT_REGION="us-east-1",
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_MAX_ATTEMPTS="1",
    POWERTOOLS_METRICS_NAMESPACE="OutboundOrderHubTest",
    POWERTOOLS_SERVICE_NAME="outbound-order-hub",
)
os.environ.pop("AWS_ENDPOINT_URL", None)  # mock_aws does not intercept when an endpoint is set
os.environ.pop("AWS_PROFILE", None)
