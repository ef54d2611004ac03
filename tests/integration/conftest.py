"""Handler integration tests: real handlers, real events, DynamoDB tables built from template.yaml, under moto."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from order_hub import wiring
from order_hub.adapters.aws import dynamodb_client
from order_hub.services import tenants

from local_stack.template import create_tables, load_template

EVENTS = Path(__file__).resolve().parents[2] / "events"


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


class FakeContext:
    function_name = "OrdersApiFunction"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:OrdersApiFunction"
    memory_limit_in_mb = 512
    aws_request_id = "00000000-0000-0000-0000-000000000001"
    log_group_name = "/aws/lambda/OrdersApiFunction"
    log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


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
        names = create_tables(boto3.client("dynamodb", region_name="us-east-1"), load_template(), name_prefix="it")
        monkeypatch.setenv("ORDERS_TABLE_NAME", names["OrdersTable"])
        monkeypatch.setenv("TENANTS_TABLE_NAME", names["TenantsTable"])
        monkeypatch.setenv("AUTH_CACHE_TTL_SECONDS", "60")
        monkeypatch.setenv("HUB_ENV", "dev")
        wiring.reset()
        directory = wiring.tenant_directory()
        keys = {}
        for tenant_id, warehouses in (("acme", ["WH-TGR04", "WH-CGK09"]), ("rival", ["WH-TGR04"])):
            tenants.create_tenant(directory, tenant_id, tenant_id.title(), warehouses)
            keys[tenant_id] = tenants.issue_api_key(directory, tenant_id).api_key
        state = Hub(tables=names, api_keys=keys)
        dynamodb_client().meta.events.register(
            "before-call.dynamodb.*", lambda model, **_: state.calls.append(model.name)
        )
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
    ) -> Reply:
        event = copy.deepcopy(load_event(f"orders_api/{event_name}"))
        key = api_key if api_key is not None else (hub.api_keys[tenant] if tenant else None)
        event["headers"] = {k: v for k, v in event["headers"].items() if k != "x-api-key"}
        if key is not None:
            event["headers"]["x-api-key"] = key
        event["headers"].update(headers or {})
        event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
        if body is not ...:
            event["body"] = body if isinstance(body, str) or body is None else json.dumps(body)
        if path_parameters:
            event["pathParameters"] = path_parameters
            path = event["resource"]
            for name, value in path_parameters.items():
                path = path.replace("{" + name + "}", value)
            event["path"] = path
        if query is not None:
            event["queryStringParameters"] = query or None
            event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
        raw = lambda_handler(event, FakeContext())  # type: ignore[arg-type]
        headers_out = {k.lower(): v for k, v in (raw.get("headers") or {}).items()}
        for name, values in (raw.get("multiValueHeaders") or {}).items():
            headers_out[name.lower()] = values[-1]
        return Reply(status=raw["statusCode"], body=json.loads(raw["body"]), headers=headers_out)

    return call
