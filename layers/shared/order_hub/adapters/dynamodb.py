"""DynamoDB implementations of the repository ports.

Orders table (pk/sk):
- order:  pk ``ORDER#<tenant>#<warehouse>#<order_no>``, sk ``ORDER``; ``doc`` is the order JSON
  (zlib-compressed Binary; String in items written before compression, still read),
  ``version`` guards updates; ``gsi1*``/``gsi2*`` index it by tenant + created/updated time, with a
  ready-made list item (``list_view``, computed by the service's ``list_view`` function the repository
  is built with) projected so lists never read the orders themselves.
- event:  same pk, sk ``EVENT#<seq>``; written in the same transaction as the order (the outbox);
  ``doc`` is the event JSON (with a full copy of the order), compressed the same way.

Every order and event item is sized as DynamoDB counts it (``item_size``) before it is written;
one that would pass the 400 KB item limit is refused with ``InvalidInput`` (services.limits keeps
accepted orders far from it).

Tenants table: ``TENANT#<id>/PROFILE``, ``TENANT#<id>/KEY#<key_id>`` (listing) and
``KEY#<sha256>/KEY`` (lookup by digest).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from order_hub.adapters.aws import dynamodb_client
from order_hub.errors import ConcurrentModification, InvalidInput
from order_hub.jsonutil import doc_text, dumps, pack_doc
from order_hub.models.api import ListQuery
from order_hub.models.order import Order, OrderEvent
from order_hub.models.tenant import ApiKey, Tenant
from order_hub.ports import ListPage

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

EVENT_RETENTION = timedelta(days=90)
_KEY_END = "\uffff"
ITEM_LIMIT_BYTES = 400 * 1024
INBOX_PAYLOAD_BYTES = 300_000
BATCH_GET_ROUNDS = 8
"""BatchGetItem rounds for keys DynamoDB left unprocessed (throttling) before giving up."""
BATCH_GET_BACKOFF_S = 0.05
"""First pause before asking again for unprocessed keys; doubled each round (with jitter), at most 2 s."""


def attribute_size(value: Mapping[str, Any]) -> int:
    """Bytes of one DynamoDB-JSON value (``{"S": ...}``, ``{"M": ...}``), by AWS's item size rules:
    strings as UTF-8, numbers 1 byte per two significant digits + 1, binary as is, BOOL/NULL 1 byte,
    lists and maps 3 bytes plus 1 per element (map keys counted)."""
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        digits = str(raw).lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(s).encode()) for s in raw)
    if kind == "NS":
        return sum(attribute_size({"N": n}) for n in raw)
    if kind == "BS":
        return sum(len(b) for b in raw)
    if kind == "L":
        return 3 + sum(1 + attribute_size(v) for v in raw)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + attribute_size(v) for k, v in raw.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def item_size(item: Mapping[str, Any] | None) -> int:
    """Bytes of an item as DynamoDB counts them against its 400 KB limit: names plus values (0 for no item)."""
    return sum(len(name.encode()) + attribute_size(value) for name, value in (item or {}).items())


def _utf8_prefix(text: str, limit: int) -> str:
    """At most ``limit`` UTF-8 bytes of ``text``, never splitting a character."""
    return text.encode()[:limit].decode("utf-8", "ignore")


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def order_pk(tenant_id: str, warehouse_id: str, order_no: str) -> str:
    return f"ORDER#{tenant_id}#{warehouse_id}#{order_no}"


class _DynamoAdapter:
    """One table, one lazily obtained (shared, cached) client."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self._table = table_name
        self._client = client

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            self._client = dynamodb_client()
        return self._client

    def _batch_get(self, request: dict[str, Any], sleep: Callable[[float], None] = time.sleep) -> list[dict[str, Any]]:
        """Every item of this table a BatchGetItem ``request`` (one table, at most 100 keys) finds.

        Keys DynamoDB leaves unprocessed (it throttles) are asked for again after an exponential,
        jittered pause (AWS's advice), not in a tight loop; after ``BATCH_GET_ROUNDS`` rounds the
        call fails (the caller's message or run is retried as a whole)."""
        items: list[dict[str, Any]] = []
        pending: dict[str, Any] = request
        for round_no in range(BATCH_GET_ROUNDS):
            if round_no:
                sleep(min(2.0, BATCH_GET_BACKOFF_S * 2 ** (round_no - 1)) * random.uniform(0.5, 1.0))
            response = self.client.batch_get_item(RequestItems=pending)
            items.extend(response.get("Responses", {}).get(self._table, []))
            pending = dict(response.get("UnprocessedKeys") or {})
            if not pending:
                return items
        raise RuntimeError(f"BatchGetItem on {self._table}: keys still unprocessed after {BATCH_GET_ROUNDS} rounds")

    def _take_second_token(self, key: str, limit_per_second: int, second: int) -> bool:
        """One of ``limit_per_second`` uses of ``key`` in epoch ``second`` (a counter item per key and
        second, removed by the table's TTL a minute later); False when they are all used."""
        try:
            self.client.update_item(
                TableName=self._table,
                Key={"pk": {"S": f"RATE#{key}#{second}"}, "sk": {"S": "RATE"}},
                UpdateExpression="ADD n :one SET expires_at = :expires",
                ConditionExpression="attribute_not_exists(n) OR n < :limit",
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":limit": {"N": str(limit_per_second)},
                    ":expires": {"N": str(second + 60)},
                },
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True


class DynamoOrderRepository(_DynamoAdapter):
    def __init__(
        self, table_name: str, *, list_view: Callable[[Order], dict[str, Any]], client: DynamoDBClient | None = None
    ) -> None:
        super().__init__(table_name, client)
        self._list_view = list_view

    # -- items -------------------------------------------------------------------------------
    def _order_item(self, order: Order) -> dict[str, Any]:
        suffix = f"#{order.warehouse_id}#{order.order_no}"
        tenant_key = f"T#{order.tenant_id}"
        return {
            "pk": {"S": order_pk(order.tenant_id, order.warehouse_id, order.order_no)},
            "sk": {"S": "ORDER"},
            "entity": {"S": "order"},
            "gsi1pk": {"S": tenant_key},
            "gsi1sk": {"S": _ts(order.created_at) + suffix},
            "gsi2pk": {"S": tenant_key},
            "gsi2sk": {"S": _ts(order.updated_at) + suffix},
            "warehouse_id": {"S": order.warehouse_id},
            "order_type": {"S": order.order_type},
            "so_status": {"S": order.status.value},
            "in_wms": {"S": "1" if order.in_wms else "0"},
            "version": {"N": str(order.version)},
            "list_view": {"S": dumps(self._list_view(order))},
            "doc": pack_doc(order.model_dump_json()),
        }

    def _event_item(self, event: OrderEvent) -> dict[str, Any]:
        return {
            "pk": {"S": order_pk(event.tenant_id, event.warehouse_id, event.order_no)},
            "sk": {"S": f"EVENT#{event.seq:012d}"},
            "entity": {"S": "event"},
            "event_id": {"S": event.event_id},
            "event_type": {"S": event.type},
            "seq": {"N": str(event.seq)},
            "at": {"S": _ts(event.at)},
            "expires_at": {"N": str(int((event.at + EVENT_RETENTION).timestamp()))},
            "doc": pack_doc(event.model_dump_json()),
        }

    def _event_put(self, event: OrderEvent) -> Any:
        return {
            "Put": {
                "TableName": self._table,
                "Item": self._checked(self._event_item(event)),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def _checked(self, item: dict[str, Any]) -> dict[str, Any]:
        """``item``, or InvalidInput (never DynamoDB's ValidationException, a 500) when it would not fit.

        Services keep orders within the limit (services.limits); this is the last guard before a write.
        """
        size = item_size(item)
        if size > ITEM_LIMIT_BYTES:
            raise InvalidInput(
                f"the order's stored form would take {size:,} bytes, over DynamoDB's item limit of {ITEM_LIMIT_BYTES:,} bytes",
                field="items",
            )
        return item

    # -- port --------------------------------------------------------------------------------
    def stored_size(self, order: Order, event: OrderEvent) -> int:
        return max(item_size(self._order_item(order)), item_size(self._event_item(event)))

    def insert(self, order: Order, event: OrderEvent) -> Order | None:
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": self._checked(self._order_item(order)),
                            "ConditionExpression": "attribute_not_exists(pk)",
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                        }
                    },
                    self._event_put(event),
                ]
            )
        except self.client.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons", [])
            first = reasons[0] if reasons else {}
            if first.get("Code") != "ConditionalCheckFailed":
                raise
            old: dict[str, Any] = dict(first.get("Item") or {})
            if old and "doc" in old:
                return Order.model_validate_json(doc_text(old["doc"]))
            existing = self.get(order.tenant_id, order.warehouse_id, order.order_no)
            if existing is None:  # deleted in between: extremely unlikely, let the caller retry
                raise ConcurrentModification("order changed while it was being created; retry") from error
            return existing
        return None

    def get(self, tenant_id: str, warehouse_id: str, order_no: str) -> Order | None:
        response = self.client.get_item(
            TableName=self._table,
            Key={"pk": {"S": order_pk(tenant_id, warehouse_id, order_no)}, "sk": {"S": "ORDER"}},
            ConsistentRead=True,
            ProjectionExpression="doc",
        )
        item = response.get("Item")
        return Order.model_validate_json(doc_text(item["doc"])) if item else None

    def replace(self, order: Order, expected_version: int, event: OrderEvent) -> None:
        try:
            self.client.transact_write_items(
                TransactItems=[self._conditional_order_put(order, expected_version), self._event_put(event)]
            )
        except self.client.exceptions.TransactionCanceledException as error:
            raise ConcurrentModification(f"order_no '{order.order_no}' changed since version {expected_version}") from error

    def get_many(self, tenant_id: str, warehouse_id: str, order_nos: list[str]) -> dict[str, Order]:
        found: dict[str, Order] = {}
        unique = list(dict.fromkeys(order_nos))
        for start in range(0, len(unique), 100):
            keys: list[dict[str, Any]] = [
                {"pk": {"S": order_pk(tenant_id, warehouse_id, no)}, "sk": {"S": "ORDER"}} for no in unique[start : start + 100]
            ]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True, "ProjectionExpression": "doc"}}
            for item in self._batch_get(request):
                order = Order.model_validate_json(doc_text(item["doc"]))
                found[order.order_no] = order
        return found

    def record_webhook(self, tenant_id: str, inbox_key: str, payload: str, change: tuple[Order, int, OrderEvent] | None) -> bool:
        now = datetime.now(UTC)
        items: list[Any] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {
                        "pk": {"S": f"INBOX#{tenant_id}#{inbox_key}"},
                        "sk": {"S": "INBOX"},
                        "entity": {"S": "inbox"},
                        "received_at": {"S": _ts(now)},
                        "matched": {"BOOL": change is not None},
                        "payload": {"S": _utf8_prefix(payload, INBOX_PAYLOAD_BYTES)},
                        "expires_at": {"N": str(int((now + EVENT_RETENTION).timestamp()))},
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        ]
        if change is not None:
            order, expected_version, event = change
            items.append(self._conditional_order_put(order, expected_version))
            items.append(self._event_put(event))
        try:
            self.client.transact_write_items(TransactItems=items)
        except self.client.exceptions.TransactionCanceledException as error:
            reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                return False
            raise ConcurrentModification(f"inbox {inbox_key}: order changed meanwhile") from error
        return True

    def _conditional_order_put(self, order: Order, expected_version: int) -> Any:
        return {
            "Put": {
                "TableName": self._table,
                "Item": self._checked(self._order_item(order)),
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
            }
        }

    def list_page(self, tenant_id: str, query: ListQuery) -> ListPage:
        # The index follows the created range when there is one, else the updated range; a second
        # range (both given) is applied to the projected list item while counting.
        by_created = query.created_start is not None or query.created_end is not None
        by_updated = query.updated_start is not None or query.updated_end is not None
        use_updated = by_updated and not by_created
        index, pk_name, sk_name = ("by_updated", "gsi2pk", "gsi2sk") if use_updated else ("by_created", "gsi1pk", "gsi1sk")
        start = query.updated_start if use_updated else query.created_start
        end = query.updated_end if use_updated else query.created_end
        names: dict[str, str] = {"#pk": pk_name}
        values: dict[str, Any] = {":pk": {"S": f"T#{tenant_id}"}}
        condition = "#pk = :pk"
        if start or end:
            names["#sk"] = sk_name
            # Sort keys start with an ISO timestamp: a day's keys sort between "<day>" and "<day>\uffff".
            if start:
                values[":lo"] = {"S": start.isoformat()}
            if end:
                values[":hi"] = {"S": end.isoformat() + _KEY_END}
            condition += {
                (True, True): " AND #sk BETWEEN :lo AND :hi",
                (True, False): " AND #sk >= :lo",
                (False, True): " AND #sk <= :hi",
            }[(start is not None, end is not None)]
        filters = []
        for attribute, value in (
            ("warehouse_id", query.warehouse_id),
            ("order_type", query.order_type),
            ("so_status", query.so_status.value if query.so_status else None),
            ("in_wms", "1" if query.outbound_type == "WMS" else None),
        ):
            if value is not None:
                names[f"#{attribute}"] = attribute
                values[f":{attribute}"] = {"S": value}
                filters.append(f"#{attribute} = :{attribute}")
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
        }
        if filters:
            request["FilterExpression"] = " AND ".join(filters)
        updated_too = by_created and by_updated
        first = (query.page - 1) * query.limit
        last = first + query.limit
        total = 0
        items: list[dict[str, Any]] = []
        # Exact Shipper-style totals need every match counted: only the requested page's list_view
        # values are decoded (unless a second range needs them); the rest is counted.
        paginator = self.client.get_paginator("query")
        for page in paginator.paginate(**request):
            for item in page.get("Items", []):
                view: dict[str, Any] | None = None
                if updated_too:
                    view = json.loads(item["list_view"]["S"])
                    if not _in_range(view["updated_at"][:10], query.updated_start, query.updated_end):
                        continue
                if first <= total < last:
                    items.append(view if view is not None else json.loads(item["list_view"]["S"]))
                total += 1
        return ListPage(items=items, total=total)


def _in_range(day: str, start: date | None, end: date | None) -> bool:
    return (start is None or day >= start.isoformat()) and (end is None or day <= end.isoformat())


class DynamoTenantDirectory(_DynamoAdapter):
    def _tenant_item(self, tenant: Tenant) -> dict[str, Any]:
        return {
            "pk": {"S": f"TENANT#{tenant.tenant_id}"},
            "sk": {"S": "PROFILE"},
            "doc": {"S": tenant.model_dump_json()},
        }

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        response = self.client.get_item(TableName=self._table, Key={"pk": {"S": f"TENANT#{tenant_id}"}, "sk": {"S": "PROFILE"}})
        item = response.get("Item")
        return Tenant.model_validate_json(item["doc"]["S"]) if item else None

    def create_tenant(self, tenant: Tenant) -> None:
        registry = {
            "pk": {"S": "TENANTS"},
            "sk": {"S": f"TENANT#{tenant.tenant_id}"},
            "doc": {"S": tenant.model_dump_json()},
        }
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": self._tenant_item(tenant),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {"Put": {"TableName": self._table, "Item": registry}},
                ]
            )
        except self.client.exceptions.TransactionCanceledException as error:
            raise InvalidInput(f"tenant '{tenant.tenant_id}' already exists", field="tenant_id") from error

    def take_request_token(self, tenant_id: str, limit_per_second: int, now: float) -> bool:
        """One of the tenant's ``limit_per_second`` requests of the current second (a counter item per
        tenant and second, removed by the table's TTL); False when the tenant has used them all."""
        return self._take_second_token(tenant_id, limit_per_second, int(now))

    def list_tenants(self) -> list[Tenant]:
        """Every tenant, from the registry partition (a query, never a scan)."""
        tenant_ids: list[str] = []
        for page in self.client.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "TENANTS"}},
            ProjectionExpression="sk",
        ):
            tenant_ids.extend(item["sk"]["S"].removeprefix("TENANT#") for item in page.get("Items", []))
        tenants = [self.get_tenant(tenant_id) for tenant_id in tenant_ids]
        return [tenant for tenant in tenants if tenant is not None]

    def get_cursor(self, tenant_id: str, warehouse_id: str) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self._table,
            Key={"pk": {"S": f"TENANT#{tenant_id}"}, "sk": {"S": f"CURSOR#{warehouse_id}"}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return dict(json.loads(item["doc"]["S"])) if item else None

    def put_cursor(self, tenant_id: str, warehouse_id: str, cursor: dict[str, Any], owner: str | None = None) -> bool:
        request: dict[str, Any] = {
            "TableName": self._table,
            "Item": {  # the lease attributes go: released
                "pk": {"S": f"TENANT#{tenant_id}"},
                "sk": {"S": f"CURSOR#{warehouse_id}"},
                "doc": {"S": json.dumps(cursor)},
            },
        }
        if owner is not None:
            request["ConditionExpression"] = "lease_owner = :owner"
            request["ExpressionAttributeValues"] = {":owner": {"S": owner}}
        try:
            self.client.put_item(**request)
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def take_poll_lease(
        self, tenant_id: str, warehouse_id: str, owner: str, now: datetime, until: datetime
    ) -> dict[str, Any] | None:
        """A conditional UpdateItem on the cursor item that returns it: the lease costs the run one
        write and saves it the cursor read."""
        try:
            response = self.client.update_item(
                TableName=self._table,
                Key={"pk": {"S": f"TENANT#{tenant_id}"}, "sk": {"S": f"CURSOR#{warehouse_id}"}},
                UpdateExpression="SET lease_owner = :owner, lease_until = :until",
                ConditionExpression="attribute_not_exists(lease_until) OR lease_until < :now",
                ExpressionAttributeValues={
                    ":owner": {"S": owner},
                    ":until": {"N": str(int(until.timestamp()))},
                    ":now": {"N": str(int(now.timestamp()))},
                },
                ReturnValues="ALL_NEW",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return None
        item = response.get("Attributes", {})
        return dict(json.loads(item["doc"]["S"])) if "doc" in item else {}

    def save_tenant(self, tenant: Tenant) -> None:
        self.client.put_item(TableName=self._table, Item=self._tenant_item(tenant))

    def find_key(self, key_hash: str) -> ApiKey | None:
        response = self.client.get_item(TableName=self._table, Key={"pk": {"S": f"KEY#{key_hash}"}, "sk": {"S": "KEY"}})
        item = response.get("Item")
        return ApiKey.model_validate_json(item["doc"]["S"]) if item else None

    def _key_puts(self, key: ApiKey, condition: str | None) -> list[dict[str, Any]]:
        doc = {"S": key.model_dump_json()}
        puts: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {"pk": {"S": f"KEY#{key.key_hash}"}, "sk": {"S": "KEY"}, "doc": doc},
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {"pk": {"S": f"TENANT#{key.tenant_id}"}, "sk": {"S": f"KEY#{key.key_id}"}, "doc": doc},
                }
            },
        ]
        if condition:
            for put in puts:
                put["Put"]["ConditionExpression"] = condition
        return puts

    def put_key(self, key: ApiKey) -> None:
        self.client.transact_write_items(TransactItems=self._key_puts(key, "attribute_not_exists(pk)"))  # type: ignore[arg-type]

    def list_keys(self, tenant_id: str) -> list[ApiKey]:
        paginator = self.client.get_paginator("query")
        keys: list[ApiKey] = []
        for page in paginator.paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": f"TENANT#{tenant_id}"}, ":prefix": {"S": "KEY#"}},
            ConsistentRead=True,
        ):
            keys.extend(ApiKey.model_validate_json(item["doc"]["S"]) for item in page.get("Items", []))
        return keys

    def revoke_key(self, tenant_id: str, key_id: str, at: datetime) -> ApiKey:
        response = self.client.get_item(
            TableName=self._table,
            Key={"pk": {"S": f"TENANT#{tenant_id}"}, "sk": {"S": f"KEY#{key_id}"}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        if not item:
            raise InvalidInput(f"tenant '{tenant_id}' has no key '{key_id}'", field="key_id")
        key = ApiKey.model_validate_json(item["doc"]["S"])
        if key.status == "revoked":
            return key
        revoked = key.model_copy(update={"status": "revoked", "revoked_at": at})
        self.client.transact_write_items(TransactItems=self._key_puts(revoked, None))  # type: ignore[arg-type]
        return revoked
