"""What the webhook ingest tests share: a hub under moto holding one order, the handler, the order's rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_stack.harness import FakeContext, api_event, build_tables, put_secret, seed_tenant
from order_hub import wiring

ORDER_PK = "ORDER#demo#WH-TGR04#SO-2026-0001"


@contextmanager
def hub_with_one_order(monkeypatch: pytest.MonkeyPatch, secrets: dict[str, dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Tenant ``demo`` with ``secrets`` stored and order SO-2026-0001 created through the order API."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        names = build_tables()
        for name, logical in (("ORDERS_TABLE_NAME", "OrdersTable"), ("TENANTS_TABLE_NAME", "TenantsTable")):
            monkeypatch.setenv(name, names[logical])
        key = seed_tenant("demo", ["WH-TGR04"])
        for secret_name, value in secrets.items():
            put_secret(secret_name, value)
        from functions.orders_api.app import lambda_handler as orders_api

        assert orders_api(api_event("orders_api/create_order", key), FakeContext())["statusCode"] == 200
        yield {"tables": names, "key": key}
        wiring.reset()


def call_ingest(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The webhook ingest handler's status and JSON body for ``event``."""
    from functions.webhook_ingest.app import lambda_handler

    response = lambda_handler(event, FakeContext())
    return response["statusCode"], json.loads(response["body"])


def order_rows(hub: dict[str, Any], pk: str = ORDER_PK) -> dict[str, dict[str, Any]]:
    """Every row of one order's partition (order, events, inbox), by sort key."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    rows = client.query(
        TableName=hub["tables"]["OrdersTable"], KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": pk}}
    )
    return {row["sk"]["S"]: row for row in rows["Items"]}
