"""Forward an order's current state to the tenant's WMS (driven by the outbox, never by the API call).

Idempotent: the forwarder acts on the order as stored, so a repeated or stale message does nothing
more than the first. A create that reached the WMS but whose result could not be stored is
recognised on the next attempt (the WMS answers "already exists"), so an order is never created twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from order_hub.errors import ConcurrentModification, WmsAlreadyExists, WmsRejected, WmsUnavailable
from order_hub.models.messages import WmsForwardMessage
from order_hub.models.order import EventType, ForwardState, Order
from order_hub.models.status import ApiStatus
from order_hub.ports import MessageQueue, OrderRepository, WmsClient, WmsDirectory
from order_hub.rendering.api_views import create_body
from order_hub.services.limits import ERROR_BYTES, clamp
from order_hub.services.orders import make_event, utc_now
from order_hub.services.status import Fact, apply_fact

_ATTEMPTS = 3
ForwardAction = Literal["created", "updated", "cancelled", "nothing", "waiting_for_courier", "refused", "missing", "no_wms"]
_DONE: dict[str, ForwardAction] = {"create": "created", "update": "updated", "cancel": "cancelled"}


@dataclass(frozen=True)
class ForwardResult:
    action: ForwardAction
    order: Order | None = None


@dataclass(frozen=True)
class ForwardOutcome:
    """What became of one queue message: forwarded (``result``), or retried after ``retry_in`` seconds."""

    result: ForwardResult | None = None
    retry_in: int | None = None
    error: str = ""


def backoff_for(receive_count: int, schedule: tuple[int, ...]) -> int:
    """The delay after the ``receive_count``-th failed attempt (the last step repeats)."""
    return schedule[min(max(receive_count, 1), len(schedule)) - 1]


def forward_message(
    message: WmsForwardMessage,
    repo: OrderRepository,
    directory: WmsDirectory,
    queue: MessageQueue,
    receipt_handle: str,
    receive_count: int,
    backoff: tuple[int, ...],
    now: Callable[[], datetime] = utc_now,
) -> ForwardOutcome:
    """One ``WmsForwardQueue`` message: forward the order; when the warehouse is down, the message
    comes back after the ``receive_count``-th step of ``backoff`` (SQS visibility, no sleeping)."""
    wms = directory.client_for(message.tenant_id)
    try:
        return ForwardOutcome(forward_order(message.tenant_id, message.warehouse_id, message.order_no, repo, wms, now))
    except WmsUnavailable as error:
        delay = backoff_for(receive_count, backoff)
        queue.retry_later(receipt_handle, delay)
        return ForwardOutcome(retry_in=delay, error=str(error))


def forward_order(
    tenant_id: str,
    warehouse_id: str,
    order_no: str,
    repo: OrderRepository,
    wms: WmsClient | None,
    now: Callable[[], datetime] = utc_now,
) -> ForwardResult:
    """Bring the WMS in line with the stored order. Raises ``WmsUnavailable`` to be retried later."""
    created_now: str | None = None  # the WMS order number, once this call created the order there
    found_there = False  # the create found the order in the WMS already: its details were sent again
    for _ in range(_ATTEMPTS):
        order = repo.get(tenant_id, warehouse_id, order_no)
        if order is None:
            return ForwardResult("missing")
        known_to_wms = created_now is not None or order.forward.state == "forwarded"
        try:
            step = _next_step(order, known_to_wms, created_now is not None)
            if step is None:
                idle: ForwardAction = "waiting_for_courier" if not order.has_courier and not known_to_wms else "nothing"
                return ForwardResult(idle, order)
            if wms is None:
                return ForwardResult("no_wms", order)
            changed, event_type = _perform(step, order, wms, now(), created_now)
            if step == "create":
                created_now = changed.forward.wms_order_no
        except WmsUnavailable as error:
            _record_failure(order, repo, now(), f"warehouse unavailable: {error}", "retrying")
            raise
        except WmsRejected as error:
            failed = _record_failure(order, repo, now(), f"warehouse refused: {error}", "refused")
            return ForwardResult("refused", failed)
        try:
            repo.replace(changed, order.version, make_event(changed, event_type, "wms_forward", order))
        except ConcurrentModification:
            continue  # the order changed meanwhile (e.g. cancelled): look again
        if step == "create" and changed.forward.forwarded_body_hash != changed.body_hash:
            found_there = True
            continue  # found there already: bring its details in line (the update step) right away
        return ForwardResult("created" if found_there else _DONE[step], changed)
    raise ConcurrentModification(f"order_no '{order_no}' kept changing while being forwarded")


def _next_step(order: Order, known_to_wms: bool, created_now: bool) -> str | None:
    if order.status == ApiStatus.CANCELLED:
        return "cancel" if known_to_wms and order.forward.state != "cancelled" else None
    if order.status not in (ApiStatus.REGISTERED, ApiStatus.CREATED):
        return None  # the warehouse is working on it (or shipped it): nothing to send
    if created_now and order.forward.state != "forwarded":
        return "create"  # created a moment ago, the write lost a race: record it (no second call)
    if not known_to_wms:
        return "create" if order.has_courier and order.forward.state != "refused" else None
    return "update" if order.forward.forwarded_body_hash != order.body_hash else None


def _perform(step: str, order: Order, wms: WmsClient, at: datetime, created_now: str | None) -> tuple[Order, EventType]:
    forward = order.forward
    if step == "create":
        sent_hash = order.body_hash
        if created_now is not None:
            wms_order_no = created_now
        else:
            try:
                wms_order_no = wms.create_outbound(create_body(order))
            except WmsAlreadyExists:
                # An earlier attempt got through, perhaps with details the client has changed since:
                # unknown, so the next step sends an update.
                wms_order_no, sent_hash = forward.wms_order_no, ""
        state = ForwardState(
            state="forwarded",
            wms_order_no=wms_order_no,
            forwarded_body_hash=sent_hash,
            attempts=forward.attempts + 1,
            last_attempt_at=at,
        )
        outcome = apply_fact(order, Fact(source="wms_forward", at=at, status=ApiStatus.CREATED, wms_status="OPEN"))
        base = outcome.order or order.model_copy(update={"version": order.version + 1, "updated_at": at})
        return base.model_copy(update={"forward": state}), "order.forwarded"
    if step == "update":
        wms.update_outbound(create_body(order))
        state = forward.model_copy(
            update={
                "forwarded_body_hash": order.body_hash,
                "attempts": forward.attempts + 1,
                "last_error": "",
                "last_attempt_at": at,
            }
        )
    else:
        wms.cancel_outbound(order.warehouse_id, order.order_no, order.cancel.reason if order.cancel else "cancelled")
        state = forward.model_copy(
            update={"state": "cancelled", "attempts": forward.attempts + 1, "last_error": "", "last_attempt_at": at}
        )
    return order.model_copy(update={"forward": state, "version": order.version + 1, "updated_at": at}), "order.forwarded"


def _record_failure(order: Order, repo: OrderRepository, at: datetime, reason: str, state: str) -> Order:
    """Make the failure visible in the order detail; a lost race here only loses the note."""
    forward = order.forward.model_copy(
        update={
            "state": state if order.forward.state != "forwarded" else "forwarded",
            "attempts": order.forward.attempts + 1,
            "last_error": clamp(reason, ERROR_BYTES),
            "last_attempt_at": at,
        }
    )
    failed = order.model_copy(update={"forward": forward, "version": order.version + 1, "updated_at": at})
    try:
        repo.replace(failed, order.version, make_event(failed, "order.forward_failed", "wms_forward", order))
    except ConcurrentModification:
        return order
    return failed
