"""``shipper`` format: Shipper's own webhook style (snake_case, flat header, ``details[]``).

Two callbacks, one per event at most:

**PGI** (``kind="pgi"``), on ``order.shipped``: every field of Shipper's PGI webhook
(vendor-notes §1.6), the table's and the sample's, for the shipment the event added (the last
element of ``order.shipments``). Values the hub does not hold are empty strings, as Shipper
sends them. ``dedupe_key = "<doc_no>#<delivery_no>"`` (Shipper's PGI has no message id).

- ``warehouse_id``, ``order_type``, ``doc_no`` (order_no), ``customer_id``, ``shop_code`` (platform)
- ``delivery_no`` (AWB), ``carrier_id`` (express code), ``carrier_name`` (falls back to the
  carrier id, then the order's express code, like the hub's detail view)
- ``so_reference_a`` = the WMS order number, ``so_reference_b`` = the client's order number:
  Shipper's detail sample carries its own FO number in reference 1 and the client order number
  in reference 2 (vendor-notes §1.5); ``user_define_1..3`` = ""
- ``pgi_date`` ``YYYY-MM-DD HH:MM:SS`` UTC, no zone (the shipment's PGI time, else the event time)
- ``details[]``: one entry per shipped item row (batches stay apart): ``sku``, ``qty_shipped``,
  ``mfg_date``, ``exp_date``, ``stock_condition``, ``batch_no``, ``serial_no``, ``receipt_date``,
  ``user_define_1..3``, ``project_ref_no``

**Order confirmation** (``kind="order_confirmation"``): Shipper's page is missing (vendor-notes
§1.8), so this is the hub's design in the PGI's style. Sent once, when the warehouse confirmed the
order: the event moved the order out of ``REGISTERED`` to anything but ``CANCELLED`` (forward
accepted, confirmation webhook or poll). Fields:

- ``warehouse_id``, ``order_type``, ``doc_no`` (order_no), ``customer_id``, ``shop_code`` (platform)
- ``so_status``: the API status after the change (usually ``CREATED``)
- ``wms_order_no``: the warehouse's order number ("" until known)
- ``confirm_date``: ``YYYY-MM-DD HH:MM:SS`` UTC (the event time)
- ``details[]``: ``sku``, ``qty_ordered`` per order line

``dedupe_key = "<warehouse_id>#<order_no>#confirmation"``. An ``order.shipped`` event that also
leaves ``REGISTERED`` (a PGI for an order never confirmed) sends the PGI only.

Receiver answers: any 2xx is delivered; anything else is retried (Shipper's own rule for its
webhooks: the reply body is ignored).
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from order_hub.models.endpoints import Endpoint
from order_hub.models.order import OrderEvent, Shipment, ShipmentItem
from order_hub.models.status import ApiStatus
from order_hub.models.wms import SHIPPER_DATETIME
from order_hub.rendering.callbacks.base import Rendered, Verdict

KIND_PGI = "pgi"
KIND_CONFIRMATION = "order_confirmation"


def _is_pgi(event: OrderEvent) -> bool:
    return event.type == "order.shipped" and bool(event.order.shipments)


def _is_confirmation(event: OrderEvent) -> bool:
    return event.previous_status == ApiStatus.REGISTERED and event.order.status not in (ApiStatus.REGISTERED, ApiStatus.CANCELLED)


def emits(event: OrderEvent) -> bool:
    return _is_pgi(event) or _is_confirmation(event)


def render(endpoint: Endpoint, event: OrderEvent, message_id: int | None = None) -> Rendered:
    """``message_id`` is Increff's; unused here."""
    if _is_pgi(event):
        return _pgi(event)
    if _is_confirmation(event):
        return _confirmation(event)
    raise ValueError(f"the shipper format sends nothing for {event.type} ({event.previous_status} -> {event.order.status})")


def _confirmation(event: OrderEvent) -> Rendered:
    order = event.order
    body: dict[str, Any] = {
        "warehouse_id": order.warehouse_id,
        "order_type": order.order_type,
        "doc_no": order.order_no,
        "customer_id": order.customer_id,
        "so_status": order.status.value,
        "wms_order_no": order.forward.wms_order_no,
        "confirm_date": event.at.astimezone(UTC).strftime(SHIPPER_DATETIME),
        "shop_code": order.platform,
        "details": [{"sku": line.sku, "qty_ordered": line.qty_ordered} for line in order.lines],
    }
    return Rendered(body=body, kind=KIND_CONFIRMATION, dedupe_key=f"{order.warehouse_id}#{order.order_no}#confirmation")


def _pgi(event: OrderEvent) -> Rendered:
    order = event.order
    shipment: Shipment = order.shipments[-1]
    pgi_at = shipment.pgi_at or event.at
    body: dict[str, Any] = {
        "warehouse_id": order.warehouse_id,
        "order_type": order.order_type,
        "doc_no": order.order_no,
        "delivery_no": shipment.awb,
        "carrier_id": shipment.carrier_id,
        "carrier_name": shipment.carrier_name or shipment.carrier_id or order.courier.express_code,
        "customer_id": order.customer_id,
        "so_reference_a": order.forward.wms_order_no,
        "so_reference_b": order.order_no,
        "user_define_1": "",
        "user_define_2": "",
        "user_define_3": "",
        "pgi_date": pgi_at.astimezone(UTC).strftime(SHIPPER_DATETIME),
        "shop_code": order.platform,
        "details": [_detail(item) for item in shipment.items],
    }
    return Rendered(body=body, kind=KIND_PGI, dedupe_key=f"{order.order_no}#{shipment.awb}")


def _detail(item: ShipmentItem) -> dict[str, Any]:
    return {
        "sku": item.sku,
        "qty_shipped": item.qty,
        "mfg_date": item.mfg_date,
        "exp_date": item.exp_date,
        "stock_condition": item.stock_condition,
        "batch_no": item.batch_no,
        "serial_no": item.serial_no,
        "receipt_date": "",
        "user_define_1": "",
        "user_define_2": "",
        "user_define_3": "",
        "project_ref_no": "",
    }


def judge(status_code: int, body: str) -> Verdict:
    if 200 <= status_code < 300:
        return Verdict("delivered", f"HTTP {status_code}")
    return Verdict("retry", f"HTTP {status_code} (Shipper's rule: anything but 2xx is retried)")
