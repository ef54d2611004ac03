"""Shipper Logistics webhooks: the AWB-created confirmation and tracking updates (vendor-notes §1.8).

Authentication
- tracking: ``auth`` == md5(api_key + tracking_url + "json") with both values from the tenant secret
  ``hub/<tenant>/logistics`` = {"api_key", "tracking_url"}; ``tracking_url`` is the exact callback URL
  the tenant registered with Shipper. Compared in constant time (``verify_logistics_auth``).
- created confirmation: Shipper documents no origin check for it, so it uses the WMS webhook scheme
  (``hub/<tenant>/wms-webhook``: HMAC signature or static token, ``services.webhooks.verify_webhook``).

Finding the order: neither payload names a warehouse. ``order_no`` / ``external_id`` is the hub order
number (SOReference2 = external_id), looked up in each of the tenant's warehouses; none (or more than
one) -> the webhook is stored unmatched (202), like an unknown order of a WMS webhook.

Shipment state (``models.logistics.state_for_code``): a tracking update applies to the order's
shipment whose AWB is the update's ``awb`` (or the order's logistics AWB), else whose ``tracking_id``
matches, else the latest shipment. It applies when it does not move the shipment back: a lower rank,
an older ``status_date`` at the same rank, or anything after a terminal state (DELIVERED, RETURNED,
CANCELLED) is recorded only. DELIVERED needs the order shipped (API status CLOSED); before that, or
with no shipment yet, the update is recorded only. An unknown code is recorded with its raw status,
never applied. The order's API status never changes here (it stays CLOSED).

Every applied update is an event, written with the order just before the inbox record (``webhooks.record_change``):
``order.delivered`` when the shipment becomes DELIVERED, else ``order.logistics_updated``. A recorded-only
update is ``order.fact_recorded`` (once: the same unapplied code again changes nothing). Natural keys:
``LOGISTICS#<tracking_id>#<code>#<status_date>`` and ``LOGISTICS_CREATED#<order_no>#<express_no>``.

AWB convergence with the PGI: the created confirmation sets ``order.courier.awb`` (it never creates a
shipment; only the PGI does, keyed on its ``delivery_no``, the AWB). Whichever comes first, the PGI
adds exactly one shipment and tracking updates find it by AWB, or fall back to the latest shipment
when the PGI's ``delivery_no`` differs (noted, the shipment's AWB is kept: it is the PGI's dedupe key).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Any

from order_hub.errors import Unauthorized
from order_hub.models.logistics import RANK, TERMINAL_STATES, LogisticsCreatedWebhook, LogisticsTrackingWebhook, state_for_code
from order_hub.models.order import ChangeSource, EventType, LogisticsFact, LogisticsStatus, Order, Shipment
from order_hub.models.status import ApiStatus
from order_hub.ports import OrderRepository, TenantDirectory
from order_hub.services.limits import bounded_fact, keep_fact
from order_hub.services.orders import Clock, utc_now
from order_hub.services.webhooks import WebhookResult, record_change

SOURCE: ChangeSource = "logistics_webhook"
REJECTED = "Unauthorized Access. Logistics webhook auth is invalid."
UNKNOWN_CODE = "unknown status code"

Change = tuple[Order | None, EventType, list[str]]


def expected_auth(api_key: str, endpoint_url: str) -> str:
    return hashlib.md5((api_key + endpoint_url + "json").encode("utf-8"), usedforsecurity=False).hexdigest()


def verify_logistics_auth(secret: Mapping[str, Any] | None, offered: object) -> None:
    """Raise ``Unauthorized`` unless ``offered`` == md5(api_key + tracking_url + "json")."""
    if not secret or not isinstance(offered, str) or not offered:
        raise Unauthorized(REJECTED)
    api_key, url = secret.get("api_key"), secret.get("tracking_url")
    if not api_key or not url:
        raise Unauthorized(REJECTED)
    if not hmac.compare_digest(expected_auth(str(api_key), str(url)).encode(), offered.strip().lower().encode()):
        raise Unauthorized(REJECTED)


def locate(repo: OrderRepository, tenant_id: str, warehouse_ids: Sequence[str], order_no: str) -> str | None:
    """The one warehouse of the tenant holding ``order_no`` (None when none or several do)."""
    if not order_no:
        return None
    found = [warehouse for warehouse in dict.fromkeys(warehouse_ids) if repo.get(tenant_id, warehouse, order_no) is not None]
    return found[0] if len(found) == 1 else None


def _log(order: Order, fact: LogisticsFact) -> list[LogisticsFact]:
    return keep_fact(order.logistics, fact)


def _bump(order: Order, at: Any, **update: Any) -> Order:
    return order.model_copy(update={"version": order.version + 1, "updated_at": max(at, order.updated_at), **update})


def _ingest(
    tenant_id: str,
    warehouse_ids: Sequence[str],
    order_no: str,
    key: str,
    raw: str,
    repo: OrderRepository,
    change_of: Any,
) -> WebhookResult:
    warehouse = locate(repo, tenant_id, warehouse_ids, order_no)
    if warehouse is None:
        stored = repo.record_webhook(tenant_id, key, raw, None)
        return WebhookResult("unmatched" if stored else "duplicate")
    chosen: list[EventType] = []

    def tracked(order: Order) -> Change:
        change = change_of(order)
        chosen.append(change[1])
        return change

    result = record_change(tenant_id, warehouse, order_no, key, raw, repo, tracked, SOURCE)
    if result.outcome == "applied" and chosen and chosen[-1] == "order.fact_recorded":
        return WebhookResult("recorded", result.order, result.notes)
    return result


def ingest_logistics_created(
    tenant_id: str,
    warehouse_ids: Sequence[str],
    payload: LogisticsCreatedWebhook,
    raw: str,
    repo: OrderRepository,
    now: Clock = utc_now,
) -> WebhookResult:
    """The AWB exists: ``order.courier.awb`` = ``express_no`` (``order.logistics_updated``)."""

    def change_of(order: Order) -> Change:
        if not payload.success_flag:
            return None, "order.fact_recorded", ["success_flag is false: nothing applied"]
        if order.courier.awb == payload.express_no:
            return None, "order.fact_recorded", []
        at = now()
        notes = []
        if order.courier.awb:
            notes.append(f"logistics AWB replaced: {order.courier.awb} -> {payload.express_no}")
        if order.shipments and not any(s.awb == payload.express_no for s in order.shipments):
            notes.append(f"the PGI AWB {order.shipments[-1].awb} differs from the logistics AWB {payload.express_no}")
        fact = LogisticsFact(kind="created", received_at=at, awb=payload.express_no, note="; ".join(notes))
        courier = order.courier.model_copy(update={"awb": payload.express_no})
        return _bump(order, at, courier=courier, logistics=_log(order, fact)), "order.logistics_updated", notes

    key = f"LOGISTICS_CREATED#{payload.order_no}#{payload.express_no}"
    return _ingest(tenant_id, warehouse_ids, payload.order_no, key, raw, repo, change_of)


def _target(order: Order, payload: LogisticsTrackingWebhook) -> int | None:
    if not order.shipments:
        return None
    for awb in (payload.awb, order.courier.awb):
        if awb:
            for position, shipment in enumerate(order.shipments):
                if shipment.awb == awb:
                    return position
    for position, shipment in enumerate(order.shipments):
        if shipment.tracking_id and shipment.tracking_id == payload.tracking_id:
            return position
    return len(order.shipments) - 1


def _refusal(order: Order, shipment: Shipment | None, state: str | None, payload: LogisticsTrackingWebhook) -> str:
    """Why the update cannot apply ("" when it can)."""
    code = payload.external_status.code if payload.external_status else None
    if state is None:
        return f"{UNKNOWN_CODE} {code}"
    if shipment is None:
        return f"{state} reported before the order shipped (no shipment yet)"
    if state == "DELIVERED" and order.status != ApiStatus.CLOSED:
        return f"DELIVERED reported for an order in status {order.status.value}"
    current = shipment.status
    if current in TERMINAL_STATES:
        return f"shipment already {current}"
    if RANK[state] < RANK.get(current, 0):
        return f"late: {current} does not move back to {state}"
    last = shipment.logistics_status
    same_rank = RANK[state] == RANK.get(current, 0)
    if same_rank and last is not None and last.status_date is not None and payload.status_date < last.status_date:
        return f"late: older than the {current} of {last.status_date.isoformat()}"
    return ""


def ingest_logistics_tracking(
    tenant_id: str,
    warehouse_ids: Sequence[str],
    payload: LogisticsTrackingWebhook,
    raw: str,
    repo: OrderRepository,
    now: Clock = utc_now,
) -> WebhookResult:
    """A tracking update: the shipment's logistics state, forward only (module docstring)."""
    status = payload.external_status
    code = status.code if status else None
    state = state_for_code(code)

    def change_of(order: Order) -> Change:
        at = now()
        position = _target(order, payload)
        shipment = order.shipments[position] if position is not None else None
        if shipment is not None and state is not None and shipment.status == state and state in TERMINAL_STATES:
            return None, "order.fact_recorded", []  # the same terminal state again: nothing new
        refusal = _refusal(order, shipment, state, payload)
        fact = bounded_fact(
            LogisticsFact(
                kind="tracking",
                received_at=at,
                status_date=payload.status_date,
                tracking_id=payload.tracking_id,
                awb=payload.awb,
                code=code,
                name=status.name if status else "",
                description=status.description if status else "",
                state=state or "",
                shipment_code=shipment.shipment_code if shipment else "",
                applied=not refusal,
                note=refusal,
            )
        )
        if refusal:
            last = order.logistics[-1] if order.logistics else None
            if last is not None and not last.applied and last.code == code and last.shipment_code == fact.shipment_code:
                return None, "order.fact_recorded", [refusal]  # recorded once
            return _bump(order, at, logistics=_log(order, fact)), "order.fact_recorded", [refusal]
        assert shipment is not None and position is not None and state is not None
        notes: list[str] = []
        if order.courier.tracking_id and order.courier.tracking_id != payload.tracking_id:
            notes.append(f"tracking_id {payload.tracking_id} differs from the order's {order.courier.tracking_id}")
        raw_status = LogisticsStatus(code=code, name=fact.name, description=fact.description, status_date=payload.status_date)
        update: dict[str, Any] = {"status": state, "logistics_status": raw_status, "tracking_id": payload.tracking_id}
        if state == "DELIVERED":
            update["delivered_at"] = payload.status_date
        shipments = list(order.shipments)
        shipments[position] = shipment.model_copy(update=update)
        courier = order.courier
        if payload.awb and not courier.awb:
            courier = courier.model_copy(update={"awb": payload.awb})
        if not courier.tracking_id:
            courier = courier.model_copy(update={"tracking_id": payload.tracking_id})
        changed = _bump(order, at, shipments=shipments, courier=courier, logistics=_log(order, fact))
        return changed, "order.delivered" if state == "DELIVERED" else "order.logistics_updated", notes

    key = f"LOGISTICS#{payload.tracking_id}#{code if code is not None else '-'}#{payload.status_date.isoformat()}"
    return _ingest(tenant_id, warehouse_ids, payload.external_id, key, raw, repo, change_of)


def ingest_logistics_webhook(
    tenant_id: str,
    payload: LogisticsCreatedWebhook | LogisticsTrackingWebhook,
    raw: str,
    repo: OrderRepository,
    tenants: TenantDirectory,
    now: Clock = utc_now,
) -> WebhookResult:
    """A Shipper Logistics webhook for one of the tenant's orders, in whichever of its warehouses it is."""
    tenant = tenants.get_tenant(tenant_id)
    warehouse_ids = list(tenant.warehouse_ids) if tenant is not None else []
    if isinstance(payload, LogisticsCreatedWebhook):
        return ingest_logistics_created(tenant_id, warehouse_ids, payload, raw, repo, now)
    return ingest_logistics_tracking(tenant_id, warehouse_ids, payload, raw, repo, now)
