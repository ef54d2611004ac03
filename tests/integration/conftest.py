"""Handler integration tests: real handlers, real events, DynamoDB tables built from template.yaml, under moto."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3
import pytest

from local_stack.harness import FakeContext, api_event
from local_stack.testkit import MotoHubFactory
from order_hub.adapters.aws import dynamodb_client


@dataclass
class Hub:
    tables: dict[str, str]
    api_keys: dict[str, str]
    calls: list[str] = field(default_factory=list)

    @property
    def dynamodb(self) -> Any:
        return boto3.client("dynamodb", region_name="us-east-1")

    def raw_items(self, pk: str) -> list[dict[str, Any]]:
        response = self.dynamodb.query(
            TableName=self.tables["OrdersTable"],
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}},
        )
        items: list[dict[str, Any]] = response["Items"]
        return items


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def codes(self) -> list[int]:
        return [error["code"] for error in self.body["metadata"].get("errors", [])]

    @property
    def fields(self) -> list[str]:
        return [error.get("field", "") for error in self.body["metadata"].get("errors", [])]


@pytest.fixture
def hub(moto_hub_factory: MotoHubFactory) -> Hub:
    """Tenants acme (WH-TGR04, WH-CGK09) and rival (WH-TGR04) under moto; ``calls`` records DynamoDB operations."""
    started = moto_hub_factory(
        tenants={"acme": ["WH-TGR04", "WH-CGK09"], "rival": ["WH-TGR04"]},
        settings={"AUTH_CACHE_TTL_SECONDS": "60", "HUB_ENV": "dev"},
    )
    state = Hub(tables=started.resources, api_keys=started.api_keys)
    dynamodb_client().meta.events.register("before-call.dynamodb.*", lambda model, **_: state.calls.append(model.name))
    return state


Invoke = Callable[..., Reply]


@pytest.fixture
def invoke(hub: Hub) -> Invoke:
    from functions.orders_api.app import lambda_handler

    def call(
        event_name: str,
        body: Any = ...,
        tenant: str | None = "acme",
        api_key: str | None = None,
        path_parameters: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        base64_body: bytes | None = None,
    ) -> Reply:
        key = api_key if api_key is not None else (hub.api_keys[tenant] if tenant else None)
        event = api_event(f"orders_api/{event_name}", key, body, path_parameters, query, headers)
        if base64_body is not None:
            event["body"] = base64.b64encode(base64_body).decode()
            event["isBase64Encoded"] = True
        raw = lambda_handler(event, FakeContext())
        headers_out = {k.lower(): v for k, v in (raw.get("headers") or {}).items()}
        for name, values in (raw.get("multiValueHeaders") or {}).items():
            headers_out[name.lower()] = values[-1]
        return Reply(status=raw["statusCode"], body=json.loads(raw["body"]), headers=headers_out)

    return call


PUBLIC_ADDRESS = "93.184.216.34"
"""What ``*.example.com`` resolves to under ``example_dns`` (a public address; nothing is ever connected)."""


@pytest.fixture
def example_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """``*.example.com`` resolves to a public address without DNS; nothing else resolves (nothing is ever connected)."""
    from order_hub.adapters import net_guard

    def resolve(host: str, port: int) -> list[str]:
        if host.endswith(".example.com"):
            return [PUBLIC_ADDRESS]
        raise OSError(f"{host} does not resolve in tests")

    monkeypatch.setattr(net_guard, "resolve", resolve)


def seed_delivery(
    status: str,
    n: int,
    at: datetime,
    claimed_at: datetime | None = None,
    tenant: str = "acme",
    endpoint: str = "erp",
    status_code: int = 500,
    response: str = "",
) -> str:
    """One delivery of ``order.created`` (event ``ev-<n>``, order ``SO-<n>``) written through the delivery
    log as the worker writes it: claimed at ``claimed_at`` (default ``at``), then finished with one
    attempt ending in ``status`` (``retrying``, ``failed`` or ``delivered``). Returns its id."""
    from order_hub import wiring
    from order_hub.models.endpoints import Attempt, Delivery

    claimed_at = claimed_at or at
    log = wiring.delivery_log()
    delivery = Delivery(
        delivery_id=f"ev-{n}.{endpoint}",
        tenant_id=tenant,
        endpoint_id=endpoint,
        event_id=f"ev-{n}",
        event_type="order.created",
        warehouse_id="WH-TGR04",
        order_no=f"SO-{n}",
        seq=1,
        created_at=at,
        updated_at=at,
    )
    claim = log.claim(delivery, claimed_at, lease_seconds=60)
    assert claim.delivery is not None
    done = claim.delivery.model_copy(update={"status": status, "updated_at": at})
    outcome = {"retrying": "retry", "failed": "failed", "delivered": "delivered"}[status]
    attempt = Attempt(n=1, at=claimed_at, outcome=outcome, status_code=status_code, reason="boom", response=response)
    log.finish(done, attempt)
    return delivery.delivery_id
