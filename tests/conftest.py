"""Test-wide safety (fake AWS credentials, no retries, never a real endpoint, no environment leaks)
and the one moto-backed hub factory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from local_stack.iam import IamGuard
from local_stack.template import load_template
from local_stack.testkit import MotoHub, MotoHubFactory, moto_hub

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


_PYTEST_OWN = frozenset({"PYTEST_CURRENT_TEST"})


@pytest.fixture(autouse=True)
def _no_environment_leaks() -> Iterator[None]:
    """A test leaves ``os.environ`` as it found it (set variables with ``monkeypatch``)."""
    before = {name: value for name, value in os.environ.items() if name not in _PYTEST_OWN}
    yield
    after = {name: value for name, value in os.environ.items() if name not in _PYTEST_OWN}
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    assert not changed, f"the test leaked environment variables: {changed}"


@pytest.fixture
def moto_hub_factory(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoHubFactory]:
    """Start the hub under moto (``local_stack.testkit.moto_hub`` options); its variables last one test."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with ExitStack() as stack:

        def start(**options: Any) -> MotoHub:
            return stack.enter_context(moto_hub(setenv=monkeypatch.setenv, **options))

        yield start


# -- IAM: every AWS call a function's handler makes is checked against that function's policy ------


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
