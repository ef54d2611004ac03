"""DynamoDB adapters of callback delivery: endpoints (tenants table), events (orders table) and
the delivery log (deliveries table).

Deliveries table (pk/sk):
- delivery: ``DLV#<delivery_id>`` / ``DLV``. ``status``, ``attempt_count`` and ``lease_until`` are
  top-level attributes so a claim is one conditional UpdateItem; ``doc`` is the Delivery JSON (zlib,
  Binary; String in records written before, still read) with
  the last ``ATTEMPTS_KEPT`` attempts in full (older ones counted), so the item stays about 1-2 KB
  and every write of it costs 1-2 WRU however often the callback fails.
  ``gsi1*`` (index ``by_endpoint``, KEYS_ONLY): per endpoint by creation time (replays), written once;
  ``gsi2*`` (index ``by_problem``, KEYS_ONLY, sparse): per tenant, while retrying or failed, keyed by
  the time it became a problem (written once per problem, not per retry). Lists read the records
  themselves (BatchGetItem) after the index: listing is rare, writing is not.
- order gate, folded into the record: ``hold_due``/``hold_until`` (epoch seconds) while the delivery is
  in flight under a claim (a retry, a replay), waits for a retry (set by ``finish`` or ``record_first``)
  or is deferred behind an earlier event (``hold``). A later event of the order reads the record of
  the previous event planned for its endpoint (``prev_seq`` in the message, from the dispatcher's
  event chain) after its own (``states``: its own consistently, that one eventually) and waits while
  that one holds or does not exist yet. A delivered, failed or skipped record holds nothing. No gate item, no gate write on
  the way of a healthy delivery.
- first attempt: no claim. The worker sends and then records the outcome in one conditional write
  (``record_first``: creation fields, index keys, status, attempt), so a delivered callback costs one
  write (about 1 KB + its KEYS_ONLY ``by_endpoint`` entry = 2 WRU). Retries and replays claim first.
- rate counter: ``RATE#<endpoint>#<epoch second>`` / ``RATE`` (expires after a minute).
- message id counter: ``COUNTER#<tenant>#<endpoint>`` / ``MESSAGE_ID`` (Increff ``messageId``s), taken in
  blocks by the dispatcher (``services.callback_delivery.MessageIds``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from order_hub.adapters.dynamodb import _DynamoAdapter, _ts, order_pk
from order_hub.errors import InvalidInput
from order_hub.jsonutil import doc_text, pack_doc
from order_hub.models.endpoints import Attempt, Delivery, Endpoint
from order_hub.models.order import OrderEvent
from order_hub.ports import Claim, RecordState

DELIVERY_RETENTION = timedelta(days=90)
_PROBLEMS = ("retrying", "failed")


def _epoch(value: datetime) -> int:
    return int(value.timestamp())


def _time(value: dict[str, Any] | None) -> datetime | None:
    """An epoch-seconds number attribute as a time (None when absent)."""
    return datetime.fromtimestamp(int(value["N"]), UTC) if value else None


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

    def get_endpoint(self, tenant_id: str, endpoint_id: str, consistent: bool = True) -> Endpoint | None:
        response = self.client.get_item(
            TableName=self._table,
            Key={"pk": {"S": f"TENANT#{tenant_id}"}, "sk": {"S": f"ENDPOINT#{endpoint_id}"}},
            ConsistentRead=consistent,
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
    """Reads outbox events (orders table) in batches of 100.

    A stored event never changes (its record is rewritten only with the same content), so a read
    needs no consistency but existence: the events are read eventually consistent (half the RRU), and
    only the ones that read found missing (written a moment ago, not yet on that replica) are read
    again consistently."""

    def get_events(self, keys: list[tuple[str, str, str, int]]) -> dict[tuple[str, str, str, int], OrderEvent]:
        unique = list(dict.fromkeys(keys))
        found = self._read(unique, consistent=False)
        missing = [key for key in unique if key not in found]
        if missing:
            found.update(self._read(missing, consistent=True))
        return found

    def _read(self, keys: list[tuple[str, str, str, int]], consistent: bool) -> dict[tuple[str, str, str, int], OrderEvent]:
        found: dict[tuple[str, str, str, int], OrderEvent] = {}
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {
                self._table: {
                    "Keys": [
                        {"pk": {"S": order_pk(tenant, warehouse, order_no)}, "sk": {"S": f"EVENT#{seq:012d}"}}
                        for tenant, warehouse, order_no, seq in keys[start : start + 100]
                    ],
                    "ConsistentRead": consistent,
                    "ProjectionExpression": "doc",
                }
            }
            for item in self._batch_get(request):
                event = OrderEvent.model_validate_json(doc_text(item["doc"]))
                found[(event.tenant_id, event.warehouse_id, event.order_no, event.seq)] = event
        return found


class DynamoDeliveryLog(_DynamoAdapter):
    @staticmethod
    def _key(delivery_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"DLV#{delivery_id}"}, "sk": {"S": "DLV"}}

    @staticmethod
    def _from_item(item: dict[str, Any]) -> Delivery:
        delivery = Delivery.model_validate_json(doc_text(item["doc"]))
        return delivery.model_copy(update={"status": item["status"]["S"], "attempt_count": int(item["attempt_count"]["N"])})

    @staticmethod
    def _creation(delivery: Delivery, with_doc: bool = True) -> tuple[str, dict[str, Any]]:
        """What a record's first write sets (and later writes keep): the document (unless the write
        sets its own), the endpoint index keys, the expiry."""
        values = {
            ":g1pk": {"S": f"EP#{delivery.tenant_id}#{delivery.endpoint_id}"},
            ":g1sk": {"S": f"{_ts(delivery.created_at)}#{delivery.delivery_id}"},
            ":expires": {"N": str(_epoch(delivery.created_at + DELIVERY_RETENTION))},
        }
        expression = (
            "gsi1pk = if_not_exists(gsi1pk, :g1pk), gsi1sk = if_not_exists(gsi1sk, :g1sk), "
            "expires_at = if_not_exists(expires_at, :expires)"
        )
        if with_doc:
            values[":doc"] = pack_doc(delivery.model_dump_json())
            expression = f"doc = if_not_exists(doc, :doc), {expression}"
        return expression, values

    def claim(self, delivery: Delivery, now: datetime, lease_seconds: int) -> Claim:
        creation, values = self._creation(delivery)
        values.update(
            {
                ":delivering": {"S": "delivering"},
                ":pending": {"S": "pending"},
                ":retrying": {"S": "retrying"},
                ":now": {"N": str(_epoch(now))},
                ":lease": {"N": str(_epoch(now) + lease_seconds)},
                ":due": {"N": str(_epoch(now) + 1)},
                ":zero": {"N": "0"},
                ":one": {"N": "1"},
            }
        )
        try:
            response = self.client.update_item(
                TableName=self._table,
                Key=self._key(delivery.delivery_id),
                UpdateExpression=(
                    "SET #status = :delivering, lease_until = :lease, hold_due = :due, hold_until = :lease, "
                    f"attempt_count = if_not_exists(attempt_count, :zero) + :one, {creation}"
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

    def record_first(self, delivery: Delivery, attempt: Attempt, hold: tuple[datetime, datetime] | None = None) -> bool:
        creation, values = self._creation(delivery, with_doc=False)
        sets, removes = self._outcome(delivery.with_attempt(attempt), hold, values)
        values.update({":pending": {"S": "pending"}, ":one": {"N": "1"}})
        try:
            self.client.update_item(
                TableName=self._table,
                Key=self._key(delivery.delivery_id),
                UpdateExpression=f"SET {', '.join([*sets, 'attempt_count = :one', creation])}"
                + (f" REMOVE {', '.join(removes)}" if removes else ""),
                # no record, or one a deferral left pending before any attempt (never a replayed one)
                ConditionExpression="attribute_not_exists(pk) OR (#status = :pending AND attempt_count = :zero)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values,
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    @staticmethod
    def _outcome(
        updated: Delivery, hold: tuple[datetime, datetime] | None, values: dict[str, Any]
    ) -> tuple[list[str], list[str]]:
        """The SET and REMOVE clauses (and their ``values``) that record an attempt's outcome."""
        values.update(
            {":status": {"S": updated.status}, ":outcome_doc": pack_doc(updated.model_dump_json()), ":zero": {"N": "0"}}
        )
        sets = ["#status = :status", "doc = :outcome_doc", "lease_until = :zero"]
        removes: list[str] = []
        if hold is not None:
            values[":due"], values[":until"] = {"N": str(_epoch(hold[0]))}, {"N": str(_epoch(hold[1]))}
            sets += ["hold_due = :due", "hold_until = :until"]
        else:
            removes += ["hold_due", "hold_until"]
        if updated.status in _PROBLEMS:  # the index key is written once per problem, not once per retry
            values[":g2pk"] = {"S": f"PROBLEM#{updated.tenant_id}"}
            values[":g2sk"] = {"S": f"{_ts(updated.updated_at)}#{updated.delivery_id}"}
            sets += ["gsi2pk = :g2pk", "gsi2sk = if_not_exists(gsi2sk, :g2sk)"]
        else:
            removes += ["gsi2pk", "gsi2sk"]
        return sets, removes

    def finish(self, delivery: Delivery, attempt: Attempt, hold: tuple[datetime, datetime] | None = None) -> None:
        updated = delivery.with_attempt(attempt)
        values: dict[str, Any] = {}
        sets, removes = self._outcome(updated, hold, values)
        self.client.update_item(
            TableName=self._table,
            Key=self._key(updated.delivery_id),
            UpdateExpression=f"SET {', '.join(sets)}" + (f" REMOVE {', '.join(removes)}" if removes else ""),
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values,
        )

    def get(self, delivery_id: str) -> Delivery | None:
        item = self.client.get_item(TableName=self._table, Key=self._key(delivery_id), ConsistentRead=True).get("Item")
        return self._from_item(item) if item else None

    def _query(self, request: dict[str, Any], limit: int) -> list[Delivery]:
        """The records a KEYS_ONLY index query names, in the index's order (read from the table)."""
        keys: list[dict[str, Any]] = []
        for page in self.client.get_paginator("query").paginate(**request, PaginationConfig={"PageSize": min(limit, 100)}):
            keys.extend({"pk": item["pk"], "sk": item["sk"]} for item in page.get("Items", []))
            if len(keys) >= limit:
                break
        keys = keys[:limit]
        found: dict[str, Delivery] = {}
        for start in range(0, len(keys), 100):
            for item in self._batch_get({self._table: {"Keys": keys[start : start + 100]}}):
                found[item["pk"]["S"]] = self._from_item(item)
        return [found[key["pk"]["S"]] for key in keys if key["pk"]["S"] in found]

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
                UpdateExpression=(
                    "SET #status = :pending, doc = :doc, lease_until = :zero REMOVE gsi2pk, gsi2sk, hold_due, hold_until"
                ),
                ConditionExpression="attempt_count = :count AND (#status <> :delivering OR lease_until < :now)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":pending": {"S": "pending"},
                    ":delivering": {"S": "delivering"},
                    ":doc": pack_doc(reopened.model_dump_json()),
                    ":zero": {"N": "0"},
                    ":count": {"N": str(current.attempt_count)},
                    ":now": {"N": str(_epoch(now))},
                },
            )
        except self.client.exceptions.ConditionalCheckFailedException as error:
            raise InvalidInput(f"delivery '{delivery_id}' is being attempted right now; replay it later") from error
        return reopened

    def hold(self, delivery: Delivery, due: datetime, until: datetime) -> None:
        creation, values = self._creation(delivery)
        values.update(
            {
                ":pending": {"S": "pending"},
                ":retrying": {"S": "retrying"},
                ":delivering": {"S": "delivering"},
                ":zero": {"N": "0"},
                ":due": {"N": str(_epoch(due))},
                ":until": {"N": str(_epoch(until))},
            }
        )
        try:
            self.client.update_item(
                TableName=self._table,
                Key=self._key(delivery.delivery_id),
                UpdateExpression=(
                    "SET #status = if_not_exists(#status, :pending), attempt_count = if_not_exists(attempt_count, :zero), "
                    f"lease_until = if_not_exists(lease_until, :zero), hold_due = :due, hold_until = :until, {creation}"
                ),
                ConditionExpression="attribute_not_exists(pk) OR #status IN (:pending, :retrying, :delivering)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values,
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return  # settled meanwhile: it holds nothing back

    def states(self, delivery_ids: list[str], consistent: bool = True) -> dict[str, RecordState]:
        unique = list(dict.fromkeys(delivery_ids))
        found: dict[str, RecordState] = {}
        for start in range(0, len(unique), 100):
            request = {
                self._table: {
                    "Keys": [self._key(delivery_id) for delivery_id in unique[start : start + 100]],
                    "ConsistentRead": consistent,
                    "ProjectionExpression": "pk, #status, attempt_count, lease_until, hold_due, hold_until",
                    "ExpressionAttributeNames": {"#status": "status"},
                }
            }
            for item in self._batch_get(request):
                found[item["pk"]["S"].removeprefix("DLV#")] = RecordState(
                    status=item["status"]["S"],
                    attempt_count=int(item["attempt_count"]["N"]),
                    lease_until=_time(item.get("lease_until")),
                    hold_due=_time(item.get("hold_due")),
                    hold_until=_time(item.get("hold_until")),
                )
        return found

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
