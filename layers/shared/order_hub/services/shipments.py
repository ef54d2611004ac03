"""Attach a shipment (PGI) to an order: the AWB, carrier and shipped quantity per line."""

from __future__ import annotations

from datetime import datetime

from order_hub.models.order import Line, Order, Shipment, ShipmentItem
from order_hub.services.limits import CARRIER_NAME_BYTES, CODE_BYTES, MAX_SHIPMENTS, bounded_item, clamp, shipment_item_budget


def attach_shipment(
    order: Order, awb: str, carrier_id: str, carrier_name: str, shipped_at: datetime, items: list[ShipmentItem]
) -> tuple[Order, list[str]]:
    """The order with one more shipment, and notes on anything that did not fit.

    Quantities go to the order's lines with the same SKU, in line order, up to what is still open
    (ordered - cancelled - shipped); a SKU the order lacks, or more than was ordered, is kept on
    the shipment and noted. A shipment with an AWB already on the order is not added twice.

    Size bounds (services.limits): texts are cut to their caps; an order keeps at most
    ``MAX_SHIPMENTS`` shipments (a further AWB is noted, not added) and ``shipment_item_budget``
    items over all of them (the surplus is counted in ``items_omitted``; its quantities still count
    on the lines).
    """
    awb = clamp(awb, CODE_BYTES)
    if any(s.awb == awb for s in order.shipments):
        return order, []
    if len(order.shipments) >= MAX_SHIPMENTS:
        return order, [f"shipment {awb} not kept: the order already has {MAX_SHIPMENTS} shipments"]
    items = [bounded_item(item) for item in items]
    lines = [line.model_copy() for line in order.lines]
    shipment_items: list[ShipmentItem] = []
    notes: list[str] = []
    for item in items:
        remaining = item.qty
        for line in _lines_for(lines, item.sku):
            take = min(remaining, line.qty_ordered - line.qty_cancelled - line.qty_shipped)
            if take <= 0:
                continue
            line.qty_shipped += take
            remaining -= take
            shipment_items.append(_item(item, take, line.line_id))
            if remaining == 0:
                break
        if remaining > 0:
            notes.append(f"{remaining} x {item.sku} shipped beyond the open quantity of the order")
            shipment_items.append(_item(item, remaining, None))
    room = max(0, shipment_item_budget(order) - sum(len(s.items) for s in order.shipments))
    omitted = max(0, len(shipment_items) - room)
    if omitted:
        notes.append(f"{omitted} shipment items not kept: the order keeps {shipment_item_budget(order)} items over its shipments")
    shipment = Shipment(
        shipment_code=f"{order.order_no}-{len(order.shipments) + 1}",
        awb=awb,
        carrier_id=clamp(carrier_id, CODE_BYTES),
        carrier_name=clamp(carrier_name, CARRIER_NAME_BYTES),
        status="SHIPPED",
        pgi_at=shipped_at,
        items=shipment_items[:room],
        items_omitted=omitted,
    )
    return order.model_copy(update={"lines": lines, "shipments": [*order.shipments, shipment]}), notes


def _lines_for(lines: list[Line], sku: str) -> list[Line]:
    return [line for line in lines if line.sku == sku]


def _item(item: ShipmentItem, qty: int, line_id: str | None) -> ShipmentItem:
    return item.model_copy(update={"qty": qty, "line_id": line_id})
