"""DynamoDB implementations of the repository ports.

Orders table (pk/sk):
- order:  pk ``ORDER#<tenant>#<warehouse>#<order_no>``, sk ``ORDER``; ``doc`` is the order JSON
  (zlib-compressed with a preset dictionary, Binary; plain zlib or String in older items, still read),
  ``version`` guards updates. Two list indexes, both spread over one partition per tenant and day (no
  tenant's writes meet in one key), one shared sort key ``gsi1sk`` = ``<created_at>#<warehouse>#<order_no>``
  (never changes):
  ``by_created`` (``gsi1pk`` ``C#<tenant>#<created day>``) projects ``warehouse_id`` and ``order_type``,
  which never change, and ``so_status`` only once the order has ended (``CLOSED``, ``CANCELLED``;
  absent while it is in flight), so its entry is written at the create and once more at the end,
  not at every status change: a list filtered on an ended status (or on the WMS, which knows every
  ended order) reads the index alone, one filtered on a status in flight reads the orders in flight.
  Items written before carry ``so_status`` for every status and ``in_wms``, still exact (any later
  write replaces them) and read as such. ``by_updated`` (``gsi2pk`` ``U#<tenant>#<day of the last
  change>``) projects ``warehouse_id`` and ``order_type`` and moves only when a change falls on a later
  day. Lists read the page's orders by key (no list item is stored).
  Each order write also carries its change's event (``event``: id, type, source, previous status):
  the orders table's stream is the outbox, and the dispatcher rebuilds each event from the new image
  (``event_from_image``), so a change is one conditional write, not a transaction with an event item.
- event:  same pk, sk ``EVENT#<seq>``: stored by the dispatcher (``DynamoOutbox``) for an event that has
  deliveries, for the delivery worker and replays; ``doc`` is the event JSON (with a full copy of the
  order), compressed the same way; expires after 90 days. It carries the deliveries' chain: ``last_at``
  (endpoint -> seq of the order's latest event planned there), ``prev_at`` (endpoint -> the seq planned
  there before this one) and ``message_ids`` (endpoint -> Increff ``messageId`` at ``last_at``); the
  next event's dispatch reads the latest record (Query, Limit 1) to link its deliveries.
- day counts: pk ``COUNTS#<tenant>``, sk ``M#<yyyy-mm>`` with ``c<dd>`` = orders created that day
  (added just before the create's conditional put, not in a transaction: a replay takes its count
  back, and a create whose function dies between the two writes leaves its day one high, never low),
  and ``U#<yyyy-mm-dd>`` markers of days on which orders created earlier changed (where ``by_updated``
  may hold entries). Lists find the days they read here, newest first, instead of reading the
  tenant's orders.
- inbox:  ``INBOX#<tenant>#<natural key>`` / ``INBOX``: webhooks (``payload`` compressed like ``doc``), for
  duplicate detection: written right after the order change the webhook causes (not in a transaction;
  the order carries the webhook's mark, services.webhooks).

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
from order_hub.jsonutil import doc_text, pack_doc
from order_hub.models.api import ListQuery
from order_hub.models.endpoints import EventChain
from order_hub.models.order import Order, OrderEvent
from order_hub.models.status import TERMINAL, ApiStatus
from order_hub.models.tenant import ApiKey, Tenant
from order_hub.ports import ListPage

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

EVENT_RETENTION = timedelta(days=90)
_KEY_END = "\uffff"
ITEM_LIMIT_BYTES = 400 * 1024
INBOX_PAYLOAD_BYTES = 300_000
MAX_LIST_CANDIDATES = 2_000  # index entries a filtered list reads at most (~150 B each: ~40 RRU at worst)
MAX_LIST_FETCHES = 100  # orders past the offset a filtered list reads at most to test a filter the index cannot
# (0.5 RRU each; at least this page and the next)
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


def event_item(event: OrderEvent, chain: EventChain | None = None) -> dict[str, Any]:
    """The stored event (``EVENT#<seq>``): what the delivery worker renders and replays re-send; with
    the deliveries' chain (``last_at``, ``prev_at``, ``message_ids``: small maps by endpoint id)."""
    item = {  # the event's id, type and time are in ``doc`` only: ~100 bytes more would take a PGI's record past 1 KB (2 WRU)
        "pk": {"S": order_pk(event.tenant_id, event.warehouse_id, event.order_no)},
        "sk": {"S": f"EVENT#{event.seq:012d}"},
        "entity": {"S": "event"},
        "seq": {"N": str(event.seq)},
        "expires_at": {"N": str(int((event.at + EVENT_RETENTION).timestamp()))},
        "doc": pack_doc(event.model_dump_json()),
    }
    if chain is not None:
        for name in ("last_at", "prev_at", "message_ids"):
            values: dict[str, int] = getattr(chain, name)
            if values:
                item[name] = {"M": {key: {"N": str(value)} for key, value in sorted(values.items())}}
    return item


def chain_of(item: Mapping[str, Any]) -> EventChain:
    """The chain stored with an event record (a record written before chains: empty maps)."""

    def numbers(name: str) -> dict[str, int]:
        return {key: int(value["N"]) for key, value in (item.get(name) or {}).get("M", {}).items()}

    return EventChain(
        seq=int(item["seq"]["N"]), last_at=numbers("last_at"), prev_at=numbers("prev_at"), message_ids=numbers("message_ids")
    )


def _event_attributes(event: OrderEvent) -> dict[str, Any]:
    """The change's event, beside the order it produced: ``<event_id> <type> <source> [<previous status>]``."""
    fields = [event.event_id, event.type, event.source] + ([event.previous_status.value] if event.previous_status else [])
    return {"event": {"S": " ".join(fields)}}


def event_from_image(image: Mapping[str, Any]) -> OrderEvent | None:
    """The event of one order version, from the order item as the stream shows it (DynamoDB JSON;
    binaries base64 in a Lambda event, bytes from boto3): None for anything else (a count, an inbox item,
    an event item, an order item without event metadata)."""
    if image.get("entity", {}).get("S") != "order" or "event" not in image or "doc" not in image:
        return None
    order = Order.model_validate_json(doc_text(image["doc"]))
    event_id, event_type, source, *previous = str(image["event"]["S"]).split(" ")
    return OrderEvent.model_validate(
        {
            "event_id": event_id,
            "type": event_type,
            "tenant_id": order.tenant_id,
            "warehouse_id": order.warehouse_id,
            "order_no": order.order_no,
            "seq": order.version,
            "at": order.updated_at,
            "source": source,
            "previous_status": previous[0] if previous else None,
            "order": order,
        }
    )


class DynamoOutbox(_DynamoAdapter):
    """The outbox is the orders table's stream: every order write carries its change's event metadata, and
    the dispatcher rebuilds the event from the new image. Events that have deliveries are stored
    (``EVENT#<seq>``, outside any transaction, idempotent) for the delivery worker and replays, with
    their deliveries' chain (``latest_chain`` reads the order's latest one: one Query, Limit 1)."""

    def event_of(self, image: Mapping[str, Any]) -> OrderEvent | None:
        return event_from_image(image)

    def latest_chain(self, event: OrderEvent) -> EventChain | None:
        response = self.client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :first AND :this",
            ExpressionAttributeValues={
                ":pk": {"S": order_pk(event.tenant_id, event.warehouse_id, event.order_no)},
                ":first": {"S": "EVENT#"},
                ":this": {"S": f"EVENT#{event.seq:012d}"},
            },
            ProjectionExpression="seq, last_at, prev_at, message_ids",
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = response.get("Items") or []
        return chain_of(items[0]) if items else None

    def store_event(self, event: OrderEvent, chain: EventChain | None = None) -> None:
        self.client.put_item(TableName=self._table, Item=event_item(event, chain))


class DynamoOrderRepository(_DynamoAdapter):
    def __init__(
        self, table_name: str, *, list_view: Callable[[Order], dict[str, Any]], client: DynamoDBClient | None = None
    ) -> None:
        super().__init__(table_name, client)
        self._list_view = list_view
        self._marked_days: set[tuple[str, str]] = set()  # (tenant, day) updated-day markers this container wrote

    # -- items -------------------------------------------------------------------------------
    def _order_item(self, order: Order, event: OrderEvent | None = None) -> dict[str, Any]:
        """The order item; with ``event``, the change's event metadata, from which the dispatcher
        rebuilds the event out of the stream's image of this version (``event_from_image``)."""
        created = _ts(order.created_at)
        entry = f"{created}#{order.warehouse_id}#{order.order_no}"
        return {
            "pk": {"S": order_pk(order.tenant_id, order.warehouse_id, order.order_no)},
            "sk": {"S": "ORDER"},
            "entity": {"S": "order"},
            # by_created: one partition per tenant and creation day; the entry is written at the create
            # and once more when the order ends (so_status below)
            "gsi1pk": {"S": f"C#{order.tenant_id}#{created[:10]}"},
            "gsi1sk": {"S": entry},
            # by_updated: one partition per tenant and day of the last change; the entry moves only when
            # a change falls on a later day (the sort key is the creation time, which never changes)
            "gsi2pk": {"S": f"U#{order.tenant_id}#{_ts(order.updated_at)[:10]}"},  # sort key: gsi1sk too
            "warehouse_id": {"S": order.warehouse_id},
            "order_type": {"S": order.order_type},
            # by_created's status: only once the order has ended (absent while in flight), so the entry is
            # written at the create and once more at the end, not at every status change
            **({"so_status": {"S": order.status.value}} if order.status in TERMINAL else {}),
            "version": {"N": str(order.version)},
            "doc": pack_doc(order.model_dump_json()),
            **(_event_attributes(event) if event is not None else {}),
        }

    def _event_item(self, event: OrderEvent) -> dict[str, Any]:
        return event_item(event)

    def _created_count(self, order: Order, delta: int) -> dict[str, Any]:
        """``delta`` added to the creation day's count (list totals)."""
        day = _ts(order.created_at)[:10]
        return {
            "TableName": self._table,
            "Key": _counts_key(order.tenant_id, day),
            "UpdateExpression": "ADD #day :one",
            "ExpressionAttributeNames": {"#day": f"c{day[8:]}"},
            "ExpressionAttributeValues": {":one": {"N": str(delta)}},
        }

    def _mark_updated_day(self, order: Order) -> None:
        """Note that ``by_updated`` may hold entries of the order's update day (lists find its partition).

        Only needed for a day other than the creation day (those are counted); idempotent, written before
        the change (a crash in between leaves a day that is looked at and found empty), once per container."""
        day = _ts(order.updated_at)[:10]
        if day == _ts(order.created_at)[:10] or (order.tenant_id, day) in self._marked_days:
            return
        self.client.put_item(
            TableName=self._table,
            Item={"pk": {"S": _counts_pk(order.tenant_id)}, "sk": {"S": f"U#{day}"}, "entity": {"S": "day"}},
        )
        self._marked_days.add((order.tenant_id, day))

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
        return max(item_size(self._order_item(order, event)), item_size(self._event_item(event)))

    def insert(self, order: Order, event: OrderEvent) -> Order | None:
        """The creation day's count, then a conditional PutItem of the order (new key only): two plain
        writes, not a transaction (which bills every item twice).

        A replay (the key exists) takes its count back, so it never counts twice. The count goes first
        because a count one too high only repeats an order at a page boundary, while one too low could
        leave an order out of every list (a day whose count is 0 is not read): a function that dies
        between the two writes (or between a replay's two), or a put that fails otherwise (a timeout may
        still have stored it), leaves its day one high, never low."""
        item = self._checked(self._order_item(order, event))
        self.client.update_item(**self._created_count(order, 1))
        try:
            self.client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException as error:
            response: dict[str, Any] = dict(error.response)
            old: dict[str, Any] = response.get("Item") or {}  # ReturnValuesOnConditionCheckFailure
            existing = Order.model_validate_json(doc_text(old["doc"])) if "doc" in old else None
            existing = existing or self.get(order.tenant_id, order.warehouse_id, order.order_no)
            if existing == order:
                return None  # this very put, retried by the SDK after a lost answer: stored and counted once
            self.client.update_item(**self._created_count(order, -1))
            if existing is None:  # deleted in between: extremely unlikely, let the caller retry
                raise ConcurrentModification("order changed while it was being created; retry") from error
            return existing
        return None

    def get(self, tenant_id: str, warehouse_id: str, order_no: str, consistent: bool = True) -> Order | None:
        response = self.client.get_item(
            TableName=self._table,
            Key={"pk": {"S": order_pk(tenant_id, warehouse_id, order_no)}, "sk": {"S": "ORDER"}},
            ConsistentRead=consistent,
            ProjectionExpression="doc",
        )
        item = response.get("Item")
        return Order.model_validate_json(doc_text(item["doc"])) if item else None

    def replace(self, order: Order, expected_version: int, event: OrderEvent) -> None:
        self._mark_updated_day(order)
        try:
            self.client.put_item(**self._conditional_order_put(order, expected_version, event)["Put"])
        except self.client.exceptions.ConditionalCheckFailedException as error:
            raise ConcurrentModification(f"order_no '{order.order_no}' changed since version {expected_version}") from error

    def get_many(self, tenant_id: str, warehouse_id: str, order_nos: list[str], consistent: bool = True) -> dict[str, Order]:
        found = self._orders_by_pk([order_pk(tenant_id, warehouse_id, no) for no in order_nos], consistent=consistent)
        return {order.order_no: order for order in found.values()}

    def _orders_by_pk(self, pks: list[str], consistent: bool) -> dict[str, Order]:
        """Orders by item key (100 per BatchGetItem; unprocessed keys via ``_batch_get``'s backoff)."""
        found: dict[str, Order] = {}
        unique = list(dict.fromkeys(pks))
        for start in range(0, len(unique), 100):
            keys: list[dict[str, Any]] = [{"pk": {"S": pk}, "sk": {"S": "ORDER"}} for pk in unique[start : start + 100]]
            request: dict[str, Any] = {
                self._table: {"Keys": keys, "ConsistentRead": consistent, "ProjectionExpression": "pk, doc"}
            }
            for item in self._batch_get(request):
                found[item["pk"]["S"]] = Order.model_validate_json(doc_text(item["doc"]))
        return found

    def record_webhook(self, tenant_id: str, inbox_key: str, payload: str, change: tuple[Order, int, OrderEvent] | None) -> bool:
        """The inbox row alone (conditional on a new key), or with a change: the inbox looked up (a
        duplicate writes nothing), the order's conditional put, then the inbox row. Plain writes, not a
        transaction (which billed both items twice): the order carries the webhook's mark, which is how
        a retry after a crash between the two writes is recognised (services.webhooks)."""
        now = datetime.now(UTC)
        inbox: dict[str, Any] = {
            "TableName": self._table,
            "Item": {
                "pk": {"S": f"INBOX#{tenant_id}#{inbox_key}"},
                "sk": {"S": "INBOX"},
                "entity": {"S": "inbox"},
                "received_at": {"S": _ts(now)},
                "matched": {"BOOL": change is not None},
                "payload": pack_doc(_utf8_prefix(payload, INBOX_PAYLOAD_BYTES)),  # read with doc_text
                "expires_at": {"N": str(int((now + EVENT_RETENTION).timestamp()))},
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        if change is not None:
            if self._inbox_has(tenant_id, inbox_key):
                return False  # a duplicate whose mark has left the order: nothing is written
            order, expected_version, event = change
            self._mark_updated_day(order)
            try:
                self.client.put_item(**self._conditional_order_put(order, expected_version, event)["Put"])
            except self.client.exceptions.ConditionalCheckFailedException as error:
                raise ConcurrentModification(f"inbox {inbox_key}: order changed meanwhile") from error
        try:
            self.client.put_item(**inbox)
        except self.client.exceptions.ConditionalCheckFailedException:
            # Without a change: the inbox key was stored before, a duplicate. With one (just applied): a
            # retry of the same webhook found this change's mark and stored the row first.
            return change is not None
        return True

    def _inbox_has(self, tenant_id: str, inbox_key: str) -> bool:
        """Whether the inbox holds ``inbox_key`` (eventually consistent: the order's webhook marks cover
        the moment after a write; this covers older duplicates)."""
        response = self.client.get_item(
            TableName=self._table,
            Key={"pk": {"S": f"INBOX#{tenant_id}#{inbox_key}"}, "sk": {"S": "INBOX"}},
            ProjectionExpression="pk",
        )
        return "Item" in response

    def _conditional_order_put(self, order: Order, expected_version: int, event: OrderEvent) -> Any:
        return {
            "Put": {
                "TableName": self._table,
                "Item": self._checked(self._order_item(order, event)),
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
            }
        }

    def bulk_load(self, orders: list[Order]) -> None:
        """Store orders as creates would (items, index entries, day counts) without their events: for
        benchmarks and tests that need many orders fast (25 per BatchWriteItem, one count update per day)."""
        per_day: dict[tuple[str, str], int] = {}
        items = [self._order_item(order) for order in orders]
        for order in orders:
            key = (order.tenant_id, _ts(order.created_at)[:10])
            per_day[key] = per_day.get(key, 0) + 1
        for start in range(0, len(items), 25):
            request: dict[str, Any] = {self._table: [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]}
            while request:
                request = dict(self.client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {})
        for (tenant_id, day), count in per_day.items():
            self.client.update_item(
                TableName=self._table,
                Key=_counts_key(tenant_id, day),
                UpdateExpression="ADD #day :count",
                ExpressionAttributeNames={"#day": f"c{day[8:]}"},
                ExpressionAttributeValues={":count": {"N": str(count)}},
            )

    # -- lists -------------------------------------------------------------------------------
    def list_page(self, tenant_id: str, query: ListQuery) -> ListPage:
        """One page, newest first, reading what the page needs rather than the tenant's orders.

        The created index (or the updated index when only an updated range is given) is split into one
        partition per tenant and day; the days that have orders come from the tenant's day counts
        (``COUNTS#<tenant>``), newest first, and each day's partition is read newest first, so pages
        merge across days in order. Without filters (other than a created range) the total is the sum of
        the day counts (exact), whole days before the page are skipped by their count, and the page's
        orders are read by key. Otherwise the candidates are read in order, filtered by the index where it
        projects the attribute (warehouse and order type) and else on
        the orders (status, WMS), up to the end of the next page and within a read budget beyond the page's offset
        (``MAX_LIST_CANDIDATES`` entries, ``MAX_LIST_FETCHES`` orders past the ones before the page, so a
        deep page of a common filter is read, and a rare filter costs a bounded read): the total is exact
        when that reached the last candidate,
        else it counts the matches found so far (``ListPage.exact`` False).
        """
        by_created = query.created_start is not None or query.created_end is not None
        by_updated = query.updated_start is not None or query.updated_end is not None
        use_updated = by_updated and not by_created
        start = query.updated_start if use_updated else query.created_start
        end = query.updated_end if use_updated else query.created_end
        days = self._days(tenant_id, "U" if use_updated else "C", start, end)
        index = ("by_updated", "gsi2pk", "U") if use_updated else ("by_created", "gsi1pk", "C")
        first = (query.page - 1) * query.limit

        in_index = {"warehouse_id": query.warehouse_id, "order_type": query.order_type}
        index_filters = {name: value for name, value in in_index.items() if value is not None}
        tests: dict[str, str] = {}  # by_created's status: its own test where equality is not it (module docstring)
        if not use_updated and query.so_status is not None:
            index_filters["so_status"] = query.so_status.value
            if query.so_status not in TERMINAL:  # in flight: absent from newer entries
                tests["so_status"] = "(#so_status = :so_status OR attribute_not_exists(#so_status))"
        if not use_updated and query.outbound_type == "WMS":  # entries of older items say so; ended orders are known there
            index_filters["in_wms"] = "1"
            tests["in_wms"] = "(#in_wms = :in_wms OR attribute_not_exists(#in_wms))"

        def on_entry(entry: dict[str, Any]) -> bool | None:
            """What the index entry decides: a match, not one, or None (read the order)."""
            status = entry.get("so_status", {}).get("S")
            in_wms = entry.get("in_wms", {}).get("S")
            known_in_wms = in_wms == "1" if in_wms is not None else (True if status and status != ApiStatus.REGISTERED else None)
            verdict: bool | None = True
            if query.so_status is not None:
                if status is None:
                    verdict = None
                elif status != query.so_status.value:
                    return False
            if query.outbound_type == "WMS":
                if known_in_wms is None:
                    verdict = None
                elif not known_in_wms:
                    return False
            return None if by_created and by_updated else verdict

        def on_order(order: Order) -> bool:
            return (
                (query.so_status is None or order.status == query.so_status)
                and (query.outbound_type != "WMS" or order.in_wms)
                and (
                    not (by_created and by_updated)
                    or _in_range(_ts(order.updated_at)[:10], query.updated_start, query.updated_end)
                )
            )

        filtered = query.so_status is not None or query.outbound_type == "WMS" or (by_created and by_updated)
        decided = not (by_created and by_updated) and (
            (query.so_status is None and query.outbound_type != "WMS") or (not use_updated and query.so_status in TERMINAL)
        )  # the index alone decides every entry
        if not use_updated and not filtered and not index_filters:
            total = sum(count for _, count in days)
            skip, keys = first, list[str]()
            for day, count in days:
                if skip >= count:
                    skip -= count
                    continue
                wanted = skip + query.limit - len(keys)
                entries = self._entries(tenant_id, index, day, {}, wanted)
                keys += entries[skip:wanted]
                skip = 0
                if len(keys) >= query.limit:
                    break
            orders = self._orders_by_pk(keys, consistent=False)
            return ListPage(items=[self._list_view(orders[key]) for key in keys if key in orders], total=total)
        # Filtered: the candidates in order, up to the end of the next page, within a read budget.
        wanted = first + 2 * query.limit
        max_candidates, max_fetches = first + MAX_LIST_CANDIDATES, first + max(MAX_LIST_FETCHES, 2 * query.limit)
        matches: list[Order | str] = []
        exhausted, read, fetched_count = True, 0, 0
        for position, (day, _) in enumerate(days):
            last: dict[str, Any] | None = None
            while len(matches) < wanted and read < max_candidates and fetched_count < max_fetches:
                if decided:  # entries are cheap (~150 B): few calls, as each rounds its RRU up
                    size = min(max(100, wanted - len(matches)), max_candidates - read)
                else:  # an entry may cost an order read (0.5 RRU): no more than the page needs
                    size = max(1, min(wanted - len(matches), max_fetches - fetched_count, max_candidates - read))
                scanned, last, evaluated = self._entry_page(tenant_id, index, day, index_filters, size, last, tests)
                read += evaluated
                verdicts = [(entry["pk"]["S"], on_entry(entry)) for entry in scanned]
                unknown = [key for key, verdict in verdicts if verdict is None]
                fetched = self._orders_by_pk(unknown, consistent=False) if unknown else {}
                fetched_count += len(unknown)
                for key, verdict in verdicts:
                    if verdict:
                        matches.append(key)
                    elif verdict is None and key in fetched and on_order(fetched[key]):
                        matches.append(fetched[key])
                if last is None:
                    break
            budget_left = read < max_candidates and fetched_count < max_fetches
            if last is not None or (position < len(days) - 1 and (len(matches) >= wanted or not budget_left)):
                exhausted = False
                break
        if not exhausted:
            matches = matches[:wanted]  # the total counts up to the end of the next page, no further
        page = matches[first : first + query.limit]
        pending = [entry for entry in page if isinstance(entry, str)]
        found = self._orders_by_pk(pending, consistent=False) if pending else {}
        shown = [entry if isinstance(entry, Order) else found.get(entry) for entry in page]
        items = [self._list_view(order) for order in shown if order is not None]
        return ListPage(items=items, total=len(matches), exact=exhausted)

    def _days(self, tenant_id: str, kind: str, start: date | None, end: date | None) -> list[tuple[str, int]]:
        """(day, orders created that day) of the tenant's days in the range, newest first: days with
        orders created, plus for the updated index the days marked as holding later changes."""
        lo, hi = (start.isoformat() if start else "0000-00-00"), (end.isoformat() if end else "9999-99-99")
        counts: dict[str, int] = {}
        for item in self._query_all(
            KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
            ExpressionAttributeValues={
                ":pk": {"S": _counts_pk(tenant_id)},
                ":lo": {"S": f"M#{lo[:7]}"},
                ":hi": {"S": f"M#{hi[:7]}"},
            },
        ):
            month = item["sk"]["S"].removeprefix("M#")
            for name, value in item.items():
                if name.startswith("c") and len(name) == 3 and int(value["N"]) > 0:
                    counts[f"{month}-{name[1:]}"] = int(value["N"])
        if kind == "U":
            for item in self._query_all(
                KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
                ExpressionAttributeValues={":pk": {"S": _counts_pk(tenant_id)}, ":lo": {"S": f"U#{lo}"}, ":hi": {"S": f"U#{hi}"}},
            ):
                counts.setdefault(item["sk"]["S"].removeprefix("U#"), 0)
        return sorted(((day, n) for day, n in counts.items() if lo <= day <= hi), reverse=True)

    def _query_all(self, **request: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in self.client.get_paginator("query").paginate(TableName=self._table, **request):
            items.extend(page.get("Items", []))
        return items

    def _entries(self, tenant_id: str, index: tuple[str, str, str], day: str, filters: dict[str, str], count: int) -> list[str]:
        """The first ``count`` order keys of one day's index partition, newest first."""
        keys: list[str] = []
        last: dict[str, Any] | None = None
        while len(keys) < count:
            entries, last, _ = self._entry_page(tenant_id, index, day, filters, count - len(keys), last)
            keys += [entry["pk"]["S"] for entry in entries]
            if last is None:
                break
        return keys

    def _entry_page(
        self,
        tenant_id: str,
        index: tuple[str, str, str],
        day: str,
        filters: dict[str, str],
        limit: int,
        start: dict[str, Any] | None,
        tests: dict[str, str] | None = None,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None, int]:
        """Up to ``limit`` entries of one day's partition from ``start``, newest first, filtered on projected
        attributes (``filters``: attribute -> value, equal unless ``tests`` gives the attribute its own
        expression): (the matching entries, where to go on or None, entries read)."""
        name, pk_name, kind = index
        names: dict[str, str] = {"#pk": pk_name}
        values: dict[str, Any] = {":pk": {"S": f"{kind}#{tenant_id}#{day}"}}
        for attribute, value in filters.items():
            names[f"#{attribute}"] = attribute
            values[f":{attribute}"] = {"S": value}
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": name,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if filters:
            own = tests or {}
            request["FilterExpression"] = " AND ".join(own.get(name, f"#{name} = :{name}") for name in filters)
        if start:
            request["ExclusiveStartKey"] = start
        response = self.client.query(**request)
        items = response.get("Items", [])
        return (
            items,
            response.get("LastEvaluatedKey"),
            int(response.get("ScannedCount", len(items))),
        )


def _counts_pk(tenant_id: str) -> str:
    return f"COUNTS#{tenant_id}"


def _counts_key(tenant_id: str, day: str) -> dict[str, Any]:
    return {"pk": {"S": _counts_pk(tenant_id)}, "sk": {"S": f"M#{day[:7]}"}}


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

    def add_requests(self, tenant_id: str, second: int, count: int) -> int:
        """``count`` requests of the tenant added to its counter of epoch ``second`` (an item per tenant
        and second, removed by the table's TTL a minute later); the new total. Containers add in batches
        (services.request_limits), not once per request."""
        response = self.client.update_item(
            TableName=self._table,
            Key={"pk": {"S": f"RATE#{tenant_id}#{second}"}, "sk": {"S": "RATE"}},
            UpdateExpression="ADD n :count SET expires_at = :expires",
            ExpressionAttributeValues={":count": {"N": str(count)}, ":expires": {"N": str(second + 60)}},
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["n"]["N"])

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
