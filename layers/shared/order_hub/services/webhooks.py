"""WMS webhooks: authenticate, then record idempotently with the order change they cause.

Recording (``record_change``), without a transaction: the order change is written first (conditional
on the order's version) and carries the webhook's mark (``webhook_mark``: a short digest of its inbox
key, the last ``KEPT_MARKS`` kept on the order), then the inbox row (its natural key). A function that
stops between the two writes leaves the change applied and no inbox row: the vendor's retry finds the
mark on the order, stores the missing inbox row and answers ``duplicate``, so the change is neither
lost nor applied twice. A duplicate whose mark has left the order (``KEPT_MARKS`` later webhooks changed
it) is found by its inbox row before anything is written (``OrderRepository.record_webhook``).

Authentication (per tenant secret ``hub/<tenant>/wms-webhook``):
- ``x-hub-timestamp`` (epoch seconds, within 5 minutes) and ``x-hub-signature: v1=<hex>`` where
  hex = HMAC-SHA256(hmac_secret, "<timestamp>." + raw body); several ``v1=`` values may be sent
  (secret rotation); or
- ``x-webhook-token`` equal to the tenant's token (Shipper documents no signature for its PGI
  webhook), compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from order_hub.errors import ConcurrentModification, Unauthorized
from order_hub.models.order import ChangeSource, EventType, Order, ShipmentItem, StatusChange
from order_hub.models.status import ApiStatus, api_status_for_wms
from order_hub.models.wms import OrderConfirmationWebhook, PgiWebhook
from order_hub.ports import OrderRepository
from order_hub.services.limits import KEPT_MARKS, MARK_CHARS
from order_hub.services.orders import Clock, make_event, utc_now
from order_hub.services.shipments import attach_shipment
from order_hub.services.status import Fact, apply_fact, remainder_cancelled, rest_already_cancelled

SIGNATURE_WINDOW_SECONDS = 300
_ATTEMPTS = 5
NO_OPEN_QUANTITY = "shipment reported for an order with no open quantity"
REJECTED = "Unauthorized Access. Webhook signature, timestamp or token is invalid."


def verify_webhook(secret: Mapping[str, Any] | None, headers: Mapping[str, str], body: bytes, now: float) -> None:
    """Raise ``Unauthorized`` unless the request carries a valid signature or token."""
    if not secret:
        raise Unauthorized(REJECTED)
    lowered = {k.lower(): v for k, v in headers.items()}
    timestamp, signatures = lowered.get("x-hub-timestamp"), lowered.get("x-hub-signature")
    hmac_secret = secret.get("hmac_secret")
    if hmac_secret and timestamp and signatures:
        # ASCII digits only and a sane length: int() refuses '²' and more than 4,300 digits with an error
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            raise Unauthorized(REJECTED)
        if abs(now - int(timestamp)) > SIGNATURE_WINDOW_SECONDS:
            raise Unauthorized(REJECTED)
        expected = hmac.new(str(hmac_secret).encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        offered = [part.removeprefix("v1=") for part in signatures.replace(",", " ").split() if part.startswith("v1=")]
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return
        raise Unauthorized(REJECTED)
    token, offered_token = secret.get("token"), lowered.get("x-webhook-token")
    if token and offered_token and hmac.compare_digest(str(token).encode(), offered_token.encode()):
        return
    raise Unauthorized(REJECTED)


@dataclass(frozen=True)
class WebhookResult:
    outcome: Literal["applied", "recorded", "duplicate", "unmatched"]
    order: Order | None = None
    notes: tuple[str, ...] = ()


def webhook_mark(inbox_key: str) -> str:
    """The mark a webhook leaves on the order it changes: 72 bits of SHA-256 of its inbox key (URL-safe base64)."""
    digest = hashlib.sha256(inbox_key.encode()).digest()
    return base64.urlsafe_b64encode(digest[: MARK_CHARS * 3 // 4]).decode()


def record_change(
    tenant_id: str,
    warehouse_id: str,
    order_no: str,
    inbox_key: str,
    raw: str,
    repo: OrderRepository,
    change_of: Callable[[Order], tuple[Order | None, EventType, list[str]]],
    source: ChangeSource = "wms_webhook",
) -> WebhookResult:
    mark = webhook_mark(inbox_key)
    for attempt in range(_ATTEMPTS):
        # The first read is eventually consistent (half the RRU): the order's conditional write refuses a
        # change computed on a version that was not the latest, and the next attempt reads consistently.
        order = repo.get(tenant_id, warehouse_id, order_no, consistent=attempt > 0)
        if order is None and attempt == 0:  # not found may be a create of the last second: ask for sure
            order = repo.get(tenant_id, warehouse_id, order_no)
        if order is None:
            stored = repo.record_webhook(tenant_id, inbox_key, raw, None)
            return WebhookResult("unmatched" if stored else "duplicate")
        if mark in order.webhook_marks:  # applied before; its inbox row may have been lost in a crash
            repo.record_webhook(tenant_id, inbox_key, raw, None)
            return WebhookResult("duplicate", order)
        changed, event_type, notes = change_of(order)
        if changed is not None:
            changed = changed.model_copy(update={"webhook_marks": [*order.webhook_marks, mark][-KEPT_MARKS:]})
        change = (changed, order.version, make_event(changed, event_type, source, order)) if changed else None
        try:
            stored = repo.record_webhook(tenant_id, inbox_key, raw, change)
        except ConcurrentModification:
            continue
        if not stored:
            return WebhookResult("duplicate", order)
        applied = changed is not None and not any(note.startswith(NO_OPEN_QUANTITY) for note in notes)
        return WebhookResult("applied" if applied else "recorded", changed or order, tuple(notes))
    raise ConcurrentModification(f"order_no '{order_no}' kept changing while a webhook was recorded")


def ingest_order_confirmation(
    tenant_id: str, payload: OrderConfirmationWebhook, raw: str, repo: OrderRepository, now: Clock = utc_now
) -> WebhookResult:
    """The WMS confirms it has the order (seed 002 step 5): REGISTERED -> CREATED."""
    status = api_status_for_wms(payload.so_status) or ApiStatus.CREATED

    def change_of(order: Order) -> tuple[Order | None, EventType, list[str]]:
        fact = Fact("wms_webhook", now(), status, payload.so_status.upper())
        rest = remainder_cancelled(order, fact)
        if rest is not None:
            return rest, "order.partially_cancelled", []
        if rest_already_cancelled(order, fact):
            return None, "order.fact_recorded", []
        outcome = apply_fact(order, fact)
        changed = outcome.order
        if order.forward.state != "forwarded" and order.forward.state != "cancelled":
            base = changed or order.model_copy(update={"version": order.version + 1, "updated_at": now()})
            forward = order.forward.model_copy(update={"state": "forwarded", "wms_order_no": payload.wms_order_no})
            changed = base.model_copy(update={"forward": forward})
        event: EventType = "order.status_changed" if outcome.moved else "order.fact_recorded"
        return changed, event, ["conflicting status ignored"] if outcome.conflict else []

    key = f"WMS_CONFIRM#{payload.warehouse_id}#{payload.order_no}#{payload.so_status.upper()}"
    return record_change(tenant_id, payload.warehouse_id, payload.order_no, key, raw, repo, change_of)


def ingest_pgi(tenant_id: str, payload: PgiWebhook, raw: str, repo: OrderRepository, now: Clock = utc_now) -> WebhookResult:
    """Post Goods Issue: the shipment (AWB, carrier, quantities) and API status CLOSED (= shipped)."""

    def change_of(order: Order) -> tuple[Order | None, EventType, list[str]]:
        return ship(
            order,
            payload.delivery_no,
            payload.carrier_id,
            payload.carrier_name,
            payload.pgi_date,
            _items(payload),
            "wms_pgi",
            now,
        )

    key = f"PGI#{payload.warehouse_id}#{payload.doc_no}#{payload.delivery_no}"
    return record_change(tenant_id, payload.warehouse_id, payload.doc_no, key, raw, repo, change_of)


def ship(
    order: Order,
    awb: str,
    carrier_id: str,
    carrier_name: str,
    shipped_at: Any,
    items: list[ShipmentItem],
    source: ChangeSource,
    now: Clock,
) -> tuple[Order | None, EventType, list[str]]:
    """Attach the shipment and close the order; shared by the PGI webhook and the poller's repair.

    A PGI under a new AWB for a shipped order with no open quantity (every line shipped or cancelled) is a
    fact, not a shipment: it is recorded in the history (unapplied, ``order.fact_recorded``), noted
    (``NO_OPEN_QUANTITY``, counted by the caller) and changes nothing else: no second shipment, the
    order's AWB stays, no second ``order.shipped``. A PGI while quantity is open (a genuine second
    package of a partially shipped order) adds a shipment and sends ``order.shipped`` again; so does
    a PGI for an order cancelled before anything shipped (the warehouse shipped it anyway).
    """
    at = now()
    if order.shipments and not order.partially_shipped and not any(s.awb == awb for s in order.shipments):
        note = f"{NO_OPEN_QUANTITY}: PGI {awb} not applied"
        change = StatusChange(
            at=at, source=source, from_status=order.status, to_status=ApiStatus.CLOSED, applied=False, note=note
        )
        recorded = order.model_copy(
            update={"version": order.version + 1, "updated_at": max(at, order.updated_at), "history": [*order.history, change]}
        )
        return recorded, "order.fact_recorded", [note]
    with_shipment, notes = attach_shipment(order, awb, carrier_id, carrier_name, shipped_at or at, items)
    added = with_shipment is not order
    note = "partial shipment" if with_shipment.partially_shipped else ""
    outcome = apply_fact(with_shipment, Fact(source, at, ApiStatus.CLOSED, "SHIPPED", note))
    if outcome.conflict:
        notes.append(f"shipment reported for an order in status {order.status.value}")
    changed = outcome.order
    if changed is None and added:
        changed = with_shipment.model_copy(update={"version": order.version + 1, "updated_at": at})
    return changed, "order.shipped", notes


def _items(payload: PgiWebhook) -> list[ShipmentItem]:
    return [
        ShipmentItem(
            sku=d.sku,
            qty=d.qty_shipped,
            batch_no=d.batch_no,
            serial_no=d.serial_no,
            mfg_date=d.mfg_date,
            exp_date=d.exp_date,
            stock_condition=d.stock_condition,
        )
        for d in payload.details
        if d.qty_shipped > 0
    ]
