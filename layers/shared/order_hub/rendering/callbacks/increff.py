"""``increff`` format: Increff Omni "Sales Order Posting" (seed 001, vendor-notes §2.2-2.3).

Event types (``EVENT_TYPES``, hub event -> rule on the order):

- ``order.created`` -> ``OUTWARD_ORDER_CREATE`` (``shipments: []``)
- ``order.cancelled``, and ``order.status_changed`` to ``CANCELLED`` -> ``OUTWARD_ORDER_CANCEL``, or
  ``OUTWARD_ORDER_PARTIAL_CANCEL`` when some quantity had shipped
- ``order.partially_cancelled`` (the warehouse cancelled the open rest of a partly shipped order; the
  order stays ``CLOSED``, the lines carry the cancelled rest in ``qty_cancelled``) ->
  ``OUTWARD_ORDER_PARTIAL_CANCEL``
- ``order.shipped`` -> ``OUTWARD_ORDER_COMPLETE`` when no open quantity remains, else
  ``OUTWARD_ORDER_SHIPMENT_DISPATCH``; a shipment reported for an order already ``CANCELLED``
  (the WMS shipped part of it anyway) is ``OUTWARD_ORDER_PARTIAL_CANCEL``
- ``order.delivered`` (logistics tracking: a shipment became DELIVERED) -> ``OUTWARD_ORDER_SHIPMENT_DELIVER``;
  the delivered shipment carries ``shipmentStatus: DELIVERED``. ``order.logistics_updated`` and any
  other event send nothing.

Choices where the seed is ambiguous or silent:

- ``messageId`` (a Long; ``dedupe_key`` = ``str(messageId)``) = the ``message_id`` the delivery worker
  passes: a number from the endpoint's counter, allocated by the dispatcher and kept by the delivery
  record, so it is unique across orders, grows with an order's events and stays the same on every
  retry. Without one it falls back to ``event.seq``, which is only unique per order: a receiver that
  dedupes ``messageId`` across orders (Increff's definition) would drop other orders' postings.
- ``orderTime`` / ``eventTime`` / ``generatedInvoiceDate``: ISO 8601 in UTC with milliseconds and
  offset, like every sample (``2020-10-16T20:22:28.000+00:00``), not the "UNIX" of the table. The
  invoice has a date only: it is sent as midnight UTC.
- ``isSplitRequired``: a JSON boolean (the table types it Boolean; the sample's ``"false"`` string
  is not copied); true once the order shipped in more than one shipment.
- ``isPriority``: ``ext.is_priority``, else false.
- ``orderType``: ``SO`` stays ``SO``; Shipper's ``TT`` (inter-warehouse transfer) is Increff's ``STO``.
- ``paymentMethod``: ``COD`` -> ``COD``, ``PREPAID`` -> ``NCOD``.
- Codes: ``partnerCode`` / ``partnerLocationCode`` / ``channelType`` from ``ext`` then ``settings``;
  ``locationCode`` from ``ext.location_code`` then ``settings.location_codes[warehouse_id]``;
  ``channelName`` from ``ext.channel_name`` then ``settings.channel_names[platform]``. The same
  ``locationCode`` is sent on each shipment (the fulfilling warehouse). ``channelType`` and
  ``parentOrderCode`` are left out when unknown.
- Prices: ``Line.unit_price`` is the tax-inclusive price per unit -> ``sellingPricePerUnit`` (in
  ``orderItems`` and ``shipmentItems`` alike; the sample's two values for item123 contradict each
  other). Tax per unit = the line's ``SELLING_PRICE`` tax lines; ``taxItems`` are those lines, with
  ``taxTotal`` = ``per_unit`` x the shipment's quantity; ``baseSellingPricePerUnit`` = selling -
  tax. Tax lines of other cost heads (shipping) are not item tax and are not sent. A shipped line
  without a ``SELLING_PRICE`` tax line fails (``lines[i].ext.tax_lines``): tax is never invented.
- ``channelDiscount`` / ``sellerDiscount`` / ``giftChargePerUnit`` / ``shippingCharge`` per item and
  ``shippingChargePerUnit`` per shipment item are not sent: the hub does not know them per line
  (``Line.discount`` does not say who gave it). ``shippingCharges`` = the buyer-paid shipping fee.
- ``cancelledQuantity`` is absolute: the line's ``qty_cancelled``; on a ``CANCELLED`` order every
  unshipped unit.
- ``shipments``: every shipment of the order (Increff repeats invoiced shipments in later postings;
  receivers dedupe on ``shipmentCode``); none on ``OUTWARD_ORDER_CREATE``. ``shipmentStatus``: the
  shipment's status when it is one of Increff's values, ``DISPATCHED`` once shipped (PGI), else
  ``OPEN``. Shipped units without an order line (more than ordered) are not order items and are left
  out. The order's one invoice (``ext.invoice``) is set on each shipment when present.
- Addresses: ``shippingAddress`` from the consignee; ``billingAddress`` from ``ext.billing_address``,
  else the shipping address. Line breaks in the address text separate ``line1..3``; text longer than
  255 characters is wrapped at word boundaries over the three lines. Country: the order's country
  code (``ext.consignee_country_code``), else ``settings.default_country``.
- Every string is at most 255 characters (Increff's rule); a longer one fails permanently naming the
  field (``TooLong``), identifiers are never cut. ``qrCode`` is exempt: it is a signed e-invoice
  token that the seed's own sample sends at ~900 characters, and cutting it would break it.

Receiver answers: 2xx with ``hasError`` not true -> delivered; 2xx with ``hasError: true`` -> retry
("hasError: <errorMessage>"); any other status -> retry (Increff documents no permanent class; a
401 is handled by the sender's Get Credential refresh).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from order_hub.models.endpoints import Endpoint, FormatSettings
from order_hub.models.extensions import Address, OrderExt, TaxLine
from order_hub.models.order import Line, Order, OrderEvent, Shipment
from order_hub.models.status import ApiStatus
from order_hub.rendering.callbacks.base import MissingField, Rendered, Resolver, Verdict, json_object, number

CREATE = "OUTWARD_ORDER_CREATE"
CANCEL = "OUTWARD_ORDER_CANCEL"
PARTIAL_CANCEL = "OUTWARD_ORDER_PARTIAL_CANCEL"
COMPLETE = "OUTWARD_ORDER_COMPLETE"
SHIPMENT_DISPATCH = "OUTWARD_ORDER_SHIPMENT_DISPATCH"
SHIPMENT_DELIVER = "OUTWARD_ORDER_SHIPMENT_DELIVER"

MAX_STRING = 255
UNLIMITED_KEYS = frozenset({"qrCode"})
SELLING_PRICE = "SELLING_PRICE"
SHIPMENT_STATUSES = frozenset({"OPEN", "CLOSED", "INVOICED", "MANIFESTED", "DISPATCHED", "CANCELLED", "DELIVERED"})
ORDER_TYPES = {"SO": "SO", "TT": "STO"}
PAYMENT_METHODS = {"COD": "COD", "PREPAID": "NCOD"}
_NO_EXT = OrderExt()


class TooLong(MissingField):
    """A value exceeds Increff's 255-character limit: permanent, like a missing field."""

    def __init__(self, fields: list[str]) -> None:
        super().__init__(fields, f"longer than {MAX_STRING} characters for Increff: {', '.join(fields)}")


def _cancel_type(order: Order) -> str:
    return PARTIAL_CANCEL if any(line.qty_shipped > 0 for line in order.lines) else CANCEL


def _shipped_type(order: Order) -> str:
    if order.status == ApiStatus.CANCELLED:
        return PARTIAL_CANCEL
    return SHIPMENT_DISPATCH if order.partially_shipped else COMPLETE


def _status_changed_type(order: Order) -> str | None:
    return _cancel_type(order) if order.status == ApiStatus.CANCELLED else None


EVENT_TYPES: dict[str, Callable[[Order], str | None]] = {
    "order.created": lambda _order: CREATE,
    "order.cancelled": _cancel_type,
    "order.partially_cancelled": lambda _order: PARTIAL_CANCEL,  # the warehouse cancelled the rest of a shipped order
    "order.status_changed": _status_changed_type,
    "order.shipped": _shipped_type,
    "order.delivered": lambda _order: SHIPMENT_DELIVER,  # a shipment became DELIVERED (logistics tracking)
}
"""Hub event type -> the posting's eventType for the order's state (None: nothing to send)."""


def event_type(event: OrderEvent) -> str | None:
    rule = EVENT_TYPES.get(event.type)
    return rule(event.order) if rule is not None else None


def emits(event: OrderEvent) -> bool:
    return event_type(event) is not None


# -- formatting ---------------------------------------------------------------------------------


def iso_offset(value: datetime) -> str:
    """``2020-10-16T20:22:28.000+00:00`` (UTC, milliseconds, explicit offset)."""
    utc = value.astimezone(UTC)
    return f"{utc.strftime('%Y-%m-%dT%H:%M:%S')}.{utc.microsecond // 1000:03d}+00:00"


def _date_offset(value: date) -> str:
    return iso_offset(datetime.combine(value, time(0), tzinfo=UTC))


def address_lines(parts: list[str | None], field: str) -> list[str]:
    """Three address lines of at most 255 characters: line breaks separate lines, long text wraps."""
    pieces = [piece.strip() for part in parts if part for piece in part.splitlines() if piece.strip()]
    lines = [wrapped for piece in pieces for wrapped in textwrap.wrap(piece, MAX_STRING)]
    if len(lines) > 3:  # more pieces than lines: pack them, comma-separated
        packed: list[str] = []
        for piece in lines:
            if packed and len(packed[-1]) + 2 + len(piece) <= MAX_STRING:
                packed[-1] = f"{packed[-1]}, {piece}"
            else:
                packed.append(piece)
        lines = packed
    if len(lines) > 3:
        raise TooLong([field])
    return lines + [""] * (3 - len(lines))


def _too_long(value: Any, path: str, found: list[str]) -> None:
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            found.append(path)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in UNLIMITED_KEYS:
                _too_long(item, f"{path}.{key}" if path else key, found)
    elif isinstance(value, list):
        for position, item in enumerate(value):
            _too_long(item, f"{path}[{position}]", found)


# -- rendering ----------------------------------------------------------------------------------


def render(endpoint: Endpoint, event: OrderEvent, message_id: int | None = None) -> Rendered:
    """The posting; ``messageId`` is ``message_id`` (the delivery's number), else the event's ``seq``."""
    kind = event_type(event)
    if kind is None:
        raise ValueError(f"the increff format sends nothing for {event.type} (order status {event.order.status.value})")
    order, settings = event.order, endpoint.settings
    ext = order.ext or _NO_EXT
    message = event.seq if message_id is None else message_id
    need = Resolver()
    partner_code = need.first("settings.partner_code", ext.partner_code, settings.partner_code)
    partner_location_code = need.first(
        "settings.partner_location_code", ext.partner_location_code, settings.partner_location_code
    )
    location_code = need.first(
        f"settings.location_codes[{order.warehouse_id}]",
        ext.location_code,
        settings.location_codes.get(order.warehouse_id),
    )
    channel_name = need.first(
        f"settings.channel_names[{order.platform}]", ext.channel_name, settings.channel_names.get(order.platform)
    )
    shipping_address = _shipping_address(order, settings, need)
    billing_address = _billing_address(ext.billing_address, settings, need) if ext.billing_address else shipping_address
    shipments = [] if kind == CREATE else [_shipment(order, shipment, location_code, need) for shipment in order.shipments]
    if need.missing:
        raise MissingField(need.missing)

    body: dict[str, Any] = {
        "partnerCode": partner_code,
        "partnerLocationCode": partner_location_code,
        "locationCode": location_code,
        "orderCode": order.order_no,
    }
    if ext.parent_order_no:
        body["parentOrderCode"] = ext.parent_order_no
    body.update(
        {
            "isPriority": bool(ext.is_priority),
            "channelName": channel_name,
            "orderTime": iso_offset(order.order_time),
            "orderType": ORDER_TYPES.get(order.order_type, order.order_type),
            "messageId": message,
            "paymentMethod": PAYMENT_METHODS[order.payment.method],
            "eventType": kind,
            "eventTime": iso_offset(event.at),
            "isSplitRequired": len(order.shipments) > 1,
            "shippingCharges": number(order.payment.buyer_paid_shipping_fee),
        }
    )
    channel_type = ext.channel_type or settings.channel_type
    if channel_type:
        body["channelType"] = channel_type
    body.update(
        {
            "orderItems": [_order_item(order, line) for line in order.lines],
            "shipments": shipments,
            "shippingAddress": shipping_address,
            "billingAddress": billing_address,
        }
    )
    too_long: list[str] = []
    _too_long(body, "", too_long)
    if too_long:
        raise TooLong(too_long)
    return Rendered(body=body, kind=kind, dedupe_key=str(message))


def _cancelled_quantity(order: Order, line: Line) -> int:
    if order.status == ApiStatus.CANCELLED:
        return max(line.qty_ordered - line.qty_shipped, 0)
    return line.qty_cancelled


def _channel_sku(line: Line) -> str:
    return (line.ext.channel_sku_code if line.ext else None) or line.sku


def _order_item(order: Order, line: Line) -> dict[str, Any]:
    return {
        "orderItemCode": line.line_id,
        "channelSkuCode": _channel_sku(line),
        "orderedQuantity": line.qty_ordered,
        "cancelledQuantity": _cancelled_quantity(order, line),
        "sellingPricePerUnit": number(line.unit_price),
    }


def _shipment_status(shipment: Shipment) -> str:
    status = shipment.status.strip().upper()
    if status in SHIPMENT_STATUSES:
        return status
    return "DISPATCHED" if status == "SHIPPED" or shipment.pgi_at is not None else "OPEN"


def _shipment(order: Order, shipment: Shipment, location_code: str, need: Resolver) -> dict[str, Any]:
    quantities: dict[str, int] = {}
    for item in shipment.items:
        if item.line_id is not None:
            quantities[item.line_id] = quantities.get(item.line_id, 0) + item.qty
    items: list[dict[str, Any]] = []
    for position, line in enumerate(order.lines):
        quantity = quantities.get(line.line_id)
        if quantity is None:
            continue
        taxes = [tax for tax in (line.ext.tax_lines if line.ext else []) if tax.cost_head.upper() == SELLING_PRICE]
        if not taxes:
            need.add(f"lines[{position}].ext.tax_lines")
            continue
        items.append(_shipment_item(line, quantity, taxes))
    body: dict[str, Any] = {"shipmentCode": shipment.shipment_code, "locationCode": location_code}
    invoice = order.ext.invoice if order.ext else None
    if invoice is not None:
        body["generatedInvoiceId"] = invoice.number
        if invoice.date is not None:
            body["generatedInvoiceDate"] = _date_offset(invoice.date)
        if invoice.url:
            body["invoiceDocumentUrl"] = invoice.url
        if invoice.irn:
            body["irn"] = invoice.irn
        if invoice.qr_code:
            body["qrCode"] = invoice.qr_code
    body["shipmentStatus"] = _shipment_status(shipment)
    body["shipmentItems"] = items
    return body


def _shipment_item(line: Line, quantity: int, taxes: list[TaxLine]) -> dict[str, Any]:
    tax_per_unit = sum((tax.per_unit for tax in taxes), Decimal(0))
    base_per_unit = line.unit_price - tax_per_unit
    return {
        "channelSkuCode": _channel_sku(line),
        "orderItemCode": line.line_id,
        "netTaxAmountPerUnit": number(tax_per_unit),
        "netTaxAmountTotal": number(tax_per_unit * quantity),
        "baseSellingPricePerUnit": number(base_per_unit),
        "baseSellingPriceTotal": number(base_per_unit * quantity),
        "sellingPricePerUnit": number(line.unit_price),
        "sellingPriceTotal": number(line.unit_price * quantity),
        "quantity": quantity,
        "taxItems": [
            {
                "type": tax.type,
                "rate": number(tax.rate),
                "taxPerUnit": number(tax.per_unit),
                "taxTotal": number(tax.per_unit * quantity),
            }
            for tax in taxes
        ],
    }


def _country(order: Order, settings: FormatSettings, need: Resolver) -> str:
    ext = order.ext or _NO_EXT
    return need.first("settings.default_country", ext.consignee_country_code, settings.default_country)


def _shipping_address(order: Order, settings: FormatSettings, need: Resolver) -> dict[str, Any]:
    consignee = order.consignee
    line1, line2, line3 = address_lines([consignee.full_address], "shippingAddress.line1")
    return {
        "name": consignee.name,
        "line1": line1,
        "line2": line2,
        "line3": line3,
        "city": consignee.city,
        "state": need.first("consignee.state", consignee.state, consignee.province, (order.ext or _NO_EXT).consignee_state_code),
        "zip": consignee.zipcode,
        "country": _country(order, settings, need),
        "email": consignee.email,
        "phone": consignee.phone or consignee.mobile,
    }


def _billing_address(address: Address, settings: FormatSettings, need: Resolver) -> dict[str, Any]:
    line1, line2, line3 = address_lines([address.line1, address.line2], "billingAddress.line1")
    return {
        "name": address.name,
        "line1": line1,
        "line2": line2,
        "line3": line3,
        "city": address.city,
        "state": need.first("ext.billing_address.state", address.state, address.state_code),
        "zip": address.zip,
        "country": need.first("ext.billing_address.country", address.country, address.country_code, settings.default_country),
        "email": address.email or "",
        "phone": address.phone or "",
    }


# -- the receiver's answer ----------------------------------------------------------------------


def judge(status_code: int, body: str) -> Verdict:
    answer = json_object(body)
    message = str(answer.get("errorMessage") or "").strip()
    if 200 <= status_code < 300:
        if answer.get("hasError") is True:
            return Verdict("retry", f"hasError: {message or '(no errorMessage)'}"[:300])
        return Verdict("delivered", f"HTTP {status_code}")
    detail = message or " ".join(body.split())
    return Verdict("retry", f"HTTP {status_code}: {detail}"[:300] if detail else f"HTTP {status_code}")
