"""In-memory implementations of the ports (exercised by the unit tests, so they cannot rot)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from order_hub.errors import ConcurrentModification, InvalidInput, WmsAlreadyExists, WmsRejected
from order_hub.models.api import ListQuery
from order_hub.models.endpoints import Attempt, Delivery, Endpoint, EventChain
from order_hub.models.order import Order, OrderEvent
from order_hub.models.tenant import ApiKey, Tenant
from order_hub.models.wms import WmsOutbound, WmsPage
from order_hub.ports import Claim, ListPage, PortalSession, RecordState, SendResult
from order_hub.rendering.api_views import list_item
from order_hub.rendering.callbacks.base import Rendered

OrderKey = tuple[str, str, str]


class InMemoryOrderRepository:
    def __init__(self) -> None:
        self.orders: dict[OrderKey, Order] = {}
        self.events: list[OrderEvent] = []
        self.writes = 0
        self.batch_reads = 0
        self.fail_next_replace = 0
        self.crash_before_inbox = 0
        self.inbox: dict[tuple[str, str], str] = {}
        self.eventual_reads = 0
        self.lagging: dict[OrderKey, Order | None] = {}  # what the next eventually consistent read of a key returns

    @staticmethod
    def _key(order: Order) -> OrderKey:
        return (order.tenant_id, order.warehouse_id, order.order_no)

    def insert(self, order: Order, event: OrderEvent) -> Order | None:
        key = self._key(order)
        if key in self.orders:
            return self.orders[key]
        self.writes += 1
        self.orders[key] = order
        self.events.append(event)
        return None

    def get(self, tenant_id: str, warehouse_id: str, order_no: str, consistent: bool = True) -> Order | None:
        key = (tenant_id, warehouse_id, order_no)
        if not consistent:
            self.eventual_reads += 1
            if key in self.lagging:  # a replica that has not seen the last write yet
                return self.lagging.pop(key)
        return self.orders.get(key)

    def replace(self, order: Order, expected_version: int, event: OrderEvent) -> None:
        key = self._key(order)
        stored = self.orders.get(key)
        if self.fail_next_replace:
            self.fail_next_replace -= 1
            raise ConcurrentModification("simulated concurrent writer")
        if stored is None or stored.version != expected_version:
            raise ConcurrentModification("version mismatch")
        self.writes += 1
        self.orders[key] = order
        self.events.append(event)

    def get_many(self, tenant_id: str, warehouse_id: str, order_nos: list[str], consistent: bool = True) -> dict[str, Order]:
        self.batch_reads += 1
        found = {
            no: self.orders[(tenant_id, warehouse_id, no)] for no in order_nos if (tenant_id, warehouse_id, no) in self.orders
        }
        if not consistent:
            self.eventual_reads += 1
            for no in order_nos:
                if (tenant_id, warehouse_id, no) in self.lagging:
                    stale = self.lagging.pop((tenant_id, warehouse_id, no))
                    if stale is None:
                        found.pop(no, None)
                    else:
                        found[no] = stale
        return found

    def stored_size(self, order: Order, event: OrderEvent) -> int:
        return max(len(order.model_dump_json().encode()), len(event.model_dump_json().encode()))

    def record_webhook(self, tenant_id: str, inbox_key: str, payload: str, change: tuple[Order, int, OrderEvent] | None) -> bool:
        """As DynamoOrderRepository: the inbox looked up, the order's change, then the inbox row; set
        ``crash_before_inbox`` to stop (raise) between the two writes, as a function that dies there."""
        key = (tenant_id, inbox_key)
        if key in self.inbox:
            return False
        if change is not None:
            order, expected_version, event = change
            self.replace(order, expected_version, event)
            if self.crash_before_inbox:
                self.crash_before_inbox -= 1
                raise RuntimeError("simulated crash between the order's write and the inbox row's")
        self.inbox[key] = payload
        return True

    def list_page(self, tenant_id: str, query: ListQuery) -> ListPage:
        def within(stamp: datetime, start: date | None, end: date | None) -> bool:
            return (start is None or stamp.date() >= start) and (end is None or stamp.date() <= end)

        def matches(order: Order) -> bool:
            return (
                order.tenant_id == tenant_id
                and within(order.created_at, query.created_start, query.created_end)
                and within(order.updated_at, query.updated_start, query.updated_end)
                and (query.warehouse_id is None or order.warehouse_id == query.warehouse_id)
                and (query.order_type is None or order.order_type == query.order_type)
                and (query.so_status is None or order.status == query.so_status)
                and (query.outbound_type == "OMS" or order.in_wms)
            )

        by_created = query.created_start is not None or query.created_end is not None
        by_created = by_created or (query.updated_start is None and query.updated_end is None)
        found = sorted(
            (o for o in self.orders.values() if matches(o)),
            # by_updated: newest day of the last change first, then newest created (DynamoOrderRepository's order)
            key=lambda o: (o.created_at if by_created else (o.updated_at.date(), o.created_at), o.warehouse_id, o.order_no),
            reverse=True,
        )
        first = (query.page - 1) * query.limit
        return ListPage(items=[list_item(o) for o in found[first : first + query.limit]], total=len(found))

    def __contains__(self, key: OrderKey) -> bool:
        return key in self.orders


class InMemoryTenantDirectory:
    def __init__(self) -> None:
        self.tenants: dict[str, Tenant] = {}
        self.keys: dict[str, ApiKey] = {}
        self.cursors: dict[tuple[str, str], dict[str, Any]] = {}
        self.leases: dict[tuple[str, str], tuple[str, float]] = {}  # (tenant, warehouse) -> (owner, until)
        self.lookups = 0
        self.request_counts: dict[tuple[str, int], int] = {}  # (tenant, epoch second) -> requests added

    def add_requests(self, tenant_id: str, second: int, count: int) -> int:
        key = (tenant_id, second)
        self.request_counts[key] = self.request_counts.get(key, 0) + count
        return self.request_counts[key]

    def list_tenants(self) -> list[Tenant]:
        return list(self.tenants.values())

    def get_cursor(self, tenant_id: str, warehouse_id: str) -> dict[str, Any] | None:
        cursor = self.cursors.get((tenant_id, warehouse_id))
        return dict(cursor) if cursor is not None else None

    def put_cursor(self, tenant_id: str, warehouse_id: str, cursor: dict[str, Any], owner: str | None = None) -> bool:
        key = (tenant_id, warehouse_id)
        if owner is not None and self.leases.get(key, ("", 0.0))[0] != owner:
            return False
        self.cursors[key] = dict(cursor)
        self.leases.pop(key, None)
        return True

    def take_poll_lease(
        self, tenant_id: str, warehouse_id: str, owner: str, now: datetime, until: datetime
    ) -> dict[str, Any] | None:
        key = (tenant_id, warehouse_id)
        if key in self.leases and self.leases[key][1] >= now.timestamp():
            return None
        self.leases[key] = (owner, until.timestamp())
        return dict(self.cursors.get(key, {}))

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        self.lookups += 1
        return self.tenants.get(tenant_id)

    def create_tenant(self, tenant: Tenant) -> None:
        if tenant.tenant_id in self.tenants:
            raise InvalidInput(f"tenant '{tenant.tenant_id}' already exists", field="tenant_id")
        self.tenants[tenant.tenant_id] = tenant

    def save_tenant(self, tenant: Tenant) -> None:
        self.tenants[tenant.tenant_id] = tenant

    def find_key(self, key_hash: str) -> ApiKey | None:
        self.lookups += 1
        return self.keys.get(key_hash)

    def put_key(self, key: ApiKey) -> None:
        self.keys[key.key_hash] = key

    def list_keys(self, tenant_id: str) -> list[ApiKey]:
        return [key for key in self.keys.values() if key.tenant_id == tenant_id]

    def revoke_key(self, tenant_id: str, key_id: str, at: datetime) -> ApiKey:
        for digest, key in self.keys.items():
            if key.tenant_id == tenant_id and key.key_id == key_id:
                revoked = key.model_copy(update={"status": "revoked", "revoked_at": at})
                self.keys[digest] = revoked
                return revoked
        raise InvalidInput(f"tenant '{tenant_id}' has no key '{key_id}'", field="key_id")


class FakeWms:
    """A warehouse in memory: records calls, can be made to fail, keeps raw statuses per order."""

    def __init__(self) -> None:
        self.orders: dict[tuple[str, str], WmsOutbound] = {}
        self.bodies: list[dict[str, Any]] = []  # create/update bodies as sent
        self.calls: list[str] = []
        self.fail_with: Exception | None = None
        self.fail_times = 0
        self.refuse_cancel = False

    def _maybe_fail(self, name: str) -> None:
        self.calls.append(name)
        if self.fail_with is not None and self.fail_times > 0:
            self.fail_times -= 1
            raise self.fail_with

    def create_outbound(self, body: dict[str, Any]) -> str:
        self._maybe_fail("create")
        key = (body["warehouse_id"], body["so_number"])
        if key in self.orders:
            raise WmsAlreadyExists("already exists")
        self.orders[key] = WmsOutbound(order_no=body["so_number"], warehouse_id=body["warehouse_id"], so_status="OPEN")
        self.bodies.append(body)
        return f"WMSO-{len(self.orders)}"

    def update_outbound(self, body: dict[str, Any]) -> None:
        self._maybe_fail("update")
        stored = self.orders.get((body["warehouse_id"], body["so_number"]))
        if stored is not None and stored.so_status not in ("OPEN", "DUE_OUT"):
            raise WmsRejected(f"HTTP 400: order {body['so_number']} is already allocated ({stored.so_status})")
        self.bodies.append(body)

    def cancel_outbound(self, warehouse_id: str, order_no: str, reason: str) -> None:
        self._maybe_fail("cancel")
        if self.refuse_cancel:
            raise WmsRejected("HTTP 400: already allocated")
        stored = self.orders.get((warehouse_id, order_no))
        if stored is not None:
            self.orders[(warehouse_id, order_no)] = stored.model_copy(update={"so_status": "CANCELLED"})

    def set_status(self, warehouse_id: str, order_no: str, status: str, **extra: Any) -> None:
        stored = self.orders.get((warehouse_id, order_no)) or WmsOutbound(
            order_no=order_no, warehouse_id=warehouse_id, so_status=status
        )
        self.orders[(warehouse_id, order_no)] = stored.model_copy(update={"so_status": status, **extra})

    def list_outbounds(self, warehouse_id: str, updated_start: date, updated_end: date, page: int, limit: int) -> WmsPage:
        self._maybe_fail("list")
        rows = sorted((o for (wh, _), o in self.orders.items() if wh == warehouse_id), key=lambda o: o.order_no)
        pages = (len(rows) + limit - 1) // limit
        return WmsPage(items=rows[(page - 1) * limit : page * limit], total_pages=pages)

    def get_outbound(self, warehouse_id: str, order_no: str) -> WmsOutbound | None:
        self._maybe_fail("get")
        return self.orders.get((warehouse_id, order_no))


class InMemoryEndpointRegistry:
    def __init__(self) -> None:
        self.endpoints: dict[tuple[str, str], Endpoint] = {}
        self.reads = 0

    def list_endpoints(self, tenant_id: str) -> list[Endpoint]:
        self.reads += 1
        return [e for (tenant, _), e in sorted(self.endpoints.items()) if tenant == tenant_id]

    def get_endpoint(self, tenant_id: str, endpoint_id: str, consistent: bool = True) -> Endpoint | None:
        return self.endpoints.get((tenant_id, endpoint_id))

    def put_endpoint(self, endpoint: Endpoint, create: bool = False) -> None:
        key = (endpoint.tenant_id, endpoint.endpoint_id)
        if create and key in self.endpoints:
            raise InvalidInput(f"endpoint '{endpoint.endpoint_id}' already exists", field="endpoint_id")
        self.endpoints[key] = endpoint


class InMemoryDeliveryLog:
    """Same claim/lease rules as the DynamoDB adapter (tests/integration checks the adapter itself)."""

    def __init__(self) -> None:
        self.records: dict[str, Delivery] = {}
        self.leases: dict[str, float] = {}
        self.tokens: dict[tuple[str, int], int] = {}
        self.counters: dict[str, int] = {}
        self.holds: dict[str, tuple[datetime, datetime]] = {}  # delivery id -> (due, until)
        self.state_reads: list[tuple[tuple[str, ...], bool]] = []  # (ids, consistent) of each states() call
        self.lagging: dict[str, RecordState | None] = {}  # what the next eventually consistent read of an id sees

    def claim(self, delivery: Delivery, now: datetime, lease_seconds: int) -> Claim:
        current = self.records.get(delivery.delivery_id)
        if current is not None:
            held = current.status == "delivering" and self.leases.get(delivery.delivery_id, 0) >= now.timestamp()
            if held or current.status not in ("pending", "retrying", "delivering"):
                return Claim(granted=False, delivery=current)
        base = current or delivery
        claimed = base.model_copy(update={"status": "delivering", "attempt_count": base.attempt_count + 1})
        self.records[delivery.delivery_id] = claimed
        self.leases[delivery.delivery_id] = now.timestamp() + lease_seconds
        self.holds[delivery.delivery_id] = (now + timedelta(seconds=1), now + timedelta(seconds=lease_seconds))
        return Claim(granted=True, delivery=claimed)

    def finish(self, delivery: Delivery, attempt: Attempt, hold: tuple[datetime, datetime] | None = None) -> None:
        self.records[delivery.delivery_id] = delivery.with_attempt(attempt)
        self.leases[delivery.delivery_id] = 0
        if hold is None:
            self.holds.pop(delivery.delivery_id, None)
        else:
            self.holds[delivery.delivery_id] = hold

    def get(self, delivery_id: str) -> Delivery | None:
        return self.records.get(delivery_id)

    def list_problems(self, tenant_id: str, limit: int) -> list[Delivery]:
        found = [d for d in self.records.values() if d.tenant_id == tenant_id and d.status in ("retrying", "failed")]
        return sorted(found, key=lambda d: d.updated_at, reverse=True)[:limit]

    def list_for_endpoint(self, tenant_id: str, endpoint_id: str, since: datetime, limit: int) -> list[Delivery]:
        mine = [d for d in self.records.values() if (d.tenant_id, d.endpoint_id) == (tenant_id, endpoint_id)]
        found = [d for d in mine if d.created_at >= since]
        return sorted(found, key=lambda d: d.created_at)[:limit]

    def reopen(self, delivery_id: str, now: datetime) -> Delivery | None:
        current = self.records.get(delivery_id)
        if current is None:
            return None
        if current.status == "delivering" and self.leases.get(delivery_id, 0) >= now.timestamp():
            raise InvalidInput(f"delivery '{delivery_id}' is being attempted right now; replay it later")
        reopened = current.model_copy(
            update={"status": "pending", "attempt_base": current.attempt_count, "replays": current.replays + 1, "updated_at": now}
        )
        self.records[delivery_id] = reopened
        self.holds.pop(delivery_id, None)
        return reopened

    def allocate_message_ids(self, endpoint_key: str, count: int) -> int:
        first = self.counters.get(endpoint_key, 0) + 1
        self.counters[endpoint_key] = first + count - 1
        return first

    def hold(self, delivery: Delivery, due: datetime, until: datetime) -> None:
        current = self.records.get(delivery.delivery_id)
        if current is not None and current.status not in ("pending", "retrying", "delivering"):
            return
        self.records.setdefault(delivery.delivery_id, delivery)
        self.holds[delivery.delivery_id] = (due, until)

    def states(self, delivery_ids: list[str], consistent: bool = True) -> dict[str, RecordState]:
        self.state_reads.append((tuple(delivery_ids), consistent))
        found: dict[str, RecordState] = {}
        for delivery_id in delivery_ids:
            if not consistent and delivery_id in self.lagging:  # a replica behind the last write
                if (stale := self.lagging.pop(delivery_id)) is not None:
                    found[delivery_id] = stale
                continue
            record = self.records.get(delivery_id)
            if record is None:
                continue
            due, until = self.holds.get(delivery_id, (None, None))
            lease = self.leases.get(delivery_id)
            found[delivery_id] = RecordState(
                status=record.status,
                attempt_count=record.attempt_count,
                lease_until=datetime.fromtimestamp(lease, UTC) if lease else None,
                hold_due=due,
                hold_until=until,
            )
        return found

    def record_first(self, delivery: Delivery, attempt: Attempt, hold: tuple[datetime, datetime] | None = None) -> bool:
        current = self.records.get(delivery.delivery_id)
        if current is not None and (current.status, current.attempt_count) != ("pending", 0):
            return False
        self.records[delivery.delivery_id] = delivery.model_copy(update={"attempt_count": 1}).with_attempt(attempt)
        self.leases[delivery.delivery_id] = 0
        if hold is None:
            self.holds.pop(delivery.delivery_id, None)
        else:
            self.holds[delivery.delivery_id] = hold
        return True

    def take_token(self, endpoint_key: str, limit_per_second: int, now: datetime) -> bool:
        key = (endpoint_key, int(now.timestamp()))
        if self.tokens.get(key, 0) >= limit_per_second:
            return False
        self.tokens[key] = self.tokens.get(key, 0) + 1
        return True


class InMemoryOutbox:
    """Stored events with their deliveries' chain (the dispatcher's side of ``DynamoOutbox``)."""

    def __init__(self) -> None:
        self.events: dict[tuple[str, str, str, int], tuple[OrderEvent, EventChain | None]] = {}
        self.reads = 0
        self.writes = 0

    def latest_chain(self, event: OrderEvent) -> EventChain | None:
        self.reads += 1
        order = (event.tenant_id, event.warehouse_id, event.order_no)
        stored = [(key[3], chain) for key, (_, chain) in self.events.items() if key[:3] == order and key[3] <= event.seq]
        if not stored:
            return None
        seq, chain = max(stored, key=lambda pair: pair[0])
        return chain or EventChain(seq=seq)

    def store_event(self, event: OrderEvent, chain: EventChain | None = None) -> None:
        self.writes += 1
        self.events[(event.tenant_id, event.warehouse_id, event.order_no, event.seq)] = (event, chain)

    def get_events(self, keys: list[tuple[str, str, str, int]]) -> dict[tuple[str, str, str, int], OrderEvent]:
        return {key: self.events[key][0] for key in keys if key in self.events}


class ScriptedSender:
    """Answers each send from a script of results (the last one repeats); records what was sent."""

    def __init__(self, *results: SendResult) -> None:
        self.results = list(results) or [SendResult(status_code=200, body="{}")]
        self.sent: list[tuple[Endpoint, Rendered, str]] = []
        self._lock = threading.Lock()

    def send(self, endpoint: Endpoint, rendered: Rendered, delivery_id: str) -> SendResult:
        with self._lock:
            self.sent.append((endpoint, rendered, delivery_id))
            return self.results.pop(0) if len(self.results) > 1 else self.results[0]


class FakeQueue:
    """A work queue in memory: what was sent, retried and deleted; ``inbox`` batches are received in turn."""

    def __init__(self, *inbox: list[tuple[str, str]]) -> None:
        self.sent: list[BaseModel] = []
        self.delays: list[int] = []  # the delay of each message in ``sent``
        self.retries: list[tuple[str, int]] = []
        self.inbox = list(inbox)
        self.deleted: list[str] = []

    def send(self, messages: Sequence[BaseModel], delay_seconds: int = 0) -> None:
        self.sent.extend(messages)
        self.delays.extend(delay_seconds for _ in messages)

    def send_accepted(self, messages: Sequence[BaseModel]) -> int:
        self.send(messages)
        return len(messages)

    def retry_later(self, receipt_handle: str, seconds: int) -> None:
        self.retries.append((receipt_handle, seconds))

    def receive(self) -> list[tuple[str, str]]:
        return self.inbox.pop(0) if self.inbox else []

    def delete(self, receipt_handle: str) -> None:
        self.deleted.append(receipt_handle)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [message.model_dump(mode="json") for message in self.sent]


class FakeUrlGuard:
    """The URL policy in memory: https only, and the listed hosts are refused (no DNS)."""

    def __init__(self, *refused_hosts: str) -> None:
        self.refused = set(refused_hosts)
        self.checked: list[str] = []

    def check(self, url: str) -> None:
        from urllib.parse import urlsplit

        from order_hub.errors import UnsafeUrl

        self.checked.append(url)
        parts = urlsplit(url)
        if parts.scheme != "https":
            raise UnsafeUrl("only https URLs may be called")
        if parts.hostname in self.refused:
            raise UnsafeUrl(f"{parts.hostname} is a private or non-public address")


class FakeSecrets:
    """Secrets Manager in memory: a reader and a writer over one dict."""

    def __init__(self) -> None:
        self.values: dict[str, dict[str, Any]] = {}

    def read(self, name: str) -> dict[str, Any] | None:
        return self.values.get(name)

    def write(self, name: str, value: dict[str, Any]) -> None:
        self.values[name] = dict(value)


class InMemoryPortalStore:
    """The portal's links and sessions, as ``adapters.dynamodb_portal.DynamoPortalStore`` keeps them."""

    def __init__(self) -> None:
        self.links: dict[tuple[str, str], dict[str, int]] = {}
        self.sessions: dict[tuple[str, str], PortalSession] = {}
        self.writes = 0

    def put_link(self, tenant_id: str, token_hash: str, expires_at: int) -> None:
        self.writes += 1
        self.links[(tenant_id, token_hash)] = {"expires_at": expires_at}

    def consume_link(self, tenant_id: str, token_hash: str, now: int) -> bool:
        self.writes += 1
        link = self.links.get((tenant_id, token_hash))
        if link is None or "used_at" in link or link["expires_at"] <= now:
            return False
        link["used_at"] = now
        return True

    def put_session(self, session: PortalSession) -> None:
        self.writes += 1
        self.sessions[(session.tenant_id, session.session_hash)] = session

    def get_session(self, tenant_id: str, session_hash: str) -> PortalSession | None:
        return self.sessions.get((tenant_id, session_hash))

    def delete_session(self, tenant_id: str, session_hash: str) -> None:
        self.writes += 1
        self.sessions.pop((tenant_id, session_hash), None)
