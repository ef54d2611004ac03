"""Ports: what the services need from the outside world. Adapters implement them
(DynamoDB in ``order_hub.adapters``), tests use in-memory fakes (``tests/fakes.py``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # annotations only: a function loads the models it uses, not every port's
    from pydantic import BaseModel

    from order_hub.models.api import ListQuery
    from order_hub.models.endpoints import Attempt, Delivery, Endpoint, EventChain
    from order_hub.models.order import Order, OrderEvent
    from order_hub.models.pricing import PricingRequest, ProviderQuotes
    from order_hub.models.tenant import ApiKey, Tenant
    from order_hub.models.wms import WmsOutbound, WmsPage


@dataclass(frozen=True)
class ListPage:
    items: list[dict[str, Any]]
    total: int
    exact: bool = True  # False: ``total`` counts the matches up to the end of the next page; more may follow


class OrderRepository(Protocol):
    def insert(self, order: Order, event: OrderEvent) -> Order | None:
        """Count a new order in its creation day, then store it with its first event (one conditional write).

        Returns ``None`` when stored, or the order already stored under the same key (the order is not
        written and its count is taken back). A crash between the writes leaves the day's count one high.
        """

    def get(self, tenant_id: str, warehouse_id: str, order_no: str, consistent: bool = True) -> Order | None:
        """One order: strongly consistent, or with ``consistent`` False eventually consistent (half the
        cost; may miss a write of the last second), for a caller whose conditional write catches that."""

    def replace(self, order: Order, expected_version: int, event: OrderEvent) -> None:
        """Atomically store ``order`` and ``event`` if the stored version is still ``expected_version``.

        Raises ``ConcurrentModification`` otherwise.
        """

    def list_page(self, tenant_id: str, query: ListQuery) -> ListPage:
        """One page of Shipper list items, newest first, plus the total number of matches (no scans).

        Reads in proportion to the page (and how deep it is), never the tenant's whole range: the total is
        exact for lists without filters other than a created range, else exact when the matches end within
        the next page, and otherwise the matches counted so far (``exact`` False)."""

    def get_many(self, tenant_id: str, warehouse_id: str, order_nos: list[str], consistent: bool = True) -> dict[str, Order]:
        """Several orders of one warehouse by number (missing ones are absent from the result);
        ``consistent`` as for ``get``."""

    def stored_size(self, order: Order, event: OrderEvent) -> int:
        """Bytes of the larger of the two items ``order`` and ``event`` would be stored as (DynamoDB's counting)."""

    def record_webhook(self, tenant_id: str, inbox_key: str, payload: str, change: tuple[Order, int, OrderEvent] | None) -> bool:
        """Store a webhook under its natural key, with the order change it causes: the order first
        (conditional on ``expected_version``; the change carries the webhook's mark, services.webhooks),
        then the inbox row. Not atomic: a crash between the two leaves the change without its row.

        Returns False (and writes nothing) when that key was stored before: a duplicate.
        Raises ``ConcurrentModification`` when the order's version moved (nothing written).
        """


class WmsClient(Protocol):
    """A tenant's warehouse, spoken to through Shipper's fulfilment API.

    Raise ``WmsUnavailable`` for anything worth retrying (5xx, timeouts, connection errors),
    ``WmsRejected`` for a refusal (4xx) and ``WmsAlreadyExists`` when a create finds the order there.
    """

    def create_outbound(self, body: dict[str, Any]) -> str:
        """Create an order in the WMS from its Shipper create body; returns the WMS order number."""

    def update_outbound(self, body: dict[str, Any]) -> None:
        """Replace an order's details in the WMS with its Shipper create body."""

    def cancel_outbound(self, warehouse_id: str, order_no: str, reason: str) -> None: ...

    def list_outbounds(self, warehouse_id: str, updated_start: date, updated_end: date, page: int, limit: int) -> WmsPage: ...

    def get_outbound(self, warehouse_id: str, order_no: str) -> WmsOutbound | None: ...


class WmsDirectory(Protocol):
    def client_for(self, tenant_id: str) -> WmsClient | None:
        """The tenant's WMS, or None when the tenant has no WMS configured."""


class CursorStore(Protocol):
    def get_cursor(self, tenant_id: str, warehouse_id: str) -> dict[str, Any] | None: ...

    def put_cursor(self, tenant_id: str, warehouse_id: str, cursor: dict[str, Any], owner: str | None = None) -> bool:
        """Store the cursor and release the poll lease. With ``owner``: only while that run holds the
        lease (False, nothing written, when it lapsed and another run took it)."""

    def take_poll_lease(
        self, tenant_id: str, warehouse_id: str, owner: str, now: datetime, until: datetime
    ) -> dict[str, Any] | None:
        """One poll run at a time per (tenant, warehouse): take the lease (free, or lapsed) until
        ``until`` and return the cursor ({} when there is none yet); None while another run holds it."""

    def list_tenants(self) -> list[Tenant]:
        """Every tenant (from a registry partition: no scan)."""


class RequestCounter(Protocol):
    """The tenants' shared request counters, one per tenant and epoch second (services.request_limits)."""

    def add_requests(self, tenant_id: str, second: int, count: int) -> int:
        """Add ``count`` to the tenant's counter of epoch ``second``; returns the new total."""


class TenantDirectory(Protocol):
    def get_tenant(self, tenant_id: str) -> Tenant | None: ...

    def create_tenant(self, tenant: Tenant) -> None:
        """Store a new tenant; raises ``InvalidInput`` if the id is taken."""

    def save_tenant(self, tenant: Tenant) -> None: ...

    def find_key(self, key_hash: str) -> ApiKey | None: ...

    def put_key(self, key: ApiKey) -> None: ...

    def list_keys(self, tenant_id: str) -> list[ApiKey]: ...

    def revoke_key(self, tenant_id: str, key_id: str, at: datetime) -> ApiKey:
        """Mark a key revoked; raises ``InvalidInput`` for an unknown key."""


class EndpointRegistry(Protocol):
    def list_endpoints(self, tenant_id: str) -> list[Endpoint]: ...

    def get_endpoint(self, tenant_id: str, endpoint_id: str, consistent: bool = True) -> Endpoint | None:
        """One endpoint (strongly consistent unless ``consistent`` is False), or None."""

    def put_endpoint(self, endpoint: Endpoint, create: bool = False) -> None:
        """Store an endpoint; with ``create`` raise ``InvalidInput`` when the id is taken."""


class EventStore(Protocol):
    def get_events(self, keys: list[tuple[str, str, str, int]]) -> dict[tuple[str, str, str, int], OrderEvent]:
        """Events by (tenant, warehouse, order_no, seq); missing ones (expired) are absent."""


class EventChainStore(Protocol):
    """The dispatcher's side of the stored events: each event with deliveries is stored with its chain."""

    def latest_chain(self, event: OrderEvent) -> EventChain | None:
        """The chain of the order's latest stored event at or before ``event.seq`` (strongly consistent;
        ``event.seq``'s own when a stream record comes again), or None."""

    def store_event(self, event: OrderEvent, chain: EventChain) -> None:
        """Store the event (``EVENT#<seq>``, what the worker renders and replays send) with its chain."""


@dataclass(frozen=True)
class RecordState:
    """What the order gate reads of a delivery record (one strongly consistent read)."""

    status: str
    attempt_count: int = 0
    lease_until: datetime | None = None  # while delivering: the claim's lease
    hold_due: datetime | None = None  # while it holds the order's later events at its endpoint
    hold_until: datetime | None = None

    def holds(self, now: datetime) -> bool:
        return self.hold_until is not None and self.hold_until > now

    def leased(self, now: datetime) -> bool:
        return self.status == "delivering" and self.lease_until is not None and self.lease_until >= now


@dataclass(frozen=True)
class Claim:
    """The result of trying to take a delivery for an attempt."""

    granted: bool
    delivery: Delivery | None = None  # with attempt_count already counting this attempt when granted


class DeliveryLog(Protocol):
    def claim(self, delivery: Delivery, now: datetime, lease_seconds: int) -> Claim:
        """Take the delivery for one attempt (creating its record on first sight).

        Granted when the record is new, pending or retrying, or its lease ran out; refused while
        another worker holds it, and once it is delivered, failed or skipped. A granted claim also
        holds the later events of the order at the endpoint back (due in 1 s, lapsing with the lease).
        """

    def record_first(self, delivery: Delivery, attempt: Attempt, hold: tuple[datetime, datetime] | None = None) -> bool:
        """Record a first attempt made without a claim, in one write: the record's creation (document,
        index keys, expiry), its status and attempt (``attempt_count`` 1) and ``hold``, on condition
        that no attempt is recorded yet (no record, or one a deferral left pending). False when a concurrent copy
        recorded first (nothing written: a recorded outcome is never overwritten)."""

    def finish(self, delivery: Delivery, attempt: Attempt, hold: tuple[datetime, datetime] | None = None) -> None:
        """Record an attempt (the history keeps the last few in full) and the delivery's new status;
        releases the lease. ``hold`` (due, until): the later events of the order at the endpoint wait
        for it (a retry); without it the delivery holds nothing back."""

    def get(self, delivery_id: str) -> Delivery | None: ...

    def list_problems(self, tenant_id: str, limit: int) -> list[Delivery]:
        """Deliveries that failed for good or are waiting for a retry, newest first (by when each became a problem)."""

    def list_for_endpoint(self, tenant_id: str, endpoint_id: str, since: datetime, limit: int) -> list[Delivery]:
        """Deliveries to one endpoint created since ``since``, oldest first."""

    def reopen(self, delivery_id: str, now: datetime) -> Delivery | None:
        """Make a delivery sendable again (replay): status pending, lease released, history kept."""

    def take_token(self, endpoint_key: str, limit_per_second: int, now: datetime) -> bool:
        """One send under an endpoint's rate limit (a counter per second); False when it is spent."""

    def allocate_message_ids(self, endpoint_key: str, count: int) -> int:
        """Reserve ``count`` consecutive message ids of an endpoint's counter; returns the first."""

    def hold(self, delivery: Delivery, due: datetime, until: datetime) -> None:
        """A deferred delivery (not attempted, its record created pending if new) holds the later events
        of its order at its endpoint back: look again at ``due``; the hold lapses at ``until``. A
        delivery already settled (delivered, failed, skipped) is left as it is."""

    def states(self, delivery_ids: list[str], consistent: bool = True) -> dict[str, RecordState]:
        """The records of ``delivery_ids`` that exist, by id: one batch read, strongly consistent unless
        ``consistent`` is False (the worker's gate reads its own record consistently and the previous
        event's at the endpoint eventually: a stale view of that one only shows it less settled)."""


@dataclass(frozen=True)
class Rendered:
    """A callback as a format rendered it (``order_hub.rendering.callbacks``): a JSON body, a path
    appended to the endpoint URL, and the receiver's dedupe key. What ``CallbackSender`` sends."""

    body: dict[str, Any]
    kind: str  # e.g. "OUTWARD_ORDER_CREATE", "pgi", "order_confirmation", "order.created"
    dedupe_key: str
    path: str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    """What happened to one HTTP request to an endpoint."""

    status_code: int | None = None  # None: no HTTP answer (timeout, connection error, refused)
    body: str = ""
    latency_ms: int = 0
    error: str = ""
    refused: bool = False  # the SSRF guard refused the address: permanent


class CallbackSender(Protocol):
    def send(self, endpoint: Endpoint, rendered: Rendered, delivery_id: str) -> SendResult:
        """POST the rendered request with the endpoint's auth (token/credential refresh included)."""


# --- domestic shipping prices (POST /v3/fulfillment/pricing/domestic) -----------------------------


class ProviderError(Exception):
    """A pricing provider could not answer (unreachable, refused the request, answered nonsense)."""


class LogisticsPricing(Protocol):
    """A source of shipping prices: the hub's rate card, or Shipper's logistics API."""

    name: str

    def quote(self, request: PricingRequest, tenant_id: str) -> ProviderQuotes:
        """Quotes for the parcel plus the couriers that could not quote it (their own errors).

        Raises ``ProviderError`` when the provider as a whole failed.
        """


class RateCardStore(Protocol):
    def get_rate_card(self, tenant_id: str) -> dict[str, Any] | None:
        """The tenant's stored rate card JSON (not yet validated), or None when it has none."""


LogisticsProviderFactory = Callable[[str, str], LogisticsPricing]
"""A Shipper logistics provider for a tenant's ``base_url`` and ``api_key``."""


# --- secrets, outbound URLs, queues -----------------------------------------------------------


class SecretReader(Protocol):
    def __call__(self, name: str) -> dict[str, Any] | None:
        """The JSON secret ``name`` (``order_hub.secret_names``), or None when it does not exist."""


class SecretWriter(Protocol):
    def __call__(self, name: str, value: dict[str, Any]) -> object:
        """Create or replace the JSON secret ``name``."""


class UrlGuard(Protocol):
    def check(self, url: str) -> None:
        """Raise ``order_hub.errors.UnsafeUrl`` when the hub may not call ``url`` (scheme, non-public address)."""


class MessageQueue(Protocol):
    """One work queue; every message is a pydantic model (``order_hub.models.messages``)."""

    def send(self, messages: Sequence[BaseModel], delay_seconds: int = 0) -> None:
        """Send all of them (delivered after ``delay_seconds``, at most 900); raise if any could not be sent."""

    def send_accepted(self, messages: Sequence[BaseModel]) -> int:
        """Send them in order, in as few requests as the queue allows; return how many leading
        messages it accepted (all: ``len(messages)``). Nothing after the first refused one counts as sent."""

    def retry_later(self, receipt_handle: str, seconds: int) -> None:
        """Bring a received message back after ``seconds`` (backoff without sleeping)."""

    def receive(self) -> list[tuple[str, str]]:
        """Up to 10 messages as (receipt handle, body)."""

    def delete(self, receipt_handle: str) -> None: ...


# --- tenant portal (one-time links and browser sessions) --------------------------------------


@dataclass(frozen=True)
class PortalSession:
    """A browser session of the tenant portal: the tenant it is scoped to, when it ends, and the
    CSRF token every form of the session must carry back (session-bound)."""

    tenant_id: str
    session_hash: str
    csrf_token: str
    expires_at: int  # epoch seconds


class PortalStore(Protocol):
    def put_link(self, tenant_id: str, token_hash: str, expires_at: int) -> None:
        """Store a one-time link token (its digest) until ``expires_at``."""

    def consume_link(self, tenant_id: str, token_hash: str, now: int) -> bool:
        """Mark the link used, once (a conditional write); False when unknown, used or expired."""

    def put_session(self, session: PortalSession) -> None: ...

    def get_session(self, tenant_id: str, session_hash: str) -> PortalSession | None:
        """The stored session (expired ones included: the caller compares ``expires_at``)."""

    def delete_session(self, tenant_id: str, session_hash: str) -> None: ...
