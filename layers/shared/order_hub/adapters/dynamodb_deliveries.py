"""DynamoDB adapters of callback delivery: endpoints (tenants table), events (orders table) and
the delivery log (deliveries table).

Deliveries table (pk/sk):
- delivery: ``DLV#<delivery_id>`` / ``DLV``. ``status``, ``attempt_count`` and ``lease_until`` are
  top-level attributes so a claim is one conditional UpdateItem; ``doc`` is the Delivery JSON with
  its attempt log. ``gsi1*`` (index ``by_endpoint``): per endpoint by creation time (replays);
  ``gsi2*`` (index ``by_problem``, sparse): per tenant, only while retrying or failed.
- rate counter: ``RATE#<endpoint>#<epoch second>`` / ``RATE`` (expires after a minute).
- message id counter: ``COUNTER#<endpoint>`` / ``MESSAGE_ID`` (Increff ``messageId``s).
- order gate: ``GATE#<tenant>#<endpoint>#<warehouse>#<order>`` / ``SEQ#<seq, 12 digits>``, one item per
  event of the order that is in flight or waits for a retry at the endpoint (``due``, ``until``
  epoch seconds; expires with ``until``). Later events of the order wait while one exists.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from order_hub.adapters.dynamodb import _DynamoAdapter, _ts, order_pk
from order_hub.errors import InvalidInput
from order_hub.jsonutil import doc_text
from order_hub.models.endpoints import Attempt, Delivery, Endpoint
from order_hub.models.order import OrderEvent
from order_hub.ports import Claim

DELIVERY_RETENTION = timedelta(days=90)
_PROBLEMS = ("retrying", "failed")


def _epoch(value: datetime) -> int:
    return int(value.timestamp())


class DynamoEndpointRegistry(_DynamoAdapter):
    """Endpoints live in the tenants table under ``TENANT#<id>`` / ``ENDPOINT#<endpoint_id>``."""

    def list_endpoints(self, tenant_id: str) -> list[Endpoint]:
        endpoints: list[Endpoint] = []
        for page in self.client.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": f"TENANT#{tenant_id}"}, ":prefix": {"S": "ENDPOINT#"}},
        ):
            endpoints.extend(Endpoint.model_validate_json(item["doc"]["S"]) for item in page.get("Items", []))
        return endpoints

    def get_endpoint(self, tenant_id: str, endpoint_id: str) -> Endpoint | None:
        response = self.client.get_item(
            TableName=self._table,
            Key={"pk": {"S": f"TENANT#{tenant_id}"}, "sk": {"S": f"ENDPOINT#{endpoint_id}"}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return Endpoint.model_validate_json(item["doc"]["S"]) if item else None

    def put_endpoint(self, endpoint: Endpoint, create: bool = False) -> None:
        request: dict[str, Any] = {
            "TableName": self._table,
            "Item": {
                "pk": {"S": f"TENANT#{endpoint.tenant_id}"},
                "sk": {"S": f"ENDPOINT#{endpoint.endpoint_id}"},
                "doc": {"S": endpoint.model_dump_json()},
            },
        }
        if create:
            request["ConditionExpression"] = "attribute_not_exists(pk)"
        try:
            self.client.put_item(**request)
        except self.client.exceptions.ConditionalCheckFailedException as error:
            raise InvalidInput(f"endpoint '{endpoint.endpoint_id}' already exists", field="endpoint_id") from error


class DynamoEventStore(_DynamoAdapter):
    """Reads outbox events (orders table) in batches of 100."""

    def get_events(self, keys: list[tuple[str, str, str, int]]) -> dict[tuple[str, str, str, int], OrderEvent]:
        found: dict[tuple[str, str, str, int], OrderEvent] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 100):
            request: dict[str, Any] = {
                self._table: {
                    "Keys": [
                        {"pk": {"S": order_pk(tenant, warehouse, order_no)}, "sk": {"S": f"EVENT#{seq:012d}"}}
                        for tenant, warehouse, order_no, seq in unique[start : start + 100]
                    ],
                    "ConsistentRead": True,
                    "ProjectionExpression": "doc",
                }
            }
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self._table, []):
                    event = OrderEvent.model_validate_json(doc_text(item["doc"]))
                    found[(event.tenant_id, event.warehouse_id, event.order_no, event.seq)] = event
                request = dict(response.get("UnprocessedKeys") or {})
        return found


class DynamoDeliveryLog(_DynamoAdapter):
    @staticmethod
    def _key(delivery_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"DLV#{delivery_id}"}, "sk": {"S": "DLV"}}

    @staticmethod
    def _from_item(item: dict[str, Any]) -> Delivery:
        delivery = Delivery.model_validate_json(item["doc"]["S"])
        return delivery.model_copy(update={"status": item["status"]["S"], "attempt_count": int(item["attempt_count"]["N"])})

    def claim(self, delivery: Delivery, now: datetime, lease_seconds: int) -> Claim:
        values: dict[str, Any] = {
            ":delivering": {"S": "delivering"},
            ":pending": {"S": "pending"},
            ":retrying": {"S": "retrying"},
            ":now": {"N": str(_epoch(now))},
            ":lease": {"N": str(_epoch(now) + lease_seconds)},
            ":zero": {"N": "0"},
            ":one": {"N": "1"},
            ":doc": {"S": delivery.model_dump_json()},
            ":g1pk": {"S": f"EP#{delivery.tenant_id}#{delivery.endpoint_id}"},
            ":g1sk": {"S": f"{_ts(delivery.created_at)}#{delivery.delivery_id}"},
            ":expires": {"N": str(_epoch(delivery.created_at + DELIVERY_RETENTION))},
        }
        try:
            response = self.client.update_item(
                TableName=self._table,
                Key=self._key(delivery.delivery_id),
                UpdateExpression=(
                    "SET #status = :delivering, lease_until = :lease, "
                    "attempt_count = if_not_exists(attempt_count, :zero) + :one, doc = if_not_exists(doc, :doc), "
                    "gsi1pk = if_not_exists(gsi1pk, :g1pk), "
                    "gsi1sk = if_not_exists(gsi1sk, :g1sk), expires_at = if_not_exists(expires_at, :expires)"
                ),
                ConditionExpression=(
                    "attribute_not_exists(pk) OR #status IN (:pending, :retrying) "
                    "OR (#status = :delivering AND lease_until < :now)"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException as error:
            old = cast("dict[str, Any] | None", dict(error.response).get("Item"))
            return Claim(granted=False, delivery=self._from_item(old) if old else None)
        return Claim(granted=True, delivery=self._from_item(response["Attributes"]))

    def finish(self, delivery: Delivery, attempt: Attempt) -> None:
        updated = delivery.model_copy(update={"attempts": [*delivery.attempts, attempt][-20:]})
        values: dict[str, Any] = {
            ":status": {"S": updated.status},
            ":doc": {"S": updated.model_dump_json()},
            ":zero": {"N": "0"},
        }
        expression = "SET #status = :status, doc = :doc, lease_until = :zero"
        if updated.status in _PROBLEMS:
            values[":g2pk"] = {"S": f"PROBLEM#{updated.tenant_id}"}
            values[":g2sk"] = {"S": f"{_ts(updated.updated_at)}#{updated.delivery_id}"}
            expression += ", gsi2pk = :g2pk, gsi2sk = :g2sk"
        else:
            expression += " REMOVE gsi2pk, gsi2sk"
        self.client.update_item(
            TableName=self._table,
            Key=self._key(updated.delivery_id),
            UpdateExpression=expression,
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values,
        )

    def get(self, delivery_id: str) -> Delivery | None:
        item = self.client.get_item(TableName=self._table, Key=self._key(delivery_id), ConsistentRead=True).get("Item")
        return self._from_item(item) if item else None

    def _query(self, request: dict[str, Any], limit: int) -> list[Delivery]:
        found: list[Delivery] = []
        for page in self.client.get_paginator("query").paginate(**request):
            found.extend(self._from_item(item) for item in page.get("Items", []))
            if len(found) >= limit:
                break
        return found[:limit]

    def list_problems(self, tenant_id: str, limit: int) -> list[Delivery]:
        return self._query(
            {
                "TableName": self._table,
                "IndexName": "by_problem",
                "KeyConditionExpression": "gsi2pk = :pk",
                "ExpressionAttributeValues": {":pk": {"S": f"PROBLEM#{tenant_id}"}},
                "ScanIndexForward": False,
            },
            limit,
        )

    def list_for_endpoint(self, tenant_id: str, endpoint_id: str, since: datetime, limit: int) -> list[Delivery]:
        return self._query(
            {
                "TableName": self._table,
                "IndexName": "by_endpoint",
                "KeyConditionExpression": "gsi1pk = :pk AND gsi1sk >= :since",
                "ExpressionAttributeValues": {
                    ":pk": {"S": f"EP#{tenant_id}#{endpoint_id}"},
                    ":since": {"S": _ts(since)},
                },
            },
            limit,
        )

    def reopen(self, delivery_id: str, now: datetime) -> Delivery | None:
        current = self.get(delivery_id)
        if current is None:
            return None
        reopened = current.model_copy(
            update={"status": "pending", "attempt_base": current.attempt_count, "replays": current.replays + 1, "updated_at": now}
        )
        try:
            self.client.update_item(
                TableName=self._table,
                Key=self._key(delivery_id),
                UpdateExpression="SET #status = :pending, doc = :doc, lease_until = :zero REMOVE gsi2pk, gsi2sk",
                ConditionExpression="attempt_count = :count AND (#status <> :delivering OR lease_until < :now)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":pending": {"S": "pending"},
                    ":delivering": {"S": "delivering"},
                    ":doc": {"S": reopened.model_dump_json()},
                    ":zero": {"N": "0"},
                    ":count": {"N": str(current.attempt_count)},
                    ":now": {"N": str(_epoch(now))},
                },
            )
        except self.client.exceptions.ConditionalCheckFailedException as error:
            raise InvalidInput(f"delivery '{delivery_id}' is being attempted right now; replay it later") from error
        return reopened

    @staticmethod
    def _gate_key(gate: str, seq: int) -> dict[str, Any]:
        return {"pk": {"S": f"GATE#{gate}"}, "sk": {"S": f"SEQ#{seq:012d}"}}

    def hold_order(self, gate: str, seq: int, due: datetime, until: datetime) -> None:
        self.client.update_item(
            TableName=self._table,
            Key=self._gate_key(gate, seq),
            UpdateExpression="SET due = :due, until_at = :until, expires_at = :expires",
            ExpressionAttributeValues={
                ":due": {"N": str(_epoch(due))},
                ":until": {"N": str(_epoch(until))},
                ":expires": {"N": str(_epoch(until) + 3600)},
            },
        )

    def release_order(self, gate: str, seq: int) -> None:
        self.client.delete_item(TableName=self._table, Key=self._gate_key(gate, seq))

    def order_holds(self, gate: str, before_seq: int, now: datetime) -> list[tuple[int, datetime]]:
        response = self.client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND sk < :mine",
            ExpressionAttributeValues={":pk": {"S": f"GATE#{gate}"}, ":mine": {"S": f"SEQ#{before_seq:012d}"}},
            ConsistentRead=True,
            Limit=20,
        )
        return [
            (int(item["sk"]["S"].removeprefix("SEQ#")), datetime.fromtimestamp(int(item["due"]["N"]), UTC))
            for item in response.get("Items", [])
            if int(item["until_at"]["N"]) > _epoch(now)
        ]

    def allocate_message_ids(self, endpoint_key: str, count: int) -> int:
        response = self.client.update_item(
            TableName=self._table,
            Key={"pk": {"S": f"COUNTER#{endpoint_key}"}, "sk": {"S": "MESSAGE_ID"}},
            UpdateExpression="ADD n :count",
            ExpressionAttributeValues={":count": {"N": str(count)}},
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["n"]["N"]) - count + 1

    def take_token(self, endpoint_key: str, limit_per_second: int, now: datetime) -> bool:
        return self._take_second_token(endpoint_key, limit_per_second, _epoch(now))
