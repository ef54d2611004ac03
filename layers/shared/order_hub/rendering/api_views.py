"""Render canonical orders in Shipper's retrieval shapes (vendor-notes §1.5).

Documented fields keep Shipper's names and types; fields Shipper returns as empty strings are
returned the same way. Hub additions (line ids, versions, timestamps) are extra keys.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from order_hub.models.api import CREATE_BODY_FIELDS, CREATE_ITEM_FIELDS
from order_hub.models.order import Line, Order
from order_hub.models.status import ApiStatus

_RELEASED = frozenset({ApiStatus.ALLOCATED, ApiStatus.PICKED, ApiStatus.PACKED, ApiStatus.CLOSED})


def iso_z(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def shipper_datetime(value: datetime) -> str:
    """``yyyy-MM-dd HH:mm:ss`` (UTC), the list endpoint's format."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _awb(order: Order) -> str:
    return next((shipment.awb for shipment in reversed(order.shipments) if shipment.awb), "")


def _carrier_name(order: Order) -> str:
    shipped = next((s.carrier_name for s in reversed(order.shipments) if s.carrier_name), "")
    return shipped or order.courier.express_code


def _references(order: Order) -> dict[str, str]:
    return {
        "so_reference_1": "",
        "so_reference_2": order.order_no,
        "so_reference_3": "",
        "so_reference_4": "",
        "so_reference_5": "",
    }


def _udfs() -> dict[str, str]:
    return {f"udf_0{n}": "" for n in range(1, 6)}


def list_item(order: Order) -> dict[str, Any]:
    return {
        "order_no": order.order_no,
        "order_type": order.order_type,
        "so_status": order.status.value,
        "warehouse_id": order.warehouse_id,
        "release_status": order.status in _RELEASED,
        "order_time": shipper_datetime(order.order_time),
        "billing_id": "",
        "consignee_id": "",
        "consignee_name": order.consignee.name,
        "wave_no": "",
        **_references(order),
        "consignee_address_1": order.consignee.full_address,
        "consignee_city": order.consignee.city,
        "carrier_name": _carrier_name(order),
        "delivery_no": _awb(order),
        "created_at": iso_z(order.created_at),
        "updated_at": iso_z(order.updated_at),
    }


def _header(order: Order) -> dict[str, Any]:
    return {
        "order_no": order.order_no,
        "order_type": order.order_type,
        "so_status": order.status.value,
        "warehouse_id": order.warehouse_id,
        "consignee_id": "",
        "consignee_name": order.consignee.name,
        "release_status": order.status in _RELEASED,
        "order_time": iso_z(order.order_time),
        "wave_no": "",
        **_references(order),
        "consignee_address_1": order.consignee.full_address,
        "consignee_city": order.consignee.city,
        "billing_id": "",
        "carrier_name": _carrier_name(order),
        "delivery_no": _awb(order),
        **_udfs(),
        "notes": order.notes,
    }


def _wms_line(position: int, line: Line, order: Order) -> dict[str, Any]:
    shipped_items = [item for s in order.shipments for item in s.items if item.line_id == line.line_id]
    first = shipped_items[0] if shipped_items else None
    return {
        "sku": line.sku,
        "order_line": position,
        "line_id": line.line_id,
        "line_status": "CANCELLED" if line.qty_cancelled >= line.qty_ordered else "",
        "sku_descr": line.name,
        "qty_ordered": line.qty_ordered,
        "qty_released": line.qty_allocated,
        "qty_allocated": line.qty_allocated,
        "qty_picked": line.qty_picked,
        "qty_shipped": line.qty_shipped,
        "qty_cancelled": line.qty_cancelled,
        "pack_id": "",
        **_udfs(),
        "mfg_date": first.mfg_date if first else "",
        "exp_date": first.exp_date if first else "",
        "batch_no": first.batch_no if first else "",
        "serial_no": first.serial_no if first else "",
        "receipt_date": None,
        "product_condition": first.stock_condition if first else "",
    }


def _oms_line(line: Line) -> dict[str, Any]:
    return {
        "line_id": line.line_id,
        "sku": line.sku,
        "sku_descr": line.name,
        "uom": line.uom,
        "qty_ordered": line.qty_ordered,
        "qty_cancelled": line.qty_cancelled,
        "qty_shipped": line.qty_shipped,
        "unit_price": line.unit_price,
        "discount": line.discount,
    }


def oms_detail(order: Order) -> dict[str, Any]:
    payment = order.payment
    return {
        "outbound": {
            **_header(order),
            "payment_type": "COD" if payment.method == "COD" else "PAY_ONLINE",
            "total_discount": payment.total_discount,
            "seller_discount": payment.seller_discount,
            "buyer_paid_shipping_fee": payment.buyer_paid_shipping_fee,
            "currency": payment.currency,
            "total_amount": payment.total_amount,
            "cod_amount": payment.cod_amount,
            "platform": order.platform,
            "order_source": order.order_source,
            "internal_order_status": order.internal_order_status,
            "express_code": order.courier.express_code,
            "tracking_id": order.courier.tracking_id,
            "has_split": False,
            "sub_orders": [],
            "details": [_oms_line(line) for line in order.lines],
            "version": order.version,
            "created_at": iso_z(order.created_at),
            "updated_at": iso_z(order.updated_at),
            "cancel_reason": order.cancel.reason if order.cancel else "",
            "forward": _forward(order),
            "shipments": [
                {
                    **shipment.model_dump(mode="json", include={"shipment_code", "awb", "carrier_id", "carrier_name", "status"}),
                    "pgi_at": iso_z(shipment.pgi_at) if shipment.pgi_at else None,
                    "items": [item.model_dump(mode="json") for item in shipment.items],
                }
                for shipment in order.shipments
            ],
            "partially_shipped": bool(order.shipments) and order.partially_shipped,
        }
    }


def _forward(order: Order) -> dict[str, Any]:
    forward = order.forward
    state = "waiting_for_courier" if forward.state == "not_forwarded" and not order.has_courier else forward.state
    return {
        "state": state,
        "wms_order_no": forward.wms_order_no,
        "attempts": forward.attempts,
        "last_error": forward.last_error,
        "last_attempt_at": iso_z(forward.last_attempt_at) if forward.last_attempt_at else None,
    }


def wms_detail(order: Order) -> dict[str, Any]:
    return {
        "outbound": {
            **_header(order),
            "wms_status": order.wms_status,
            "details": [_wms_line(n, line, order) for n, line in enumerate(order.lines)],
        }
    }


def order_summary(order: Order) -> dict[str, Any]:
    """The ``data`` of create/update/cancel responses."""
    return {
        "order_no": order.order_no,
        "warehouse_id": order.warehouse_id,
        "so_status": order.status.value,
        "version": order.version,
        "created_at": iso_z(order.created_at),
        "updated_at": iso_z(order.updated_at),
        "lines": [{"line_id": line.line_id, "sku": line.sku, "qty_ordered": line.qty_ordered} for line in order.lines],
    }


def create_body(order: Order) -> dict[str, Any]:
    """The order as a Shipper create body: what the hub sends to the WMS (the create API's
    ``CREATE_BODY_FIELDS`` map, read the other way)."""
    body: dict[str, Any] = {}
    for body_field, path in CREATE_BODY_FIELDS.items():
        value: Any = order
        for name in path.split("."):
            value = getattr(value, name)
        body[body_field] = value
    body["order_time"] = iso_z(order.order_time)
    body["payment"] = order.payment.model_dump(mode="json")
    body["items"] = [
        {item_field: getattr(line, line_field) for item_field, line_field in CREATE_ITEM_FIELDS.items()} for line in order.lines
    ]
    return body
