"""Orders preloaded as they are (``WmsSimulator.bulk_load``): one spec dict -> one ``Order``."""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping
from datetime import datetime
from typing import Any

from local_stack.wms_simulator.model import OPEN, STATUSES, Line, Order, OrderKey, iso_z, parse_moment


def order_from_spec(
    spec: Mapping[str, Any],
    default_tenant: str | None,
    now: datetime,
    taken: Container[OrderKey],
    wms_order_no: Callable[[], str],
) -> Order:
    """The order ``spec`` describes (see ``WmsSimulator.bulk_load`` for the keys); ``ValueError`` if invalid."""
    tenant_id = spec.get("tenant_id") or default_tenant
    if not tenant_id:
        raise ValueError("bulk_load: tenant_id is required when not exactly one tenant is configured")
    status = str(spec.get("status", OPEN)).upper()
    if status not in STATUSES:
        raise ValueError(f"bulk_load: unknown status {status!r}")
    key = (tenant_id, str(spec["warehouse_id"]), str(spec["order_no"]))
    if key in taken:
        raise ValueError(f"bulk_load: {key} already exists")
    updated_at = parse_moment(spec["updated_at"], "updated_at") if "updated_at" in spec else now
    created_at = parse_moment(spec["created_at"], "created_at") if "created_at" in spec else updated_at
    items = spec.get("items") or [{"sku": "SKU-1", "qty": 1}]
    return Order(
        tenant_id=tenant_id,
        warehouse_id=key[1],
        order_no=key[2],
        wms_order_no=wms_order_no(),
        customer_id=str(spec.get("customer_id", "")),
        consignee_name=str(spec.get("consignee", "")),
        express_code=str(spec.get("express_code", "")),
        lines=[Line(str(item["sku"]), int(item["qty"])) for item in items],
        order_time=created_at,
        created_at=created_at,
        updated_at=updated_at,
        status=status,
        history=[{"status": status, "at": iso_z(updated_at), "source": "bulk"}],
    )
