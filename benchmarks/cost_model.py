"""Cost model: AWS requests and $ per million orders for a full order lifecycle (us-east-1, arm64, list prices).

Runs ``--orders`` lifecycles through the real handlers in-process against moto, with the WMS
simulator and the demo receiver on 127.0.0.1:

    create (API) -> dispatcher (stream) -> WMS forward (SQS) -> order confirmation webhook (API)
    -> status polls (one poll run per order change: OPEN, PICKING, SHIPPED) -> PGI webhook (API)
    -> callbacks to ``--endpoints`` endpoints (standard, increff, ...) for every event of the order
    -> client reads (``--detail-reads`` detail reads per order, one list page of 20 per 20 orders)

Every AWS API call is counted (``botocore.client.BaseClient._make_api_call``); DynamoDB writes and
reads are sized (items before and after, per GSI) into write/read request units. The math lives in
pure functions (``wcu_for``, ``rcu_for``, ``sqs_requests_for``, ``gb_seconds``, ``price_of`` ...).

The API Gateway price follows the API type in template.yaml (HTTP API $1.00, REST API $3.50 per
million requests); the stream and SQS triggers are invoked with the batch sizes their batching
windows in template.yaml give at ``--orders-per-day`` (``realistic_batch``). The table is printed
next to ``BEFORE``, the figures of main on the date it names. ``--record`` stores the run in
``benchmarks/cost_model_latest.json`` and rewrites the README's cost table from it (a unit test
keeps the two equal).

    python -m benchmarks.cost_model [--orders 20] [--endpoints 2] [--orders-per-day 100000] [--record]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import math
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks.common import use_in_process_aws
from order_hub.adapters.dynamodb import item_size
from order_hub.services.request_limits import FLUSH_EVERY

KB = 1024
MILLION = 1_000_000
SQS_CHUNK = 64 * KB
SECONDS_PER_DAY = 86_400
POLL_RUNS_PER_DAY = 1440  # PollSchedule rate(1 minute)
SECRET_MAX_AGE_S = 300  # order_hub.config.SecretsSettings.SECRETS_CACHE_SECONDS (default)
WARM_CONTAINERS = 2  # assumed warm containers per function, each refreshing its secrets every SECRET_MAX_AGE_S
IDLE_POLLERS = 5  # Lambda's SQS pollers per queue when idle, 20 s long polls
SQS_TRIGGERED_QUEUES = 2  # WmsForwardQueue, DeliveryQueue
PLATFORM_LOG_BYTES = 350  # START, END and REPORT lines Lambda writes per invocation
LOGS_INGEST_PER_GB = 0.50  # CloudWatch Logs standard ingestion, $ per GB (shown, not in the total)
WH = "WH-TGR04"
TENANT = "demo"
SERVICES = ("API Gateway", "Lambda", "DynamoDB", "SQS", "Secrets Manager", "EventBridge Scheduler")
LATEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cost_model_latest.json")
README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
README_BEGIN = "<!-- cost-model:begin (python -m benchmarks.cost_model --record writes this table) -->"
README_END = "<!-- cost-model:end -->"

BEFORE: dict[str, Any] = {
    "label": "main d5eb7d2, 2026-12-02",
    "api": "REST API",
    "dollars": {
        "API Gateway": 17.68,
        "Lambda": 5.85,
        "DynamoDB": 59.81,
        "SQS": 7.77,
        "Secrets Manager": 0.12,
        "EventBridge Scheduler": 0.01,
    },
    "units": {
        "API Gateway": "5.05 requests",
        "Lambda": "16.06 invocations",
        "DynamoDB": "90.06 WRU + 28.18 RRU",
        "SQS": "19.43 requests",
        "Secrets Manager": "0.0230 calls",
        "EventBridge Scheduler": "0.0144 invocations",
    },
    "total": 91.24,
    "delivery_worker": "36.00 WRU + 18.00 RRU per order (6 deliveries); a callback failing all 8 attempts 123-367 WRU",
}
"""The default run (20 orders, 2 endpoints, 100,000 orders/day, one record per batch) of main before
the cost work, as reported for main that day ($91.24). DynamoDB, SQS, API Gateway, Secrets Manager
and Scheduler were measured again here on the same commit; Lambda is the rest of the $91.24 (Lambda
ms are measured wall time and grow with the machine's load: 26.89 at load average 8 on 2 cores)."""


# ---------------------------------------------------------------------------------------------
# Prices and the pure math
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prices:
    """us-east-1 list prices, $ per unit (as of 2025)."""

    dynamodb_wru: float = 0.625 / MILLION
    dynamodb_rru: float = 0.125 / MILLION
    sqs_request: float = 0.40 / MILLION
    lambda_request: float = 0.20 / MILLION
    lambda_gb_second: float = 0.0000133334  # arm64
    apigw_request: float = 3.50 / MILLION  # REST API, first 333 M
    secrets_call: float = 0.05 / 10_000
    scheduler_invocation: float = 1.00 / MILLION


PRICES = Prices()

UNITS: dict[str, tuple[str, str]] = {
    "dynamodb_wru": ("DynamoDB", "dynamodb_wru"),
    "dynamodb_rru": ("DynamoDB", "dynamodb_rru"),
    "sqs_requests": ("SQS", "sqs_request"),
    "lambda_requests": ("Lambda", "lambda_request"),
    "lambda_gb_seconds": ("Lambda", "lambda_gb_second"),
    "apigw_requests": ("API Gateway", "apigw_request"),
    "secrets_calls": ("Secrets Manager", "secrets_call"),
    "scheduler_invocations": ("EventBridge Scheduler", "scheduler_invocation"),
}
"""Per-order count name -> (service, price field)."""


API_PRICES = {"HTTP API": 1.00 / MILLION, "REST API": 3.50 / MILLION}
"""$ per request, first 300 M (HTTP API, per 512 KB) / 333 M (REST API) a month, us-east-1."""
_API_EVENT_KINDS = {"HttpApi": "HTTP API", "Api": "REST API"}
_API_RESOURCE_KINDS = {
    "AWS::Serverless::HttpApi": "HTTP API",
    "AWS::ApiGatewayV2::Api": "HTTP API",
    "AWS::Serverless::Api": "REST API",
    "AWS::ApiGateway::RestApi": "REST API",
}


def api_type(template: Mapping[str, Any]) -> str:
    """``HTTP API`` or ``REST API``: what the functions' API events use (else the API resource's type)."""
    kinds: set[str] = set()
    for resource in template["Resources"].values():
        for event in (resource.get("Properties", {}).get("Events") or {}).values():
            if event.get("Type") in _API_EVENT_KINDS:
                kinds.add(_API_EVENT_KINDS[event["Type"]])
    if not kinds:
        kinds = {_API_RESOURCE_KINDS[r["Type"]] for r in template["Resources"].values() if r.get("Type") in _API_RESOURCE_KINDS}
    if len(kinds) != 1:
        raise ValueError(f"cannot tell the API type from template.yaml: {sorted(kinds) or 'no API'}")
    return kinds.pop()


def prices_for(template: Mapping[str, Any], prices: Prices = PRICES) -> Prices:
    """The list prices with the API Gateway price of the template's API type."""
    from dataclasses import replace

    return replace(prices, apigw_request=API_PRICES[api_type(template)])


@dataclass(frozen=True)
class Trigger:
    """A stream or SQS event source of a function, as template.yaml configures it."""

    function: str
    kind: str  # DynamoDB or SQS
    batch_size: int
    window_s: float


def triggers(template: Mapping[str, Any]) -> dict[str, Trigger]:
    """Function logical id -> its stream/SQS trigger (Lambda's defaults: batch 100 stream / 10 SQS, no window)."""
    found: dict[str, Trigger] = {}
    for logical_id, resource in template["Resources"].items():
        for event in (resource.get("Properties", {}).get("Events") or {}).values():
            if event.get("Type") in ("DynamoDB", "SQS"):
                properties = event.get("Properties", {})
                default = 100 if event["Type"] == "DynamoDB" else 10
                found[logical_id] = Trigger(
                    logical_id,
                    event["Type"],
                    int(properties.get("BatchSize", default)),
                    float(properties.get("MaximumBatchingWindowInSeconds", 0)),
                )
    return found


def realistic_batch(records_per_order: float, orders_per_day: int, trigger: Trigger, pollers: int = IDLE_POLLERS) -> int:
    """Records per invocation at the day's average rate. Without a batching window Lambda invokes as
    soon as a record is there (1 at these rates); with one it gathers for up to ``window_s``: a
    stream shard's single poller gets every record of the window, SQS's ``pollers`` share them."""
    if trigger.window_s <= 0:
        return 1
    rate = records_per_order * orders_per_day / SECONDS_PER_DAY
    share = rate * trigger.window_s / (pollers if trigger.kind == "SQS" else 1)
    return max(1, min(trigger.batch_size, math.floor(share)))


def price_of(counts: Mapping[str, float], prices: Prices = PRICES) -> dict[str, float]:
    """$ per million orders, per service and ``total``, from billable units per order (keys of ``UNITS``)."""
    dollars = {service: 0.0 for service, _ in UNITS.values()}
    for name, per_order in counts.items():
        service, price_field = UNITS[name]  # an unknown name is a KeyError, not a silent $0
        dollars[service] += per_order * getattr(prices, price_field) * MILLION
    dollars["total"] = sum(dollars.values())
    return dollars


def wcu_for(item_bytes: int, transactional: bool = False) -> int:
    """Write request units for one item: 1 per KB (rounded up, at least 1), x2 inside a transaction."""
    return max(1, math.ceil(item_bytes / KB)) * (2 if transactional else 1)


def rcu_for(item_bytes: int, consistent: bool = True, transactional: bool = False) -> float:
    """Read request units: 1 per 4 KB strongly consistent (rounded up, at least 1); eventually consistent
    halves, transactional doubles."""
    units = max(1, math.ceil(item_bytes / (4 * KB)))
    if transactional:
        return units * 2.0
    return float(units) if consistent else units / 2


def sqs_requests_for(payload_bytes: int) -> int:
    """Billed SQS requests for one API call: each 64 KB chunk of the payload is one request (at least 1)."""
    return max(1, math.ceil(payload_bytes / SQS_CHUNK))


def billed_ms(duration_ms: float) -> int:
    """Lambda bills duration in 1 ms steps, rounded up."""
    return max(1, math.ceil(duration_ms))


def gb_seconds(duration_ms: float, memory_mb: int) -> float:
    """GB-seconds of one invocation: billed ms x configured memory."""
    return billed_ms(duration_ms) / 1000 * memory_mb / 1024


@dataclass(frozen=True)
class IndexSpec:
    """A global secondary index: its key attributes and what it projects."""

    name: str
    keys: tuple[str, ...]
    projection: str = "ALL"  # ALL, KEYS_ONLY or INCLUDE
    non_key: frozenset[str] = frozenset()


def projected(item: Mapping[str, Any] | None, index: IndexSpec, table_keys: Sequence[str]) -> dict[str, Any] | None:
    """The item as the index stores it, or None when the item is not in the (sparse) index."""
    if not item or any(key not in item for key in index.keys):
        return None
    if index.projection == "ALL":
        return dict(item)
    wanted = set(table_keys) | set(index.keys) | (set(index.non_key) if index.projection == "INCLUDE" else set())
    return {name: value for name, value in item.items() if name in wanted}


def index_write_sizes(
    old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, index: IndexSpec, table_keys: Sequence[str]
) -> list[int]:
    """Sizes of the index writes one base-table write causes (none, a put, a delete, an update, or delete + put)."""
    before, after = projected(old, index, table_keys), projected(new, index, table_keys)
    if before is None and after is None:
        return []
    if before is None or after is None:
        return [item_size(before or after)]
    if all(before[key] == after[key] for key in index.keys):
        return [] if before == after else [max(item_size(before), item_size(after))]
    return [item_size(before), item_size(after)]  # an index key changed: delete the old entry, put the new


def write_units(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    indexes: Sequence[IndexSpec] = (),
    table_keys: Sequence[str] = ("pk", "sk"),
    transactional: bool = False,
) -> int:
    """WRU of one item write: the larger of the before/after images (x2 in a transaction), plus every GSI write (x1:
    index propagation is not transactional)."""
    base = wcu_for(max(item_size(old), item_size(new)), transactional)
    return base + sum(wcu_for(size) for index in indexes for size in index_write_sizes(old, new, index, table_keys))


def fixed_per_order(per_day: float, orders_per_day: int) -> float:
    """A daily fixed amount spread over the day's orders."""
    return per_day / max(1, orders_per_day)


def secrets_calls_per_order(function_secret_pairs: int, orders_per_day: int, containers: int = WARM_CONTAINERS) -> float:
    """Secrets Manager calls per order: each warm container re-reads each of its secrets every ``SECRET_MAX_AGE_S``."""
    return fixed_per_order(function_secret_pairs * containers * SECONDS_PER_DAY / SECRET_MAX_AGE_S, orders_per_day)


def idle_sqs_polls_per_day(queues: int = SQS_TRIGGERED_QUEUES, pollers: int = IDLE_POLLERS, wait_s: int = 20) -> int:
    """Empty long-poll ReceiveMessage requests of Lambda's SQS pollers on idle queues."""
    return queues * pollers * SECONDS_PER_DAY // wait_s


# ---------------------------------------------------------------------------------------------
# Measuring: count and size every AWS call of the real handlers
# ---------------------------------------------------------------------------------------------


@dataclass
class Usage:
    """What one function (or one kind of invocation) used."""

    invocations: int = 0
    billed_ms: int = 0
    gb_seconds: float = 0.0
    calls: Counter[str] = field(default_factory=Counter)
    wru: float = 0.0
    rru: float = 0.0
    sqs_billed: int = 0
    secrets: set[str] = field(default_factory=set)


def table_specs(template: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, tuple[tuple[str, ...], list[IndexSpec]]]:
    """Table name -> (key attributes, GSIs) from template.yaml."""
    specs: dict[str, tuple[tuple[str, ...], list[IndexSpec]]] = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::DynamoDB::Table" or logical_id not in names:
            continue
        properties = resource["Properties"]
        keys = tuple(k["AttributeName"] for k in properties["KeySchema"])
        indexes = [
            IndexSpec(
                name=gsi["IndexName"],
                keys=tuple(k["AttributeName"] for k in gsi["KeySchema"]),
                projection=gsi["Projection"]["ProjectionType"],
                non_key=frozenset(gsi["Projection"].get("NonKeyAttributes", [])),
            )
            for gsi in properties.get("GlobalSecondaryIndexes", [])
        ]
        specs[names[logical_id]] = (keys, indexes)
    return specs


class Meter:
    """Patches botocore to count, size and attribute every AWS call to the function running."""

    def __init__(self, tables: dict[str, tuple[tuple[str, ...], list[IndexSpec]]], memory_mb: int) -> None:
        import botocore.client

        self.tables = tables
        self.memory_mb = memory_mb
        self.usage: dict[str, Usage] = {}
        self.current = "harness"
        self._paused = False
        self._lock = threading.Lock()
        self._excluded = 0.0  # seconds of the current invocation spent in bookkeeping or secret reads
        self._original: Callable[..., Any] = getattr(botocore.client.BaseClient, "_make_api_call")  # noqa: B009
        meter = self

        def metered(client: Any, operation: str, params: dict[str, Any]) -> Any:
            return meter._call(client, operation, params)

        setattr(botocore.client.BaseClient, "_make_api_call", metered)  # noqa: B010

    def close(self) -> None:
        """Stop metering (botocore's own call again)."""
        import botocore.client

        setattr(botocore.client.BaseClient, "_make_api_call", self._original)  # noqa: B010

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        self._paused = True
        try:
            yield
        finally:
            self._paused = False

    def invoke(self, name: str, handler: Callable[[dict[str, Any], Any], Any], event: dict[str, Any], remaining_ms: int) -> Any:
        from local_stack.harness import FakeContext
        from order_hub.adapters.secrets import secrets_provider

        secrets_provider().clear_cache()  # values only, keep the client: every invocation shows its secrets
        self.current, self._excluded = name, 0.0
        started = time.perf_counter()
        try:
            return handler(event, FakeContext(remaining_ms=remaining_ms))
        finally:
            elapsed_ms = (time.perf_counter() - started - self._excluded) * 1000
            usage = self.usage.setdefault(name, Usage())
            usage.invocations += 1
            usage.billed_ms += billed_ms(elapsed_ms)
            usage.gb_seconds += gb_seconds(elapsed_ms, self.memory_mb)
            self.current = "harness"

    def _call(self, client: Any, operation: str, params: dict[str, Any]) -> Any:
        if self._paused:
            return self._original(client, operation, params)
        service = client.meta.service_model.service_name
        started = time.perf_counter()
        old = self._before(client, operation, params) if service == "dynamodb" else None
        bookkeeping = time.perf_counter() - started
        call_started = time.perf_counter()
        failed = False
        try:
            response = self._original(client, operation, params)
        except Exception:
            failed, response = True, None
            raise
        finally:
            call_s = time.perf_counter() - call_started
            after = time.perf_counter()
            self._record(client, service, operation, params, old, response, failed)
            bookkeeping += time.perf_counter() - after
            with self._lock:
                self._excluded += bookkeeping + (call_s if service == "secretsmanager" else 0.0)
        return response

    # -- DynamoDB sizing --------------------------------------------------------------------------

    def _get(self, client: Any, table: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self._original(
            client, "GetItem", {"TableName": table, "Key": key, "ConsistentRead": True}
        ).get("Item")
        return item

    def _key_of(self, table: str, request: Mapping[str, Any]) -> dict[str, Any]:
        if "Key" in request:
            return dict(request["Key"])
        keys = self.tables.get(table, (("pk", "sk"), []))[0]
        return {name: request["Item"][name] for name in keys}

    def _writes(self, operation: str, params: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, Any]]]:
        """(kind, table, request) of every item a write call touches."""
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            return [(operation, params["TableName"], params)]
        if operation == "TransactWriteItems":
            return [(kind, body["TableName"], body) for entry in params["TransactItems"] for kind, body in entry.items()]
        if operation == "BatchWriteItem":
            found: list[tuple[str, str, Mapping[str, Any]]] = []
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    if "PutRequest" in request:
                        found.append(("PutItem", table, request["PutRequest"]))
                    else:
                        found.append(("DeleteItem", table, request["DeleteRequest"]))
            return found
        return []

    def _before(self, client: Any, operation: str, params: Mapping[str, Any]) -> list[dict[str, Any] | None] | None:
        writes = self._writes(operation, params)
        if not writes:
            return None
        return [self._get(client, table, self._key_of(table, request)) for _, table, request in writes]

    def _write_units(self, client: Any, operation: str, params: Mapping[str, Any], old: list[Any], failed: bool) -> float:
        transactional = operation == "TransactWriteItems"
        total = 0.0
        for (kind, table, request), before in zip(self._writes(operation, params), old, strict=True):
            keys, indexes = self.tables.get(table, (("pk", "sk"), []))
            if kind == "ConditionCheck" or failed:  # a check, or a refused conditional write, costs the item's size
                total += wcu_for(item_size(before) if kind == "ConditionCheck" else item_size(request.get("Item")), transactional)
                continue
            after = None if kind in ("DeleteItem", "Delete") else self._get(client, table, self._key_of(table, request))
            total += write_units(before, after, indexes, keys, transactional)
        return total

    def _read_units(self, client: Any, operation: str, params: Mapping[str, Any], response: Mapping[str, Any]) -> float:
        consistent = bool(params.get("ConsistentRead"))
        if operation == "GetItem":  # a projection does not lower the cost: size the whole item
            item = (
                self._get(client, params["TableName"], params["Key"])
                if "ProjectionExpression" in params
                else response.get("Item")
            )
            return rcu_for(item_size(item), consistent)
        if operation == "BatchGetItem":
            total = 0.0
            for table, request in params["RequestItems"].items():
                for key in request["Keys"]:  # every item rounds up on its own; a missing one still costs the minimum
                    total += rcu_for(item_size(self._get(client, table, key)), bool(request.get("ConsistentRead")))
            return total
        if operation == "TransactGetItems":
            return sum(rcu_for(item_size(r.get("Item")), transactional=True) for r in response.get("Responses", []))
        if operation in ("Query", "Scan"):
            items = response.get("Items", [])
            if any(name in params for name in ("ProjectionExpression", "FilterExpression", "Select")):
                full = {k: v for k, v in params.items() if k not in ("ProjectionExpression", "FilterExpression", "Select")}
                with contextlib.suppress(Exception):  # unused expression values: keep what was returned
                    items = self._original(client, operation, full).get("Items", items)
            return rcu_for(sum(item_size(item) for item in items), consistent)  # per page (= per call)
        return 0.0

    def _record(
        self,
        client: Any,
        service: str,
        operation: str,
        params: Mapping[str, Any],
        old: list[Any] | None,
        response: Any,
        failed: bool,
    ) -> None:
        with self._lock:
            usage = self.usage.setdefault(self.current, Usage())
            usage.calls[f"{service}.{operation}"] += 1
        wru = rru = 0.0
        sqs = 0
        if service == "dynamodb":
            if old is not None:
                wru = self._write_units(client, operation, params, old, failed)
            elif not failed:
                rru = self._read_units(client, operation, params, response or {})
        elif service == "sqs":
            if operation == "SendMessageBatch":
                payload = sum(
                    len(json.dumps(e.get("MessageAttributes", {}))) + len(e["MessageBody"].encode()) for e in params["Entries"]
                )
            else:
                payload = len(str(params.get("MessageBody", "")).encode())
            sqs = sqs_requests_for(payload)
        with self._lock:
            usage.wru += wru
            usage.rru += rru
            usage.sqs_billed += sqs
            if service == "secretsmanager" and operation == "GetSecretValue":
                usage.secrets.add(str(params.get("SecretId")))


# ---------------------------------------------------------------------------------------------
# The lifecycle
# ---------------------------------------------------------------------------------------------


def _chunks(values: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(values), max(1, size)):
        yield values[start : start + max(1, size)]


@dataclass
class Lifecycle:
    meter: Meter
    names: dict[str, str]
    api_key: str
    simulator: Any
    batches: dict[str, int] = field(default_factory=dict)  # consumer -> records per invocation (default 1)
    esm_requests: int = 0  # Lambda's own SQS ReceiveMessage + DeleteMessageBatch per batch
    stream_records: int = 0
    dispatched: set[tuple[str, str]] = field(default_factory=set)
    records: Counter[str] = field(default_factory=Counter)  # consumer -> records handed to it

    def api(self, name: str, handler: Callable[..., Any], event: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = self.meter.invoke(name, handler, event, 10_000)
        assert response["statusCode"] in (200, 201), response
        return response

    def _new_event_items(self) -> list[dict[str, Any]]:
        import boto3

        client = boto3.client("dynamodb", region_name="us-east-1")
        found: list[dict[str, Any]] = []
        with self.meter.paused():
            for page in client.get_paginator("scan").paginate(
                TableName=self.names["OrdersTable"],
                FilterExpression="entity = :e",
                ExpressionAttributeValues={":e": {"S": "order"}},  # the stream's records: every order version
            ):
                found.extend(page["Items"])
        fresh = [item for item in found if (item["pk"]["S"], item["version"]["N"]) not in self.dispatched]
        fresh.sort(key=lambda item: (item["pk"]["S"], int(item["version"]["N"])))
        self.dispatched.update((item["pk"]["S"], item["version"]["N"]) for item in fresh)
        return fresh

    def _drain(self, queue_url: str) -> list[dict[str, Any]]:
        import boto3

        sqs = boto3.client("sqs", region_name="us-east-1")
        messages: list[dict[str, Any]] = []
        with self.meter.paused():
            while True:
                got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
                if not got:
                    return messages
                messages.extend(dict(m) for m in got)
                sqs.delete_message_batch(
                    QueueUrl=queue_url, Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(got)]
                )

    def pump(self) -> None:
        """Run the stream and queue consumers until nothing is left to do."""
        from functions.delivery_worker.app import lambda_handler as worker
        from functions.dispatcher.app import lambda_handler as dispatcher
        from functions.wms_forwarder.app import lambda_handler as forwarder
        from local_stack.harness import load_event

        while True:
            progressed = False
            items = self._new_event_items()
            template = load_event("dispatcher/order_created")["Records"][0]
            self.records["Dispatcher"] += len(items)
            for chunk in _chunks(items, min(self.batches.get("Dispatcher", 1), 100)):
                records = []
                for item in chunk:
                    record = copy.deepcopy(template)
                    record["dynamodb"]["NewImage"] = item
                    record["dynamodb"]["Keys"] = {"pk": item["pk"], "sk": item["sk"]}
                    records.append(record)
                result = self.meter.invoke("Dispatcher", dispatcher, {"Records": records}, 30_000)
                assert result["batchItemFailures"] == [], result
                self.stream_records += len(records)
                progressed = True
            for queue, name, handler, sample in (
                ("WmsForwardQueue", "WmsForwarder", forwarder, "wms_forwarder/forward_order"),
                ("DeliveryQueue", "DeliveryWorker", worker, "delivery_worker/deliver"),
            ):
                record_template = load_event(sample)["Records"][0]
                drained = self._drain(self.names[queue])
                self.records[name] += len(drained)
                if queue == "DeliveryQueue":  # a message is one event's bundle of deliveries, or one delivery
                    self.records["Deliveries"] += sum(len(json.loads(m["Body"]).get("deliveries") or [m]) for m in drained)
                for chunk in _chunks(drained, min(self.batches.get(name, 1), 10)):
                    records = []
                    for message in chunk:
                        record = copy.deepcopy(record_template)
                        record.update(
                            messageId=message["MessageId"], receiptHandle=message["ReceiptHandle"], body=message["Body"]
                        )
                        records.append(record)
                    result = self.meter.invoke(name, handler, {"Records": records}, 120_000)
                    assert result["batchItemFailures"] == [], result
                    self.esm_requests += 2
                    progressed = True
            if not progressed:
                return

    def poll(self, name: str) -> dict[str, Any]:
        from functions.status_poller.app import lambda_handler as poller
        from local_stack.harness import load_event

        summary: dict[str, Any] = self.meter.invoke(name, poller, load_event("status_poller/scheduled"), 290_000)
        assert summary["completed"] and summary["failed_warehouses"] == 0, summary
        return summary

    def run(self, order_nos: list[str], detail_reads: int) -> None:
        """Every step of the lifecycle for these orders, step by step for all of them."""
        from functions.orders_api.app import lambda_handler as orders_api
        from functions.webhook_ingest.app import lambda_handler as webhooks
        from local_stack.harness import api_event, signed_webhook_event

        body = json.loads(api_event("orders_api/create_order", self.api_key)["body"])
        for item in body["items"]:  # what the increff format needs (a SELLING_PRICE tax line per line)
            tax = round(item["unit_price"] * 11 / 111, 2)
            item["ext"] = {"tax_lines": [{"type": "PPN", "rate": 11, "per_unit": tax, "total": round(tax * item["qty"], 2)}]}
        for order_no in order_nos:
            self.api(
                "OrdersApi", orders_api, api_event("orders_api/create_order", self.api_key, body={**body, "so_number": order_no})
            )
        self.pump()  # dispatcher -> forwarder (WMS create) -> callbacks
        confirmation = json.loads(signed_webhook_event("webhook_ingest/order_confirmation", "bench-secret")["body"])
        for order_no in order_nos:
            wms_no = self.simulator.order(WH, order_no)["wms_order_no"]
            payload = {**confirmation, "order_no": order_no, "wms_order_no": wms_no}
            self.api(
                "WebhookIngest", webhooks, signed_webhook_event("webhook_ingest/order_confirmation", "bench-secret", body=payload)
            )
        self.pump()
        self.poll("StatusPoller")  # change 1 (OPEN) seen by one poll run: already applied by the webhook
        self.pump()
        for order_no in order_nos:
            self.simulator.advance(WH, order_no, to="PICKING")
        self.poll("StatusPoller")  # change 2 (PICKING) only the poller reports
        self.pump()
        pgi = json.loads(signed_webhook_event("webhook_ingest/pgi", "bench-secret")["body"])
        for order_no in order_nos:
            self.simulator.advance(WH, order_no, to="SHIPPED")
            payload = {**pgi, "doc_no": order_no, "so_reference_b": order_no}
            self.api("WebhookIngest", webhooks, signed_webhook_event("webhook_ingest/pgi", "bench-secret", body=payload))
        self.pump()
        self.poll("StatusPoller")  # change 3 (SHIPPED) seen by one poll run: already applied by the PGI webhook
        self.pump()
        for order_no in order_nos:
            for _ in range(detail_reads):
                event = api_event(
                    "orders_api/detail_oms", self.api_key, path_parameters={"warehouse_id": WH, "order_no": order_no}
                )
                self.api("OrdersApi", orders_api, event)
        for _ in range(math.ceil(len(order_nos) / 20)):
            self.api("OrdersApi", orders_api, api_event("orders_api/list_orders", self.api_key))


class ArrivalClock:
    """When a tenant's API requests reach one warm container at the day's average rate: Poisson arrivals
    (seeded, so runs agree). The lifecycle sends its requests back to back; the request limiter, which
    counts per second, must see them spread as ``orders_per_day`` spreads them, or every burst of the
    harness would look like a tenant at its limit."""

    def __init__(self, rate_per_s: float, seed: int = 15) -> None:
        self.rate = rate_per_s
        self._random = random.Random(seed)
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        self.now += self._random.expovariate(self.rate)
        return self.now


def api_requests_per_container_s(orders_per_day: int, detail_reads: int, containers: int = WARM_CONTAINERS) -> float:
    """The orders API's requests a second in one warm container: a create, the detail reads and a
    twentieth of a list per order, over the day and the warm containers."""
    return orders_per_day * (1 + detail_reads + 1 / 20) / SECONDS_PER_DAY / containers


def _spread_requests(clock: ArrivalClock) -> None:
    """The request limiter of this (one) container takes its time from ``clock``."""
    from order_hub import wiring

    limiter = wiring.request_limiter()
    allow = limiter.allow
    limiter.allow = lambda tenant_id, now, limit=None: allow(tenant_id, clock(), limit)  # type: ignore[method-assign]


def _register_endpoints(count: int, receiver: Any) -> None:
    from local_stack.demo_receiver import DEFAULT_STANDARD_SECRET
    from local_stack.harness import put_secret
    from order_hub import wiring
    from order_hub.services.endpoints import register_endpoint, registration

    urls = receiver.endpoint_urls()
    for n in range(count):
        spec: dict[str, Any]
        if n % 2 == 0:
            spec = {"format": "standard", "url": urls["standard"], "signing_secret": DEFAULT_STANDARD_SECRET}
        else:
            spec = {
                "format": "increff",
                "url": urls["increff"],
                "auth": "none",
                "settings": {
                    "partner_code": "DEMO-PARTNER",
                    "partner_location_code": "1",
                    "location_codes": {WH: f"LOC-{WH}"},
                    "channel_names": {"SHOPEE": "shopee"},
                    "default_country": "ID",
                },
            }
        register_endpoint(registration(endpoint_id=f"erp-{n}", **spec), TENANT, wiring.endpoint_ports(write_secret=put_secret))


class LogSink(io.TextIOBase):
    """Stands in for stdout while the handlers run: counts the bytes they log."""

    def __init__(self) -> None:
        self.bytes = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.bytes += len(text.encode())
        return len(text)


@dataclass
class Measured:
    orders: int
    usage: dict[str, Usage]
    idle_poll: Usage
    idle_runs: int
    esm_requests: int
    stream_records: int
    memory_mb: int
    log_bytes: int = 0
    api_functions: tuple[str, ...] = ("OrdersApi", "WebhookIngest")
    batches: dict[str, int] = field(default_factory=dict)
    api: str = "REST API"
    records: dict[str, int] = field(default_factory=dict)  # consumer -> records it was handed
    failing_callback_wru: float = 0.0  # one delivery failing all its attempts (worst-case response bodies)
    load_average: float = 0.0


CONSUMERS = {
    "Dispatcher": "DispatcherFunction",
    "WmsForwarder": "WmsForwarderFunction",
    "DeliveryWorker": "DeliveryWorkerFunction",
}
"""Lifecycle consumer -> its function in template.yaml."""


def measure(orders: int, endpoints: int, detail_reads: int, batch: int | None, orders_per_day: int = 100_000) -> Measured:
    use_in_process_aws()
    os.environ["HUB_ENV"] = "local"  # the WMS simulator and the receiver are on 127.0.0.1
    os.environ["POWERTOOLS_LOG_LEVEL"] = "INFO"  # prod's level, for the log volume
    from moto import mock_aws

    from local_stack.demo_receiver import DemoReceiver
    from local_stack.wms_simulator import TenantConfig, WmsSimulator

    simulator = WmsSimulator(port=0, tenants={TENANT: TenantConfig(api_key="wms-key", webhook_secret="unused")})
    receiver = DemoReceiver(port=0)
    simulator.start()
    receiver.start()
    sink = LogSink()
    try:
        with mock_aws(), contextlib.redirect_stdout(sink):  # before the hub's imports: its logger writes here
            return _measure(orders, endpoints, detail_reads, batch, orders_per_day, simulator, receiver, sink)
    finally:
        receiver.stop()
        simulator.stop()


def _measure(
    orders: int,
    endpoints: int,
    detail_reads: int,
    batch: int | None,
    orders_per_day: int,
    simulator: Any,
    receiver: Any,
    sink: LogSink,
) -> Measured:
    from local_stack.harness import build_tables, put_secret, seed_tenant
    from local_stack.template import load_template
    from order_hub.secret_names import webhook_secret_name, wms_secret_name

    template = load_template()
    memory_mb = int(template["Globals"]["Function"]["MemorySize"])
    names = build_tables()
    key = seed_tenant(TENANT, [WH])
    put_secret(wms_secret_name(TENANT), {"base_url": simulator.url, "api_key": "wms-key"})
    put_secret(webhook_secret_name(TENANT), {"hmac_secret": "bench-secret"})
    _register_endpoints(endpoints, receiver)

    meter = Meter(table_specs(template, names), memory_mb)
    lifecycle = Lifecycle(meter, names, key, simulator)
    lifecycle.run(["WARM-0001"], detail_reads)  # warm-up: imports, sessions, per-container caches
    _spread_requests(ArrivalClock(api_requests_per_container_s(orders_per_day, detail_reads)))
    found = triggers(template)  # the warm-up order's records per consumer give the rates at orders_per_day
    lifecycle.batches = {
        name: batch if batch is not None else realistic_batch(lifecycle.records[name], orders_per_day, found[function])
        for name, function in CONSUMERS.items()
    }
    simulator.reset()  # keeps the tenant; the warm-up order leaves the WMS list
    idle_runs = 3
    for _ in range(idle_runs + 1):
        lifecycle.poll("StatusPollerIdle")
    meter.usage.clear()
    for _ in range(idle_runs):
        lifecycle.poll("StatusPollerIdle")  # the per-minute run with nothing listed
    idle = meter.usage.pop("StatusPollerIdle")
    lifecycle.esm_requests = lifecycle.stream_records = sink.bytes = 0
    lifecycle.records.clear()
    lifecycle.run([f"CM-{n:05d}" for n in range(orders)], detail_reads)
    failing = failing_callback_wru(meter, "CM-00000")
    return Measured(
        orders,
        dict(meter.usage),
        idle,
        idle_runs,
        lifecycle.esm_requests,
        lifecycle.stream_records,
        memory_mb,
        sink.bytes,
        batches=dict(lifecycle.batches),
        api=api_type(template),
        records=dict(lifecycle.records),
        failing_callback_wru=failing,
        load_average=os.getloadavg()[0],
    )


def failing_callback_wru(meter: Meter, order_no: str) -> float:
    """WRU the delivery log spends on one callback that fails all its attempts: the real worker and
    adapter, a receiver answering 503 with 1 KB of incompressible text every time, the retry
    schedule's clock advanced between attempts (no waiting)."""
    import secrets as random_text
    from datetime import UTC, datetime, timedelta

    from order_hub import wiring
    from order_hub.config import DeliverySettings, load
    from order_hub.models.endpoints import Endpoint
    from order_hub.ports import SendResult
    from order_hub.services.callback_delivery import Worker, plan_deliveries
    from order_hub.services.orders import make_event

    class Failing:
        def send(self, endpoint: Any, rendered: Any, delivery_id: str) -> SendResult:
            return SendResult(status_code=503, body=random_text.token_urlsafe(1024), latency_ms=20)

    order = wiring.order_repository().get(TENANT, WH, order_no)
    assert order is not None
    event = make_event(order, "order.status_changed", "poller")
    now = datetime.now(UTC)
    endpoint = Endpoint(
        tenant_id=TENANT,
        endpoint_id="bench-failing",
        url="https://failing.example.com/hook",
        format="standard",
        created_at=now,
        updated_at=now,
    )
    clock = [now]
    schedule = load(DeliverySettings).retry_schedule
    worker = Worker(
        log=wiring.delivery_log(),
        sender=Failing(),
        endpoint_of=lambda tenant, endpoint_id, consistent: endpoint,
        disable_endpoint=lambda endpoint, reason: None,
        retry_schedule=schedule,
        now=lambda: clock[0],
    )
    [message] = plan_deliveries(event, [endpoint])
    meter.current = "FailingCallback"
    try:
        for _ in range(len(schedule) + 1):
            step = worker.attempt(message, event)
            clock[0] += timedelta(seconds=step.delay + 1)
    finally:
        meter.current = "harness"
    usage = meter.usage.pop("FailingCallback")
    assert step.action == "dead", step
    return usage.wru


# ---------------------------------------------------------------------------------------------
# Per order, priced, printed
# ---------------------------------------------------------------------------------------------


def per_order_counts(measured: Measured, orders_per_day: int) -> tuple[dict[str, float], dict[str, float]]:
    """(billable units per order by ``UNITS`` name, API requests per order by service)."""
    n = measured.orders
    idle = measured.idle_poll
    runs = measured.idle_runs
    polls = measured.usage.get("StatusPoller", Usage())
    # the poll runs of the lifecycle, less what an empty run costs anyway (that one is per minute, below)
    poll_wru = polls.wru - polls.invocations * idle.wru / runs
    poll_rru = polls.rru - polls.invocations * idle.rru / runs
    poll_gbs = max(0.0, polls.gb_seconds - polls.invocations * idle.gb_seconds / runs)
    poll_calls = sum(polls.calls.values()) - polls.invocations * sum(idle.calls.values()) / runs
    per_order = [u for name, u in measured.usage.items() if name != "StatusPoller"]
    minute_share = fixed_per_order(POLL_RUNS_PER_DAY, orders_per_day)
    pairs = {(name, secret) for name, u in measured.usage.items() for secret in u.secrets}
    pairs |= {("StatusPoller", secret) for secret in idle.secrets}
    dynamodb_calls = sum(v for u in per_order for k, v in u.calls.items() if k.startswith("dynamodb."))
    sqs_calls = sum(v for u in per_order for k, v in u.calls.items() if k.startswith("sqs."))
    idle_dynamodb_calls = sum(v for k, v in idle.calls.items() if k.startswith("dynamodb.")) / runs
    units = {
        "dynamodb_wru": (sum(u.wru for u in per_order) + poll_wru) / n + minute_share * idle.wru / runs,
        "dynamodb_rru": (sum(u.rru for u in per_order) + poll_rru) / n + minute_share * idle.rru / runs,
        "sqs_requests": (sum(u.sqs_billed for u in per_order) + measured.esm_requests) / n
        + fixed_per_order(idle_sqs_polls_per_day(), orders_per_day),
        "lambda_requests": sum(u.invocations for u in per_order) / n + minute_share,
        "lambda_gb_seconds": (sum(u.gb_seconds for u in per_order) + poll_gbs) / n + minute_share * idle.gb_seconds / runs,
        "apigw_requests": sum(measured.usage[name].invocations for name in measured.api_functions if name in measured.usage) / n,
        "secrets_calls": secrets_calls_per_order(len(pairs), orders_per_day),
        "scheduler_invocations": minute_share,
    }
    requests = {
        "DynamoDB": (dynamodb_calls + poll_calls) / n + minute_share * idle_dynamodb_calls,
        "SQS": (sqs_calls + measured.esm_requests) / n + fixed_per_order(idle_sqs_polls_per_day(), orders_per_day),
        "Lambda": units["lambda_requests"],
        "API Gateway": units["apigw_requests"],
        "Secrets Manager": units["secrets_calls"],
        "EventBridge Scheduler": units["scheduler_invocations"],
    }
    return units, requests


def figures(measured: Measured, orders_per_day: int) -> dict[str, Any]:
    """The run's figures per million orders, in ``BEFORE``'s shape (what ``--record`` stores)."""
    from dataclasses import replace

    units, requests = per_order_counts(measured, orders_per_day)
    dollars = price_of(units, replace(PRICES, apigw_request=API_PRICES[measured.api]))
    worker = measured.usage.get("DeliveryWorker", Usage())
    messages = measured.records.get("DeliveryWorker", 0) / measured.orders
    deliveries = measured.records.get("Deliveries", 0) / measured.orders
    return {
        "label": f"this run, {time.strftime('%Y-%m-%d', time.gmtime())}, load average {measured.load_average:.1f}",
        "api": measured.api,
        "dollars": {service: round(dollars[service], 2) for service in SERVICES},
        "units": {
            "API Gateway": f"{units['apigw_requests']:.2f} requests",
            "Lambda": f"{units['lambda_requests']:.2f} invocations",
            "DynamoDB": f"{units['dynamodb_wru']:.2f} WRU + {units['dynamodb_rru']:.2f} RRU",
            "SQS": f"{units['sqs_requests']:.2f} requests",
            "Secrets Manager": f"{units['secrets_calls']:.4f} calls",
            "EventBridge Scheduler": f"{units['scheduler_invocations']:.4f} invocations",
        },
        "total": round(sum(round(dollars[service], 2) for service in SERVICES), 2),
        "delivery_worker": f"{worker.wru / measured.orders:.2f} WRU + {worker.rru / measured.orders:.2f} RRU per order"
        f" ({deliveries:.0f} deliveries in {messages:.0f} message{'' if round(messages) == 1 else 's'});"
        f" a callback failing all its attempts {measured.failing_callback_wru:.0f} WRU",
        "gb_seconds": round(units["lambda_gb_seconds"], 4),
        "requests": {service: round(value, 3) for service, value in requests.items()},
        "batches": dict(measured.batches),
        "orders_per_day": orders_per_day,
        "records_per_order": {name: round(count / measured.orders, 3) for name, count in sorted(measured.records.items())},
        "functions": {
            name: {
                "invocations_per_order": round(usage.invocations / measured.orders, 3),
                "avg_ms": round(usage.billed_ms / max(1, usage.invocations), 1),
                "secrets": len(usage.secrets),
            }
            for name, usage in sorted(measured.usage.items())
        },
    }


def comparison(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The table before -> after, per service, $ per million orders."""
    lines = [
        f"  {'service':<22} {'before $/M':>11} {'after $/M':>10}  {'after, per order':<28} (before: {before['label']})",
    ]
    for service in SERVICES:
        name = f"{service} ({after['api']})" if service == "API Gateway" else service
        lines.append(
            f"  {name:<22} {before['dollars'][service]:>11.2f} {after['dollars'][service]:>10.2f}  {after['units'][service]:<28}"
        )
    lines.append(f"  {'total':<22} {before['total']:>11.2f} {after['total']:>10.2f}")
    lines.append(f"  delivery worker: before {before['delivery_worker']}")
    lines.append(f"                   after  {after['delivery_worker']}")
    return lines


def readme_section(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """The README's cost table (between ``README_BEGIN`` and ``README_END``), from two runs' figures."""
    rows = [
        README_BEGIN,
        f"| Service | before ({before['label']}) | after ({after['label']}) | after, per order |",
        "|---|---|---|---|",
    ]
    for service in SERVICES:
        name = f"API Gateway ({before['api']} → {after['api']})" if service == "API Gateway" else service
        rows.append(
            f"| {name} | {before['dollars'][service]:.2f} | {after['dollars'][service]:.2f} | {after['units'][service]} |"
        )
    rows.append(f"| **Total** | **{before['total']:.2f}** | **{after['total']:.2f}** | |")
    batches = ", ".join(f"{name} {size}" for name, size in sorted(after["batches"].items()))
    rows += [
        "",
        f"Delivery worker: before {before['delivery_worker']}; after {after['delivery_worker']}.",
        f"Records per invocation at {after['orders_per_day']:,} orders/day (from the template's batching windows): {batches}.",
        README_END,
    ]
    return "\n".join(rows)


def write_readme(section: str, path: str = README) -> None:
    """Replace the README's cost table with ``section``."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    start, end = text.index(README_BEGIN), text.index(README_END) + len(README_END)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text[:start] + section + text[end:])


def report(measured: Measured, orders_per_day: int, endpoints: int, detail_reads: int, batch: int | None) -> str:
    arrivals = api_requests_per_container_s(orders_per_day, detail_reads)
    units, requests = per_order_counts(measured, orders_per_day)
    after = figures(measured, orders_per_day)
    dollars = {**after["dollars"], "total": after["total"]}
    unit_text = {
        "DynamoDB": f"{units['dynamodb_wru']:.2f} WRU + {units['dynamodb_rru']:.2f} RRU",
        "SQS": f"{units['sqs_requests']:.2f} billed requests",
        "Lambda": f"{units['lambda_gb_seconds']:.4f} GB-s",
        "API Gateway": f"{units['apigw_requests']:.2f} requests",
        "Secrets Manager": f"{units['secrets_calls']:.4f} calls",
        "EventBridge Scheduler": f"{units['scheduler_invocations']:.4f} invocations",
    }
    lines = [
        f"Cost model, us-east-1 list prices (as of 2025), arm64 {measured.memory_mb} MB: {measured.orders} lifecycles measured "
        f"in-process (moto), {endpoints} callback endpoints, {detail_reads} detail reads, {orders_per_day:,} orders/day",
        "",
        *comparison(BEFORE, after),
        "",
        f"  {'service':<22} {'requests/order':>15}  {'units/order':<28} {'$ per million orders':>21}",
    ]
    for service in SERVICES:
        lines.append(f"  {service:<22} {requests[service]:>15.3f}  {unit_text[service]:<28} {dollars[service]:>21.2f}")
    stream = measured.stream_records / measured.orders
    lines.append(f"  {'DynamoDB Streams':<22} {stream:>15.3f}  {'records (GetRecords free)':<28} {0.0:>21.2f}")
    lines.append(f"  {'total':<22} {'':>15}  {'':<28} {dollars['total']:>21.2f}")
    invocations = sum(u.invocations for u in measured.usage.values())
    log_kb = (measured.log_bytes + invocations * PLATFORM_LOG_BYTES) / measured.orders / KB
    log_dollars = log_kb * KB / 1024**3 * LOGS_INGEST_PER_GB * MILLION
    lines.append(f"  {'(CloudWatch Logs)':<22} {'':>15}  {f'{log_kb:.1f} KB at INFO':<28} {log_dollars:>21.2f}  not in the total")
    lines += [
        "",
        "  per function (lifecycle runs, per order; StatusPoller incl. its empty-run share; secret reads amortised above):",
    ]
    for name, usage in sorted(measured.usage.items()):
        calls = ", ".join(
            f"{k} {v / measured.orders:.2f}" for k, v in sorted(usage.calls.items()) if not k.startswith("secretsmanager.")
        )
        average_ms = usage.billed_ms / max(1, usage.invocations)
        lines.append(
            f"    {name:<15} {usage.invocations / measured.orders:5.2f} inv, {average_ms:6.1f} ms avg,"
            f" {usage.wru / measured.orders:5.2f} WRU, {usage.rru / measured.orders:5.2f} RRU; {calls}"
        )
    idle = measured.idle_poll
    lines.append(
        f"    empty poll run  {idle.billed_ms / measured.idle_runs:6.1f} ms, {idle.wru / measured.idle_runs:.2f} WRU, "
        f"{idle.rru / measured.idle_runs:.2f} RRU per minute"
    )
    relist = POLL_RUNS_PER_DAY / 2
    polls = measured.usage.get("StatusPoller", Usage())
    poll_rru = (polls.rru - polls.invocations * idle.rru / measured.idle_runs) / max(1, polls.invocations) / measured.orders
    lines += [
        "",
        "  assumptions:",
        "  - warm containers; cold starts (INIT billing), data transfer and CloudWatch Logs are not in the total (Logs: shown,"
        f" INFO level + {PLATFORM_LOG_BYTES} B of platform lines per invocation, ${LOGS_INGEST_PER_GB}/GB ingestion)",
        "  - Lambda ms measured per handler invocation in-process (moto, loopback HTTP; bookkeeping and secret reads"
        f" subtracted), billed per ms at {measured.memory_mb} MB",
        f"  - API Gateway: {measured.api} (from template.yaml), ${API_PRICES[measured.api] * MILLION:.2f} per million requests",
        "  - records per invocation: "
        + (
            f"{batch} for every trigger (--batch)"
            if batch is not None
            else "what each trigger's batching window in template.yaml gathers at the day's average rate"
            " (a stream shard's one poller gets the window's records, SQS's 5 pollers share them; 1 without a window): "
            + ", ".join(f"{name} {size}" for name, size in sorted(measured.batches.items()))
        )
        + "; Lambda's SQS pollers cost"
        " 1 ReceiveMessage + 1 DeleteMessageBatch per batch, plus idle long polls "
        f"({IDLE_POLLERS} pollers x 20 s x {SQS_TRIGGERED_QUEUES} queues = {idle_sqs_polls_per_day():,}/day, amortised)",
        "  - SQS: each 64 KB chunk of a request is one request; DynamoDB Streams GetRecords by Lambda triggers are free",
        "  - DynamoDB: WRU per KB of the larger of the before/after item, x2 in TransactWriteItems (condition checks too),"
        " GSI writes x1 of the projected size (2 when an index key changes); RRU per 4 KB (eventually consistent 0.5),"
        " BatchGetItem per item, Query per page; projections do not lower read cost",
        "  - status polls: one poll run per order change (OPEN, PICKING, SHIPPED), charged as the run's cost over an empty run;"
        f" the empty run itself is per minute ({POLL_RUNS_PER_DAY}/day Scheduler + Lambda + DynamoDB) over --orders-per-day",
        f"  - API requests reach the request limiter at the day's average rate ({arrivals:.2f}/s"
        f" per warm container, Poisson arrivals, one tenant): its shared counter is written only in seconds a"
        f" container sees {FLUSH_EVERY} or more (the lifecycle itself sends its requests back to back)",
        f"  - Secrets Manager: cache {SECRET_MAX_AGE_S} s, {WARM_CONTAINERS} warm containers per function,"
        " each re-reading its secrets every 5 minutes, over --orders-per-day",
        "  - the WMS list is filtered by day, so each poll run re-lists every order updated today"
        f" (~{relist:.0f} runs per order at 1/min); the poller reads only the orders the WMS changed since its last"
        f" complete run, so re-listing costs WMS list pages, not DynamoDB reads ({poll_rru:.2f} RRU per changed order)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=20, help="lifecycles to run")
    parser.add_argument("--endpoints", type=int, default=2, help="callback endpoints (alternately standard, increff)")
    parser.add_argument("--orders-per-day", type=int, default=100_000, help="volume over which per-minute costs spread")
    parser.add_argument("--detail-reads", type=int, default=2, help="order detail reads per order by the client")
    parser.add_argument(
        "--batch", type=int, default=None, help="records per stream/SQS-triggered invocation (default: from the template)"
    )
    parser.add_argument("--record", action="store_true", help=f"store the figures ({LATEST}) and rewrite the README table")
    args = parser.parse_args(argv)
    measured = measure(args.orders, args.endpoints, args.detail_reads, args.batch, args.orders_per_day)
    print(report(measured, args.orders_per_day, args.endpoints, args.detail_reads, args.batch))
    if args.record:
        after = figures(measured, args.orders_per_day)
        with open(LATEST, "w", encoding="utf-8") as handle:
            json.dump(after, handle, indent=2, sort_keys=True)
            handle.write("\n")
        write_readme(readme_section(BEFORE, after))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
