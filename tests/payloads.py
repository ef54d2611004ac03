"""Request bodies, vendor field lists and records shared by the suites (the order and cancel bodies
live in ``local_stack.testkit``, which the benchmarks share)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from local_stack.testkit import cancel_body, order_body
from order_hub.models.endpoints import Endpoint, FormatSettings

__all__ = ["SHIPPER_PGI_FIELDS", "cancel_body", "make_endpoint", "order_body", "pgi_body"]

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


def pgi_body(warehouse_id: str, doc_no: str, delivery_no: str, **extra: Any) -> dict[str, Any]:
    """A PGI webhook body shipping the sample order's two lines in full (JNE)."""
    return {
        "warehouse_id": warehouse_id,
        "doc_no": doc_no,
        "delivery_no": delivery_no,
        "carrier_id": "JNE",
        "carrier_name": "JNE REG",
        "pgi_date": "2026-11-23 12:04:14",
        "details": [{"sku": "TSHIRT-BLK-M", "qty_shipped": 2}, {"sku": "CAP-RED", "qty_shipped": 1}],
        **extra,
    }


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
