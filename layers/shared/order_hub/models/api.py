"""Inbound API shapes (Shipper-compatible field names and limits, vendor-notes §1.2 / §1.4).

Where Shipper's create page is cut off (items, payment, tracking id), the shapes below are the
hub's design in Shipper's style: snake_case, flat header, documented in the OpenAPI document.
"""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BeforeValidator, Field, StrictInt, model_validator

from order_hub.models.common import CODE_PATTERN, IsoDate, Money, Strict, to_utc
from order_hub.models.extensions import LineExt, OrderExt
from order_hub.models.status import ApiStatus

Platform = Literal["", "LAZADA", "SHOPEE", "TOKOPEDIA", "TIKTOK", "BLIBLI", "AKULAKU", "BUKALAPAK", "SHOPIFY", "ERP"]
RateType = Literal["", "regular", "express", "trucking", "instant", "same-day"]
MAX_LINES = 500
EMAIL_OR_EMPTY = r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$"
PHONE = r"^\+?[0-9][0-9 ().\-]{3,39}$"

WarehouseId = Annotated[str, Field(min_length=1, max_length=20, pattern=CODE_PATTERN, examples=["WH-TGR04"])]
OrderNo = Annotated[str, Field(min_length=1, max_length=50, pattern=CODE_PATTERN, examples=["SO-2026-000123"])]


def _datetime_text(value: object) -> object:
    """Timestamps are ISO 8601 text (pydantic would also read numbers as epoch seconds)."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date-time text, e.g. 2026-11-23T10:15:00+07:00")
    return value


def _require_aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must include a timezone offset, e.g. 2026-11-23T10:15:00+07:00")
    return to_utc(value)


class OrderItem(Strict):
    """One order line. ``line_id`` is the stable line code (Increff orderItemCode / UC orderItemId)."""

    line_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=60,
        pattern=CODE_PATTERN,
        description="Stable line code; defaults to '<so_number>-<n>' (1-based position)",
    )
    sku: str = Field(min_length=1, max_length=50, description="One SKU code maps to exactly one UoM")
    name: str = Field(default="", max_length=200)
    uom: str = Field(default="", max_length=20)
    qty: StrictInt = Field(ge=1, le=1_000_000)
    unit_price: Money = Field(description="Selling price per unit, tax included, in payment.currency")
    discount: Money = Field(default=Decimal(0), description="Total discount on this line")
    ext: LineExt | None = None

    @model_validator(mode="after")
    def _discount_within_line_total(self) -> Self:
        if self.discount > self.unit_price * self.qty:
            raise ValueError("discount is larger than qty * unit_price")
        return self


class Payment(Strict):
    method: Literal["COD", "PREPAID"]
    currency: str = Field(pattern=r"^[A-Z]{3}$", examples=["IDR"], description="ISO 4217 code")
    total_amount: Money = Field(description="Amount the buyer pays, as on the channel")
    total_discount: Money = Decimal(0)
    seller_discount: Money = Decimal(0)
    buyer_paid_shipping_fee: Money = Decimal(0)
    cod_amount: Money | None = Field(default=None, description="Amount to collect; mandatory when method is COD")

    @model_validator(mode="after")
    def _cod_rules(self) -> Self:
        if self.method == "COD" and self.cod_amount is None:
            raise ValueError("cod_amount is mandatory when method is COD")
        if self.method == "PREPAID" and self.cod_amount:
            raise ValueError("cod_amount must be empty or 0 when method is PREPAID")
        return self


class CreateOrderRequest(Strict):
    """Create (and, with PUT, replace before allocation) a B2C sales order."""

    warehouse_id: WarehouseId
    customer_id: str = Field(min_length=1, max_length=20, description="Owner ID given by Shipper")
    so_number: OrderNo
    order_type: Literal["SO", "TT"] = "SO"
    order_source: str = Field(default="", max_length=32)
    platform: Platform = ""
    order_identification_code: Literal[1] = Field(description="Must be 1 (Pending Shipment)")
    internal_order_status: str = Field(min_length=1, max_length=30, examples=["Pending"])
    express_code: str = Field(default="", max_length=40, examples=["JNE YES"])
    rate_type: RateType = ""
    tracking_id: str = Field(default="", max_length=64, description="Tracking ID Shipper (fulfilment-logistics)")
    tenant_name: str = Field(min_length=1, max_length=200)
    consignee: str = Field(min_length=1, max_length=200)
    consignee_phone: str = Field(min_length=1, max_length=40, pattern=PHONE, description="Digits, optional leading +")
    consignee_email: str = Field(default="", max_length=40, pattern=EMAIL_OR_EMPTY)
    consignee_full_address: str = Field(min_length=1, max_length=400)
    consignee_state: str = Field(default="", max_length=30)
    consignee_province: str = Field(min_length=1, max_length=50)
    consignee_city: str = Field(min_length=1, max_length=50)
    area: str = Field(default="", max_length=100)
    town: str = Field(default="", max_length=30)
    zipcode: str = Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9 \-]+$")
    seller_nick: str = Field(default="", max_length=20)
    mobile: str = Field(default="", max_length=300)
    consignee_doc_type: StrictInt | None = Field(default=None, ge=0, le=99)
    order_time: Annotated[datetime, BeforeValidator(_datetime_text), AfterValidator(_require_aware)] | None = Field(
        default=None, description="When the buyer ordered (ISO 8601 with offset); defaults to receipt time"
    )
    notes: str = Field(default="", max_length=200, description="Buyer remark")
    payment: Payment
    items: list[OrderItem] = Field(min_length=1, max_length=MAX_LINES)
    ext: OrderExt | None = None

    @model_validator(mode="after")
    def _unique_line_ids(self) -> Self:
        seen: set[str] = set()
        for position, item in enumerate(self.items, start=1):
            line_id = item.line_id or f"{self.so_number}-{position}"
            if line_id in seen:
                raise ValueError(f"items: line_id '{line_id}' appears twice")
            seen.add(line_id)
        return self


# The Shipper create body's field map, the one place that spells it: create-body field -> where the
# canonical order keeps it (``consignee.name`` = the order's consignee's name). It drives both
# directions: services.orders reads a request into an order, rendering.api_views.create_body writes
# an order back into the body the hub sends the WMS. order_time, payment, items and ext are shaped
# on their own (a default, a nested model, lines, extensions the WMS is not sent).
CREATE_BODY_FIELDS: dict[str, str] = {
    "warehouse_id": "warehouse_id",
    "customer_id": "customer_id",
    "so_number": "order_no",
    "order_type": "order_type",
    "order_source": "order_source",
    "platform": "platform",
    "order_identification_code": "order_identification_code",
    "internal_order_status": "internal_order_status",
    "express_code": "courier.express_code",
    "rate_type": "courier.rate_type",
    "tracking_id": "courier.tracking_id",
    "tenant_name": "tenant_name",
    "consignee": "consignee.name",
    "consignee_phone": "consignee.phone",
    "consignee_email": "consignee.email",
    "consignee_full_address": "consignee.full_address",
    "consignee_state": "consignee.state",
    "consignee_province": "consignee.province",
    "consignee_city": "consignee.city",
    "area": "consignee.area",
    "town": "consignee.town",
    "zipcode": "consignee.zipcode",
    "seller_nick": "seller_nick",
    "mobile": "consignee.mobile",
    "consignee_doc_type": "consignee.doc_type",
    "notes": "notes",
}
# ``items[]`` field -> the order line's field (``line_id`` defaults to ``<so_number>-<n>``).
CREATE_ITEM_FIELDS: dict[str, str] = {
    "line_id": "line_id",
    "sku": "sku",
    "name": "name",
    "uom": "uom",
    "qty": "qty_ordered",
    "unit_price": "unit_price",
    "discount": "discount",
}


class Cancellation(Strict):
    order_no: OrderNo
    warehouse_id: WarehouseId
    cancel_reason: str = Field(min_length=1, max_length=50)


class CancelData(Strict):
    cancellation: Cancellation


class CancelOrderRequest(Strict):
    """Seed 004: ``{"data": {"cancellation": {order_no, warehouse_id, cancel_reason}}}``."""

    data: CancelData


class ListQuery(Strict):
    """Filters of ``GET /v3/fulfillment/outbounds/{outbound_type}`` (vendor-notes §1.5)."""

    outbound_type: Literal["OMS", "WMS"]
    created_start: IsoDate | None = None
    created_end: IsoDate | None = None
    updated_start: IsoDate | None = None
    updated_end: IsoDate | None = None
    warehouse_id: str | None = Field(default=None, max_length=20, pattern=CODE_PATTERN)
    order_type: Literal["SO", "RT", "TT"] | None = None
    so_status: ApiStatus | None = None
    page: int = Field(default=1, ge=1, le=100_000)
    limit: int = Field(default=20, ge=1, le=100)

    @model_validator(mode="after")
    def _ranges(self) -> Self:
        if self.created_start and self.created_end and self.created_start > self.created_end:
            raise ValueError("created_start is after created_end")
        if self.updated_start and self.updated_end and self.updated_start > self.updated_end:
            raise ValueError("updated_start is after updated_end")
        return self
