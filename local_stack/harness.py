"""In-process harness: run handlers against moto with tables built from template.yaml.

Shared by the integration tests and the benchmarks. Call the functions below inside an active
``moto.mock_aws()`` (and with ``AWS_ENDPOINT_URL`` unset, or moto does not intercept).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from local_stack.template import create_queues, create_tables, load_template

EVENTS = Path(__file__).resolve().parent.parent / "events"
REGION = "us-east-1"


class FakeContext:
    """The attributes of a Lambda context object that Powertools and our handlers read."""

    function_name = "OrdersApiFunction"
    function_version = "$LATEST"
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:OrdersApiFunction"
    memory_limit_in_mb = 512
    aws_request_id = "00000000-0000-0000-0000-000000000001"
    log_group_name = "/aws/lambda/OrdersApiFunction"
    log_stream_name = "local"

    def __init__(self, remaining_ms: int = 10_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


HUB_SETTINGS = {
    "ORDERS_TABLE_NAME": "OrdersTable",
    "TENANTS_TABLE_NAME": "TenantsTable",
    "DELIVERIES_TABLE_NAME": "DeliveriesTable",
    "WMS_FORWARD_QUEUE_URL": "WmsForwardQueue",
    "DELIVERY_QUEUE_URL": "DeliveryQueue",
    "DELIVERY_DLQ_URL": "DeliveryDLQ",
}
"""The hub's settings variables that name a table or queue, and the template resource each names."""


def create_resources(name_prefix: str = "it") -> tuple[dict[str, str], dict[str, str]]:
    """Create every table and queue of template.yaml in moto; touches no environment.

    Returns (logical id -> table name or queue URL, the hub's settings variables pointing at them).
    """
    import boto3

    template = load_template()
    names = create_tables(boto3.client("dynamodb", region_name=REGION), template, name_prefix=name_prefix)
    queues = create_queues(boto3.client("sqs", region_name=REGION), template, name_prefix=name_prefix, region=REGION)
    resources = {**names, **{logical_id: queue.url for logical_id, queue in queues.items()}}
    return resources, {variable: resources[logical_id] for variable, logical_id in HUB_SETTINGS.items()}


def build_tables(environ: MutableMapping[str, str] | None = None, name_prefix: str = "it") -> dict[str, str]:
    """``create_resources``, then write the settings variables into ``environ`` (default ``os.environ``).

    For scripts (the benchmarks) that own their process; tests use ``testkit.moto_hub``, which sets
    the variables for one test only. Returns logical id -> table name (tables) or queue URL (queues).
    """
    from order_hub import wiring

    resources, variables = create_resources(name_prefix)
    (os.environ if environ is None else environ).update(variables)
    wiring.reset()
    return resources


def seed_tenant(tenant_id: str, warehouse_ids: list[str]) -> str:
    """Create a tenant and return a fresh API key for it."""
    from order_hub import wiring
    from order_hub.services import tenants

    directory = wiring.tenant_directory()
    tenants.create_tenant(directory, tenant_id, tenant_id.title(), warehouse_ids)
    return tenants.issue_api_key(directory, tenant_id).api_key


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


def api_event(
    name: str,
    api_key: str | None,
    body: Any = ...,
    path_parameters: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A copy of ``events/<name>.json`` with the key, body, path parameters or query replaced."""
    event = copy.deepcopy(load_event(name))
    merged = {k: v for k, v in event["headers"].items() if k.lower() != "x-api-key"}
    if api_key is not None:
        merged["x-api-key"] = api_key
    merged.update(headers or {})
    event["headers"] = merged
    event["multiValueHeaders"] = {k: [v] for k, v in merged.items()}
    if body is not ...:
        event["body"] = body if isinstance(body, str) or body is None else json.dumps(body)
    if path_parameters:
        event["pathParameters"] = path_parameters
        path = event["resource"]
        for key, value in path_parameters.items():
            path = path.replace("{" + key + "}", value)
        event["path"] = path
    if query is not None:
        event["queryStringParameters"] = query or None
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
    return event


def put_secret(name: str, value: dict[str, Any]) -> None:
    """Create or replace a JSON secret (moto or the local stack's Secrets Manager)."""
    import boto3

    from order_hub.adapters.secrets import store_secret

    store_secret(boto3.client("secretsmanager", region_name=REGION), name, value)


def signed_webhook_event(name: str, hmac_secret: str, body: Any = ..., at: int | None = None) -> dict[str, Any]:
    """``events/<name>.json`` with its body (or ``body``: an object, or raw text) signed now with ``hmac_secret``."""
    import hashlib
    import hmac
    import time

    event = copy.deepcopy(load_event(name))
    raw = event["body"] if body is ... else body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
    timestamp = str(int(time.time()) if at is None else at)
    digest = hmac.new(hmac_secret.encode(), timestamp.encode() + b"." + raw.encode(), hashlib.sha256).hexdigest()
    event["body"] = raw
    event["headers"] = {**event["headers"], "x-hub-timestamp": timestamp, "x-hub-signature": f"v1={digest}"}
    event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    return event
