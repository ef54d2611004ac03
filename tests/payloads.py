"""Request bodies, vendor field lists and records shared by the suites."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from order_hub.models.endpoints import Endpoint, FormatSettings

SHIPPER_PGI_FIELDS = [
    "warehouse_id",
    "order_type",
    "doc_no",
    "delivery_no",
    "carrier_id",
    "carrier_name",
    "customer_id",
    "so_reference_a",
    "so_reference_b",
    "user_define_1",
    "user_define_2",
    "user_define_3",
    "pgi_date",
    "shop_code",
    "details",
]
"""The fields of Shipper's PGI webhook, in their documented order (vendor-notes §1.6)."""


def make_endpoint(fmt: Any, *, at: datetime = datetime(2026, 11, 23, 10, 0, tzinfo=UTC), **settings: Any) -> Endpoint:
    """Tenant acme's endpoint ``ep-<fmt>`` of format ``fmt`` with these format settings."""
    return Endpoint(
        tenant_id="acme",
        endpoint_id=f"ep-{fmt}",
        url="https://client.example.com/hook",
        format=fmt,
        settings=FormatSettings(**settings),
        created_at=at,
        updated_at=at,
    )


_ORDER: dict[str, Any] = {
    "warehouse_id": "WH-TGR04",
    "customer_id": "CS674",
    "so_number": "SO-2026-0001",
    "order_type": "SO",
    "order_source": "",
    "platform": "SHOPEE",
    "order_identification_code": 1,
    "internal_order_status": "Pending",
    "express_code": "JNE YES",
    "tenant_name": "Matahari",
    "consignee": "Budi Santoso",
    "consignee_phone": "+62 812-3456-7890",
    "consignee_email": "budi@example.co.id",
    "consignee_full_address": "Jl. Jend. Sudirman No. 1, Senayan, Jakarta Selatan",
    "consignee_province": "DKI Jakarta",
    "consignee_city": "Jakarta Selatan",
    "zipcode": "12190",
    "order_time": "2026-11-23T09:15:00+07:00",
    "notes": "leave at the front desk",
    "payment": {
        "method": "COD",
        "currency": "IDR",
        "total_amount": 185000,
        "total_discount": 15000,
        "buyer_paid_shipping_fee": 10000,
        "cod_amount": 185000,
    },
    "items": [
        {"sku": "TSHIRT-BLK-M", "name": "T-shirt black M", "qty": 2, "unit_price": 75000},
        {"line_id": "L-2", "sku": "CAP-RED", "name": "Cap red", "qty": 1, "unit_price": 40000, "discount": 5000},
    ],
}


def order_body(**overrides: Any) -> dict[str, Any]:
    body = copy.deepcopy(_ORDER)
    body.update(overrides)
    return body


def cancel_body(
    order_no: str = "SO-2026-0001", warehouse_id: str = "WH-TGR04", reason: str = "buyer cancelled"
) -> dict[str, Any]:
    return {"data": {"cancellation": {"order_no": order_no, "warehouse_id": warehouse_id, "cancel_reason": reason}}}
