"""Order use cases: create, update, cancel, read, list.

Every change is one call to the repository that writes the order and its event together (the
event rides on the order's item; the table's stream is the outbox); updates are conditional on the
version read.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from order_hub.errors import (
    ConcurrentModification,
    InvalidInput,
    OrderConflict,
    OrderNotFound,
    TransitionRefused,
    WarehouseUnavailable,
    WmsRejected,
    WmsUnavailable,
)
from order_hub.models.api import CREATE_BODY_FIELDS, CREATE_ITEM_FIELDS, Cancellation, CreateOrderRequest, ListQuery
from order_hub.models.order import (
    CancelInfo,
    ChangeSource,
    Consignee,
    Courier,
    EventType,
    Line,
    Order,
    OrderEvent,
    StatusChange,
)
from order_hub.models.status import CHANGEABLE, ApiStatus
from order_hub.models.tenant import Tenant
from order_hub.ports import ListPage, OrderRepository, WmsClient
from order_hub.services.limits import check_fits, keep_history

Clock = Callable[[], datetime]
_EVENT_NAMESPACE = uuid.UUID("8a1e5f0c-3b1d-4a53-9f0e-0f7d2c4b6a10")
_WRITE_ATTEMPTS = 3


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CreateResult:
    order: Order
    created: bool


def body_digest(request: CreateOrderRequest) -> str:
    """Digest of the request as validated (defaults filled in, whitespace stripped)."""
    return hashlib.sha256(request.model_dump_json().encode("utf-8")).hexdigest()


def event_id_for(order: Order) -> str:
    """Deterministic: the same order version always yields the same event id."""
    return event_id_of(order.tenant_id, order.warehouse_id, order.order_no, order.version)


def event_id_of(tenant_id: str, warehouse_id: str, order_no: str, version: int) -> str:
    """The event id of an order's version ``version`` (the delivery worker derives earlier events' ids from it)."""
    return str(uuid.uuid5(_EVENT_NAMESPACE, f"{tenant_id}/{warehouse_id}/{order_no}/{version}"))


def make_event(order: Order, event_type: EventType, source: ChangeSource, previous: Order | None = None) -> OrderEvent:
    return OrderEvent(
        event_id=event_id_for(order),
        type=event_type,
        tenant_id=order.tenant_id,
        warehouse_id=order.warehouse_id,
        order_no=order.order_no,
        seq=order.version,
        at=order.updated_at,
        source=source,
        previous_status=previous.status if previous is not None else None,
        order=order,
    )


def _check_warehouse(tenant: Tenant, warehouse_id: str) -> None:
    if warehouse_id not in tenant.warehouse_ids:
        raise InvalidInput(f"warehouse_id '{warehouse_id}' is not a warehouse of this account", field="warehouse_id")


def _details_from_request(request: CreateOrderRequest) -> dict[str, object]:
    """The order fields a create or update body determines (``CREATE_BODY_FIELDS``)."""
    details: dict[str, object] = {}
    nested: dict[str, dict[str, object]] = {"consignee": {}, "courier": {}}
    for body_field, path in CREATE_BODY_FIELDS.items():
        value = getattr(request, body_field)
        owner, _, name = path.rpartition(".")
        if owner:
            nested[owner][name] = value
        else:
            details[name] = value
    lines = []
    for position, item in enumerate(request.items, start=1):
        fields = {line_field: getattr(item, item_field) for item_field, line_field in CREATE_ITEM_FIELDS.items()}
        fields["line_id"] = item.line_id or f"{request.so_number}-{position}"
        lines.append(Line(**fields, ext=item.ext))
    return {
        **details,
        "consignee": Consignee(**nested["consignee"]),
        "courier": Courier(**nested["courier"]),
        "payment": request.payment,
        "lines": lines,
        "ext": request.ext,
    }


def _check_tracking_id(tenant: Tenant, request: CreateOrderRequest) -> None:
    """Seed 002: for fulfilment-logistics clients the Shipper tracking id is mandatory."""
    if tenant.require_tracking_id and not request.tracking_id:
        raise InvalidInput("tracking_id is mandatory for this account (fulfilment-logistics client)", field="tracking_id")


def create_order(tenant: Tenant, request: CreateOrderRequest, repo: OrderRepository, now: Clock = utc_now) -> CreateResult:
    """Create once per (tenant, warehouse_id, so_number); a repeat with the same body returns the original."""
    _check_warehouse(tenant, request.warehouse_id)
    _check_tracking_id(tenant, request)
    at = now()
    digest = body_digest(request)
    order = Order.model_validate(
        {
            **_details_from_request(request),
            "tenant_id": tenant.tenant_id,
            "order_time": request.order_time or at,
            "status": ApiStatus.REGISTERED,
            "version": 1,
            "created_at": at,
            "updated_at": at,
            "history": [StatusChange(at=at, source="api", from_status=None, to_status=ApiStatus.REGISTERED)],
            "create_hash": digest,
            "body_hash": digest,
        }
    )
    check_fits(order, repo)
    existing = repo.insert(order, make_event(order, "order.created", "api"))
    if existing is None:
        return CreateResult(order=order, created=True)
    if existing.create_hash == digest:
        return CreateResult(order=existing, created=False)
    raise OrderConflict(
        f"so_number '{request.so_number}' already exists in warehouse '{request.warehouse_id}' with a different "
        "body; send the same body to retry, or use PUT /v3/fulfillment/outbound/oms to update it"
    )


def get_order(tenant: Tenant, warehouse_id: str, order_no: str, repo: OrderRepository) -> Order:
    order = repo.get(tenant.tenant_id, warehouse_id, order_no) if warehouse_id in tenant.warehouse_ids else None
    if order is None:
        raise OrderNotFound(f"order_no '{order_no}' not found in warehouse '{warehouse_id}'")
    return order


def _refuse_unless_changeable(order: Order, action: str) -> None:
    if order.status in CHANGEABLE:
        return
    if order.status == ApiStatus.CANCELLED:
        reason = "it is already CANCELLED"
    elif order.status == ApiStatus.CLOSED:
        reason = "it is already shipped (CLOSED)"
    else:
        reason = f"the warehouse has already allocated stock (status {order.status.value})"
    raise TransitionRefused(f"order_no '{order.order_no}' cannot be {action}: {reason}")


Change = Callable[[Order], tuple[Order, EventType] | None]


def _write_change(tenant: Tenant, warehouse_id: str, order_no: str, repo: OrderRepository, change: Change) -> Order:
    """Read, apply ``change`` and write conditionally on the version read; re-read and retry on a race.

    ``change`` returns the new order and its event type, or None when nothing is to be written.
    """
    for _ in range(_WRITE_ATTEMPTS):
        current = get_order(tenant, warehouse_id, order_no, repo)
        outcome = change(current)
        if outcome is None:
            return current
        changed, event_type = outcome
        try:
            repo.replace(changed, current.version, make_event(changed, event_type, "api", current))
        except ConcurrentModification:
            continue
        return changed
    raise ConcurrentModification(f"order_no '{order_no}' is being changed concurrently; retry the request")


def _refuse_identical_update(order: Order) -> None:
    """An identical body changes nothing, yet an order past the point of change says so rather than 200."""
    if order.status in CHANGEABLE:
        return
    try:
        _refuse_unless_changeable(order, "updated")
    except TransitionRefused as error:
        raise TransitionRefused(f"{error} (its details already equal this body)") from None


def update_order(
    tenant: Tenant,
    request: CreateOrderRequest,
    repo: OrderRepository,
    now: Clock = utc_now,
    wms: Callable[[], WmsClient | None] | None = None,
) -> Order:
    """Replace an order's details (same body as create) while no stock is allocated.

    An order the WMS already has is updated in the WMS first, synchronously, as cancel is: the
    warehouse decides the race with its own allocation. It took the update: 200 and the hub stores
    it (already forwarded); it refused (e.g. allocated a moment ago): ``TransitionRefused`` (400/810);
    it could not be reached: ``WarehouseUnavailable`` (503/803). In both failures nothing changes in
    the hub. An identical body changes nothing and answers the order, unless the order can no longer
    be updated (allocated, shipped, cancelled): then it is refused like any update.
    """
    _check_warehouse(tenant, request.warehouse_id)
    _check_tracking_id(tenant, request)
    digest = body_digest(request)
    taken_by_wms = False  # the WMS took this body: a lost write race must not ask (or refuse) again

    def change(current: Order) -> tuple[Order, EventType] | None:
        nonlocal taken_by_wms
        if current.body_hash == digest:
            _refuse_identical_update(current)
            return None  # same details again: nothing changes, no event
        if not taken_by_wms:
            _refuse_unless_changeable(current, "updated")
        updated = Order.model_validate(
            {
                **current.model_dump(),
                **_details_from_request(request),
                "order_time": request.order_time or current.order_time,
                "version": current.version + 1,
                "updated_at": now(),
                "body_hash": digest,
            }
        )
        check_fits(updated, repo)
        client = wms() if wms is not None and current.forward.state == "forwarded" and not taken_by_wms else None
        if client is not None:
            from order_hub.rendering.api_views import create_body

            try:
                client.update_outbound(create_body(updated))
            except WmsRejected as error:
                raise TransitionRefused(
                    f"order_no '{current.order_no}' cannot be updated: the warehouse refused ({error})"
                ) from error
            except WmsUnavailable as error:
                raise WarehouseUnavailable(
                    "The warehouse could not be reached; the order was not updated. Retry the request."
                ) from error
            taken_by_wms = True
        if taken_by_wms:
            forward = updated.forward.model_copy(
                update={"forwarded_body_hash": digest, "last_error": "", "last_attempt_at": updated.updated_at}
            )
            updated = updated.model_copy(update={"forward": forward})
        return updated, "order.updated"

    try:
        return _write_change(tenant, request.warehouse_id, request.so_number, repo, change)
    except ConcurrentModification:
        if not taken_by_wms:
            raise
        # The warehouse has the new details: keep trying to record them rather than leave the two apart.
        return _write_change(tenant, request.warehouse_id, request.so_number, repo, change)


@dataclass(frozen=True)
class CancelResult:
    order: Order
    replayed: bool = False  # the same cancel had already succeeded: nothing changed this time


def is_repeated_cancel(order: Order, cancellation: Cancellation) -> bool:
    """The order was cancelled through the API with this very reason: a retried request, not a new one."""
    return (
        order.status == ApiStatus.CANCELLED
        and order.cancel is not None
        and order.cancel.by == "api"
        and order.cancel.reason == cancellation.cancel_reason
    )


def cancel_order(
    tenant: Tenant,
    cancellation: Cancellation,
    repo: OrderRepository,
    now: Clock = utc_now,
    wms: Callable[[], WmsClient | None] | None = None,
) -> CancelResult:
    """Cancel while no stock is allocated (seed 004); refused once allocated or terminal.

    An order the WMS already has is cancelled in the WMS first, synchronously: the warehouse
    decides the race with its own allocation, and the client gets its answer (done, or 810).
    Repeating a cancel that succeeded (same reason, through the API) changes nothing and is a
    replay; an order cancelled otherwise (another reason, or by the warehouse) is refused.
    """
    replayed = False

    def change(current: Order) -> tuple[Order, EventType] | None:
        nonlocal replayed
        if is_repeated_cancel(current, cancellation):
            replayed = True
            return None
        _refuse_unless_changeable(current, "cancelled")
        forward = current.forward
        client = wms() if wms is not None and forward.state == "forwarded" else None
        if client is not None:
            try:
                client.cancel_outbound(current.warehouse_id, current.order_no, cancellation.cancel_reason)
            except WmsRejected as error:
                raise TransitionRefused(
                    f"order_no '{current.order_no}' cannot be cancelled: the warehouse refused ({error})"
                ) from error
            except WmsUnavailable as error:
                raise WarehouseUnavailable(
                    "The warehouse could not be reached; the order was not cancelled. Retry the request."
                ) from error
            forward = forward.model_copy(update={"state": "cancelled"})
        at = now()
        cancelled = current.model_copy(
            deep=True,
            update={
                "status": ApiStatus.CANCELLED,
                "version": current.version + 1,
                "updated_at": at,
                "cancel": CancelInfo(reason=cancellation.cancel_reason, at=at, by="api"),
                "forward": forward,
                "lines": [line.model_copy(update={"qty_cancelled": line.qty_ordered}) for line in current.lines],
                "history": keep_history(
                    current.history,
                    StatusChange(
                        at=at,
                        source="api",
                        from_status=current.status,
                        to_status=ApiStatus.CANCELLED,
                        note=cancellation.cancel_reason,
                    ),
                ),
            },
        )
        return cancelled, "order.cancelled"

    order = _write_change(tenant, cancellation.warehouse_id, cancellation.order_no, repo, change)
    return CancelResult(order=order, replayed=replayed)


def list_view(order: Order) -> dict[str, Any]:
    """What the order lists show of an order: stored with it for the list index (the repository keeps it as is)."""
    from order_hub.rendering.api_views import list_item

    return list_item(order)


def list_orders(tenant: Tenant, query: ListQuery, repo: OrderRepository) -> ListPage:
    if query.warehouse_id is not None and query.warehouse_id not in tenant.warehouse_ids:
        return ListPage(items=[], total=0)
    return repo.list_page(tenant.tenant_id, query)


def get_wms_order(tenant: Tenant, warehouse_id: str, order_no: str, repo: OrderRepository) -> Order:
    """The warehouse's view: orders still REGISTERED only exist in the hub, not in the WMS."""
    order = get_order(tenant, warehouse_id, order_no, repo)
    if not order.in_wms:
        raise OrderNotFound(
            f"order_no '{order_no}' is not in the warehouse yet (status {order.status.value}: no courier/AWB forwarded)"
        )
    return order
