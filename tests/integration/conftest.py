"""Handler integration tests: real handlers, real events, DynamoDB tables built from template.yaml, under moto."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_stack.harness import FakeContext, api_event, build_tables, seed_tenant
from order_hub import wiring
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
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        monkeypatch.setenv("AUTH_CACHE_TTL_SECONDS", "60")
        monkeypatch.setenv("HUB_ENV", "dev")
        names = build_tables()
        for name in ("ORDERS_TABLE_NAME", "TENANTS_TABLE_NAME"):
            monkeypatch.setenv(name, names["OrdersTable" if name.startswith("ORDERS") else "TenantsTable"])
        keys = {"acme": seed_tenant("acme", ["WH-TGR04", "WH-CGK09"]), "rival": seed_tenant("rival", ["WH-TGR04"])}
        state = Hub(tables=names, api_keys=keys)
        dynamodb_client().meta.events.register("before-call.dynamodb.*", lambda model, **_: state.calls.append(model.name))
        yield state
        wiring.reset()


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
