"""What the webhook ingest tests share: a hub under moto holding one order, the handler, the order's rows."""

from __future__ import annotations

import json
from typing import Any

import boto3

from local_stack.harness import FakeContext, api_event
from local_stack.testkit import MotoHubFactory
from tests.outbox import event_types

ORDER_PK = "ORDER#demo#WH-TGR04#SO-2026-0001"


def hub_with_one_order(start: MotoHubFactory, secrets: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Tenant ``demo`` with ``secrets`` stored and order SO-2026-0001 created through the order API."""
    hub = start(tenants={"demo": ["WH-TGR04"]}, secrets=secrets)
    from functions.orders_api.app import lambda_handler as orders_api

    key = hub.api_keys["demo"]
    assert orders_api(api_event("orders_api/create_order", key), FakeContext())["statusCode"] == 200
    return {"tables": hub.resources, "key": key}


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


def rows_and_events(hub: dict[str, Any], pk: str = ORDER_PK) -> tuple[set[str], list[str]]:
    """The sort keys of an order's rows and the types of its events (from the stream: the outbox)."""
    return set(order_rows(hub, pk)), event_types(hub["tables"]["OrdersTable"], pk)
