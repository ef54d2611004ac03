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


# -- IAM: every AWS call a function's handler makes is checked against that function's policy ------

from collections.abc import Iterator

import pytest

from local_stack.iam import IamGuard
from local_stack.template import load_template


@pytest.fixture(scope="session")
def iam_guard() -> Iterator[IamGuard]:
    """Installed for the whole session: moto allows every call, AWS only what template.yaml grants."""
    guard = IamGuard(load_template()).install()
    yield guard
    guard.uninstall()


@pytest.fixture(autouse=True)
def _iam_enforced(iam_guard: IamGuard) -> Iterator[None]:
    """A call a function's policy does not allow raises AccessDeniedException as on AWS, and fails the
    test even when the code swallowed the error (a retry loop would hide it)."""
    before = len(iam_guard.denials)
    yield
    denied = iam_guard.denials[before:]
    if denied:
        pytest.fail("IAM: " + "; ".join(sorted({str(d) for d in denied})), pytrace=False)
