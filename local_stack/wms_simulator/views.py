"""How the WMS simulator shows an order: Shipper's create, list and detail views, and the control view."""

from __future__ import annotations

from typing import Any

from local_stack.wms_simulator.model import Order, carrier_for, iso_z, space_time


def create_view(order: Order) -> dict[str, Any]:
    return {
        "order_no": order.order_no,
        "warehouse_id": order.warehouse_id,
        "so_status": order.status,
        "wms_order_no": order.wms_order_no,
    }


def list_view(order: Order) -> dict[str, Any]:
    return {
        "order_no": order.order_no,
        "order_type": "SO",
        "so_status": order.status,
        "warehouse_id": order.warehouse_id,
        "release_status": order.released,
        "order_time": space_time(order.order_time),
        "updated_at": iso_z(order.updated_at),
        "consignee_name": order.consignee_name,
        "carrier_name": carrier_for(order.express_code)[1],
        "delivery_no": order.delivery_no,
    }


def detail_view(order: Order) -> dict[str, Any]:
    view = list_view(order)
    view["wms_order_no"] = order.wms_order_no
    view["order_time"] = iso_z(order.order_time)
    view["details"] = [
        {
            "sku": line.sku,
            "order_line": index,
            "qty_ordered": line.qty,
            "qty_allocated": allocated,
            "qty_picked": picked,
            "qty_shipped": shipped,
            "batch_no": line.batch_no,
            "serial_no": line.serial_no,
            "mfg_date": line.mfg_date,
            "exp_date": line.exp_date,
        }
        for index, line in enumerate(order.lines)
        for allocated, picked, shipped in [order.quantities(line)]
    ]
    return {"outbound": view}


def control_view(order: Order) -> dict[str, Any]:
    carrier_id, carrier_name = carrier_for(order.express_code)
    lines = [
        {
            "sku": line.sku,
            "order_line": index,
            "qty_ordered": line.qty,
            "qty_allocated": allocated,
            "qty_picked": picked,
            "qty_shipped": shipped,
            "qty_to_ship": line.qty_to_ship,
        }
        for index, line in enumerate(order.lines)
        for allocated, picked, shipped in [order.quantities(line)]
    ]
    return {
        "tenant_id": order.tenant_id,
        "warehouse_id": order.warehouse_id,
        "order_no": order.order_no,
        "wms_order_no": order.wms_order_no,
        "status": order.status,
        "hold": order.hold,
        "carrier_id": carrier_id,
        "carrier_name": carrier_name,
        "delivery_no": order.delivery_no,
        "pgi_confirmations": order.pgi_confirmations,
        "rest_cancelled": order.rest_cancelled,
        "created_at": iso_z(order.created_at),
        "updated_at": iso_z(order.updated_at),
        "lines": lines,
        "history": [dict(entry) for entry in order.history],
    }
