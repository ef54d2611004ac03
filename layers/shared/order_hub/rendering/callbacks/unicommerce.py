"""``unicommerce`` format: Unicommerce POS "Post Sale Order Dispatch" (seed 003, vendor-notes §3.3).

Sent only on ``order.shipped``, for the shipment the event added (the last of ``order.shipments``):
``POST {endpoint url}/v1/shipment/{shipment_code}`` (the endpoint URL is the POS base URL),
``kind="dispatch"``, ``dedupe_key`` = the shipment code (Unicommerce's shipping package code).

The body has exactly the seed's shape. Choices where the seed is ambiguous or silent:

- Dates: ``yyyy-MM-dd'T'HH:mm:ss`` in UTC without a zone (Unicommerce's reader notes).
  ``orderDate`` = order time, ``dispatchTime`` = the shipment's PGI time (else the event time),
  ``invoiceDate`` = the invoice's date at midnight (the hub stores a date only).
- ``quantity`` is a JSON integer (the table types it integer; the sample's ``"1"`` is not copied).
- ``orderStatus`` = ``settings.unicommerce_order_status`` (default ``COMPLETE``, as the sample).
- ``paymentType`` ``COD`` / ``PREPAID``; ``currencyCode`` = the order's currency.
- ``shippingProviderName`` = the carrier name, ``shippingCourierName`` = the carrier id (express
  code: the courier service), else the carrier name.
- One ``invoiceItems`` entry per order line in the shipment: ``product`` = the SKU code (the
  sample's product equals its skuCode), ``description`` = the line name (else the SKU), and one
  ``orderItems`` entry for the line (``orderItemId`` = the hub's line id) whose prices cover the
  shipped quantity: ``sellingPrice`` = unit price x quantity, ``discount`` = the line's discount
  pro rata (to the cent), ``totalPrice`` = selling price - discount (like the sample, it does not
  add shipping). ``serialNumber`` = the shipped serial numbers, comma-separated (Unicommerce's
  convention for several values). ``shippingCharges`` carries the order's buyer-paid shipping fee
  once, on the first item of the order's first shipment (the hub knows shipping per order only);
  COD charges, transfer price and gift wrap charges are 0, ``bundleSku``/``bundleIdentifier``/
  ``giftWrapMessage`` null, as in the sample.
- ``taxBreakUp``: one entry per cost head of the line's tax lines (in their order), GST types
  ``IGST``/``CGST``/``SGST``/``UTGST`` -> ``integratedGst``/``centralGst``/``stateGst``/
  ``unionTerritoryGst`` with ``per_unit`` x the shipped quantity, and the rates as the four
  ``...Percentage`` fields (0 for a type the line lacks). Another tax type cannot be expressed and
  fails naming that tax line's ``type``.
- Addresses: ``addressLine1`` / ``addressLine2`` from the address text (its first line / the rest);
  ``state`` and ``country`` are codes (the table says so; the sample's "India" is not copied):
  ``ext.consignee_state_code`` and ``ext.consignee_country_code`` (else ``settings.default_country``
  when it is a two-letter code); the billing address is ``ext.billing_address`` with its own
  ``state_code`` / ``country_code``, else the shipping address.

Required and never guessed; a missing one fails the delivery naming all of them at once:
``ext.invoice`` (and its date), ``lines[i].ext.hsn_code`` and GST ``lines[i].ext.tax_lines`` for
each shipped line, the facility code (``ext.facility_code`` or ``settings.facility_codes[warehouse]``),
the channel code (``ext.channel_code`` or ``settings.channel_codes[platform]``), and the state and
country codes.

Receiver answers: 2xx with ``successful: true`` -> delivered; 2xx otherwise -> retry with the first
error's message (or ``message``); any other status -> retry (a 401 is handled by the sender's token
refresh; Unicommerce documents no permanent class).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import quote

from order_hub.models.endpoints import Endpoint, FormatSettings
from order_hub.models.extensions import Address, OrderExt, TaxLine
from order_hub.models.order import Line, Order, OrderEvent, Shipment, ShipmentItem
from order_hub.rendering.callbacks.base import MissingField, Rendered, Resolver, Verdict, json_object, number

KIND = "dispatch"
UC_DATETIME = "%Y-%m-%dT%H:%M:%S"
GST_FIELDS = {"IGST": "integratedGst", "CGST": "centralGst", "SGST": "stateGst", "UTGST": "unionTerritoryGst"}
_COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")
_PERCENTAGE_ORDER = ("centralGst", "stateGst", "unionTerritoryGst", "integratedGst")  # the sample's key order
_CENT = Decimal("0.01")
_NO_EXT = OrderExt()


def emits(event: OrderEvent) -> bool:
    return event.type == "order.shipped" and bool(event.order.shipments)


def uc_datetime(value: datetime) -> str:
    return value.astimezone(UTC).strftime(UC_DATETIME)


def _uc_date(value: date) -> str:
    return f"{value.isoformat()}T00:00:00"


def render(endpoint: Endpoint, event: OrderEvent, message_id: int | None = None) -> Rendered:
    """``message_id`` is Increff's; unused here."""
    if not emits(event):
        raise ValueError(f"the unicommerce format sends nothing for {event.type}")
    order, settings = event.order, endpoint.settings
    ext = order.ext or _NO_EXT
    shipment = order.shipments[-1]
    need = Resolver()
    facility_code = need.first(
        f"settings.facility_codes[{order.warehouse_id}]", ext.facility_code, settings.facility_codes.get(order.warehouse_id)
    )
    channel_code = need.first(
        f"settings.channel_codes[{order.platform}]", ext.channel_code, settings.channel_codes.get(order.platform)
    )
    invoice = ext.invoice
    if invoice is None:
        need.add("ext.invoice")
    elif invoice.date is None:
        need.add("ext.invoice.date")
    invoice_items = _invoice_items(order, shipment, need)
    shipping_address = _shipping_address(order, settings, need)
    billing_address = _billing_address(ext.billing_address, settings, need) if ext.billing_address else shipping_address
    if need.missing or invoice is None or invoice.date is None:
        raise MissingField(need.missing)

    pgi_at = shipment.pgi_at or event.at
    body: dict[str, Any] = {
        "saleOrderID": order.order_no,
        "shipmentCode": shipment.shipment_code,
        "orderDate": uc_datetime(order.order_time),
        "orderStatus": settings.unicommerce_order_status,
        "channelCode": channel_code,
        "paymentType": order.payment.method,
        "currencyCode": order.payment.currency,
        "trackingNumber": shipment.awb,
        "shippingProviderName": shipment.carrier_name or shipment.carrier_id,
        "shippingCourierName": shipment.carrier_id or shipment.carrier_name,
        "dispatchTime": uc_datetime(pgi_at),
        "facilityCode": facility_code,
        "invoiceDetails": {
            "invoiceNumber": invoice.number,
            "invoiceDate": _uc_date(invoice.date),
            "invoiceItems": invoice_items,
        },
        "shippingAddress": shipping_address,
        "billingAddress": billing_address,
    }
    return Rendered(
        body=body,
        kind=KIND,
        dedupe_key=shipment.shipment_code,
        path=f"/v1/shipment/{quote(shipment.shipment_code, safe='')}",
    )


def _invoice_items(order: Order, shipment: Shipment, need: Resolver) -> list[dict[str, Any]]:
    by_line: dict[str, list[ShipmentItem]] = {}
    for item in shipment.items:
        if item.line_id is not None:
            by_line.setdefault(item.line_id, []).append(item)
    # The order's shipping fee goes once: on the first item of its first shipment.
    shipping_charges = order.payment.buyer_paid_shipping_fee if len(order.shipments) == 1 else Decimal(0)
    items: list[dict[str, Any]] = []
    for position, line in enumerate(order.lines):
        shipped = by_line.get(line.line_id)
        if not shipped:
            continue
        quantity = sum(item.qty for item in shipped)
        hsn_code = line.ext.hsn_code if line.ext else None
        if not hsn_code:
            need.add(f"lines[{position}].ext.hsn_code")
        tax_break_up = _tax_break_up(line, position, quantity, need)
        serials = ",".join(item.serial_no for item in shipped if item.serial_no)
        items.append(
            {
                "product": line.sku,
                "description": line.name or line.sku,
                "skuCode": line.sku,
                "hsnCode": hsn_code or "",
                "quantity": quantity,
                "bundleSku": None,
                "orderItems": [_order_item(line, quantity, serials, shipping_charges)],
                "taxBreakUp": tax_break_up,
            }
        )
        shipping_charges = Decimal(0)
    return items


def _order_item(line: Line, quantity: int, serials: str, shipping_charges: Decimal) -> dict[str, Any]:
    selling = line.unit_price * quantity
    discount = (line.discount * quantity / line.qty_ordered).quantize(_CENT, ROUND_HALF_UP) if line.qty_ordered else Decimal(0)
    return {
        "orderItemId": line.line_id,
        "serialNumber": serials,
        "orderItemPrice": {
            "cashOnDeliveryCharges": 0,
            "sellingPrice": number(selling),
            "shippingCharges": number(shipping_charges),
            "discount": number(discount),
            "totalPrice": number(selling - discount),
            "transferPrice": 0,
        },
        "giftWrap": {"giftWrapMessage": None, "giftWrapCharges": 0},
        "bundleIdentifier": None,
    }


def _tax_break_up(line: Line, position: int, quantity: int, need: Resolver) -> list[dict[str, Any]]:
    taxes: list[TaxLine] = line.ext.tax_lines if line.ext else []
    if not taxes:
        need.add(f"lines[{position}].ext.tax_lines")
        return []
    amounts: dict[str, dict[str, Decimal]] = {}  # cost head -> GST field -> amount for the quantity
    rates: dict[str, dict[str, Decimal]] = {}  # cost head -> GST field -> rate
    for index, tax in enumerate(taxes):
        field = GST_FIELDS.get(tax.type.strip().upper())
        if field is None:
            need.add(f"lines[{position}].ext.tax_lines[{index}].type")
            continue
        head = amounts.setdefault(tax.cost_head, dict.fromkeys(GST_FIELDS.values(), Decimal(0)))
        head[field] += tax.per_unit * quantity
        rates.setdefault(tax.cost_head, {})[field] = tax.rate
    return [
        {
            "costHead": cost_head,
            "integratedGst": number(head["integratedGst"]),
            "unionTerritoryGst": number(head["unionTerritoryGst"]),
            "stateGst": number(head["stateGst"]),
            "centralGst": number(head["centralGst"]),
            **{f"{name}Percentage": number(rates[cost_head].get(name, Decimal(0))) for name in _PERCENTAGE_ORDER},
        }
        for cost_head, head in amounts.items()
    ]


def _two_lines(text: str) -> tuple[str, str]:
    pieces = [piece.strip() for piece in text.splitlines() if piece.strip()]
    return (pieces[0] if pieces else ""), ", ".join(pieces[1:])


def _default_country_code(settings: FormatSettings) -> str | None:
    default = settings.default_country
    return default if default and _COUNTRY_CODE.match(default) else None


def _shipping_address(order: Order, settings: FormatSettings, need: Resolver) -> dict[str, Any]:
    consignee, ext = order.consignee, order.ext or _NO_EXT
    line1, line2 = _two_lines(consignee.full_address)
    return {
        "addressLine1": line1,
        "addressLine2": line2,
        "city": consignee.city,
        "country": need.first("ext.consignee_country_code", ext.consignee_country_code, _default_country_code(settings)),
        "email": consignee.email,
        "name": consignee.name,
        "phone": consignee.phone or consignee.mobile,
        "pincode": consignee.zipcode,
        "state": need.first("ext.consignee_state_code", ext.consignee_state_code),
    }


def _billing_address(address: Address, settings: FormatSettings, need: Resolver) -> dict[str, Any]:
    return {
        "addressLine1": address.line1,
        "addressLine2": address.line2 or "",
        "city": address.city,
        "country": need.first("ext.billing_address.country_code", address.country_code, _default_country_code(settings)),
        "email": address.email or "",
        "name": address.name,
        "phone": address.phone or "",
        "pincode": address.zip,
        "state": need.first("ext.billing_address.state_code", address.state_code),
    }


# -- the receiver's answer ----------------------------------------------------------------------


def judge(status_code: int, body: str) -> Verdict:
    answer = json_object(body)
    if 200 <= status_code < 300 and answer.get("successful") is True:
        return Verdict("delivered", f"HTTP {status_code}")
    detail = _error_text(answer) or " ".join(body.split())
    if 200 <= status_code < 300:
        return Verdict("retry", f"not successful: {detail or '(no message)'}"[:300])
    return Verdict("retry", f"HTTP {status_code}: {detail}"[:300] if detail else f"HTTP {status_code}")


def _error_text(answer: dict[str, Any]) -> str:
    errors = answer.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        text = first.get("message") or first.get("description")
        if text:
            return str(text)
    return str(answer.get("message") or answer.get("errorMessage") or "")
