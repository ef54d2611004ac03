"""What the WMS (Shipper's fulfilment platform) tells the hub: list/detail rows and webhooks.

Vendor payloads may carry more fields than listed (Shipper's PGI sample does): extra fields are
ignored, never refused, so a vendor adding a field cannot make the hub drop a shipment.
"""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BeforeValidator, Field

from order_hub.models.common import ByteCaps, Stored

SHIPPER_DATETIME = "%Y-%m-%d %H:%M:%S"


def _shipper_datetime(value: object) -> object:
    """``YYYY-MM-DD HH:MM:SS`` (no zone, read as UTC) or ISO 8601."""
    if isinstance(value, str) and len(value) == 19 and value[10] == " ":
        return datetime.strptime(value, SHIPPER_DATETIME).replace(tzinfo=UTC)
    return value


ShipperDatetime = Annotated[datetime, BeforeValidator(_shipper_datetime)]


class WmsLine(Stored):
    sku: str
    order_line: int | None = None
    qty_ordered: int = 0
    qty_allocated: int = 0
    qty_picked: int = 0
    qty_shipped: int = 0


class WmsOutbound(Stored):
    """A row of the WMS order list, or a WMS detail. ``so_status`` is the raw warehouse status."""

    order_no: str
    warehouse_id: str
    so_status: str
    order_type: str = "SO"
    carrier_name: str = ""
    delivery_no: str = ""
    updated_at: datetime | None = None
    details: list[WmsLine] = Field(default_factory=list)


class WmsPage(Stored):
    items: list[WmsOutbound]
    total_pages: int


class OrderConfirmationWebhook(Stored, ByteCaps):
    """WMS order confirmation (seed 002 step 5; Shipper's page is missing, this is the hub's design)."""

    order_no: str = Field(min_length=1, max_length=50)
    warehouse_id: str = Field(min_length=1, max_length=20)
    wms_order_no: str = Field(default="", max_length=64)
    so_status: str = Field(default="OPEN", max_length=30)
    confirmed_at: ShipperDatetime | None = None


class PgiDetail(Stored, ByteCaps):
    sku: str = Field(min_length=1, max_length=50)
    qty_shipped: int = Field(ge=0, le=1_000_000)
    mfg_date: str = Field(default="", max_length=32)
    exp_date: str = Field(default="", max_length=32)
    stock_condition: str = Field(default="", max_length=1, description="N = good, Y = damaged")
    batch_no: str = Field(default="", max_length=64)
    serial_no: str = Field(default="", max_length=64)
    receipt_date: str = Field(default="", max_length=32)


class PgiWebhook(Stored, ByteCaps):
    """Shipper's PGI (Post Goods Issue) webhook, vendor-notes §1.6."""

    warehouse_id: str = Field(min_length=1, max_length=20)
    order_type: str = Field(default="SO", max_length=4)
    doc_no: str = Field(min_length=1, max_length=50)
    delivery_no: str = Field(min_length=1, max_length=64, description="AWB")
    carrier_id: str = Field(default="", max_length=64)
    carrier_name: str = Field(min_length=1, max_length=200)
    customer_id: str = Field(default="", max_length=64)
    pgi_date: ShipperDatetime | None = None
    details: list[PgiDetail] = Field(min_length=1, max_length=500)
