"""Response shapes (Shipper envelope) — used for the OpenAPI document and response validation."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from order_hub.models.common import Money


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


def _without_none(data: dict[str, Any], key: str) -> dict[str, Any]:
    if data.get(key) is None:
        data.pop(key, None)
    return data


class ErrorItem(_Out):
    code: int = Field(examples=[810])
    message: str
    field: str | None = Field(default=None, description="The offending field, when one is to blame")

    @model_serializer(mode="wrap")
    def _omit_empty_field(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _without_none(handler(self), "field")


class Metadata(_Out):
    path: str
    http_status_code: int
    http_status: str
    timestamp: int = Field(description="Epoch seconds")
    errors: list[ErrorItem] | None = None

    @model_serializer(mode="wrap")
    def _omit_empty_errors(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _without_none(handler(self), "errors")


class Pagination(_Out):
    current_page: int
    current_elements: int
    total_pages: int
    total_elements: int
    total_exact: bool = Field(
        description=(
            "The hub's addition. True: total_elements is exact. False: more matches may follow; total_elements "
            "counts those up to the end of the next page (lists with a warehouse_id, order_type, so_status, WMS "
            "or updated_* filter read only as far as the next page, so a page costs the same at any tenant size); "
            "lists without filters, or with a created_* range only, are exact from per-day counts, which a create "
            "updates just before it stores the order: a create interrupted between the two (the hub's function "
            "stopped) leaves its day one order too many, never too few"
        )
    )


class LineRef(_Out):
    line_id: str
    sku: str
    qty_ordered: int


class OrderSummary(_Out):
    order_no: str
    warehouse_id: str
    so_status: str
    version: int
    created_at: str
    updated_at: str
    lines: list[LineRef]


class ListItem(_Out):
    order_no: str
    order_type: str
    so_status: str
    warehouse_id: str
    release_status: bool
    order_time: str = Field(description="yyyy-MM-dd HH:mm:ss (UTC)")
    billing_id: str
    consignee_id: str
    consignee_name: str
    wave_no: str
    so_reference_1: str
    so_reference_2: str
    so_reference_3: str
    so_reference_4: str
    so_reference_5: str
    consignee_address_1: str
    consignee_city: str
    carrier_name: str
    delivery_no: str
    created_at: str
    updated_at: str


class _Header(_Out):
    order_no: str
    order_type: str
    so_status: str
    warehouse_id: str
    consignee_id: str
    consignee_name: str
    release_status: bool
    order_time: str
    wave_no: str
    so_reference_1: str
    so_reference_2: str
    so_reference_3: str
    so_reference_4: str
    so_reference_5: str
    consignee_address_1: str
    consignee_city: str
    billing_id: str
    carrier_name: str
    delivery_no: str = Field(description="AWB, once shipped")
    udf_01: str
    udf_02: str
    udf_03: str
    udf_04: str
    udf_05: str
    notes: str


class OmsLine(_Out):
    line_id: str
    sku: str
    sku_descr: str
    uom: str
    qty_ordered: int
    qty_cancelled: int
    qty_shipped: int
    unit_price: Money
    discount: Money


class ForwardView(_Out):
    state: str = Field(description="not_forwarded, waiting_for_courier, forwarded, retrying, refused, cancelled")
    wms_order_no: str
    attempts: int
    last_error: str
    last_attempt_at: str | None


class ShipmentItemView(_Out):
    line_id: str | None
    sku: str
    qty: int
    batch_no: str
    serial_no: str
    mfg_date: str
    exp_date: str
    stock_condition: str


class ShipmentView(_Out):
    shipment_code: str
    awb: str
    carrier_id: str
    carrier_name: str
    status: str
    pgi_at: str | None
    items: list[ShipmentItemView]


class OmsOutbound(_Header):
    payment_type: str = Field(description="COD or PAY_ONLINE")
    total_discount: Money
    seller_discount: Money
    buyer_paid_shipping_fee: Money
    currency: str
    total_amount: Money
    cod_amount: Money | None
    platform: str
    order_source: str
    internal_order_status: str
    express_code: str
    tracking_id: str
    has_split: bool
    sub_orders: list[dict[str, Any]]
    details: list[OmsLine]
    version: int
    created_at: str
    updated_at: str
    cancel_reason: str
    forward: ForwardView
    shipments: list[ShipmentView]
    partially_shipped: bool


class WmsLine(_Out):
    sku: str
    order_line: int
    line_id: str
    line_status: str
    sku_descr: str
    qty_ordered: int
    qty_released: int
    qty_allocated: int
    qty_picked: int
    qty_shipped: int
    qty_cancelled: int
    pack_id: str
    udf_01: str
    udf_02: str
    udf_03: str
    udf_04: str
    udf_05: str
    mfg_date: str
    exp_date: str
    batch_no: str
    serial_no: str
    receipt_date: str | None
    product_condition: str


class WmsOutbound(_Header):
    wms_status: str
    details: list[WmsLine]


class OmsDetail(_Out):
    outbound: OmsOutbound


class WmsDetail(_Out):
    outbound: WmsOutbound


class OutboundList(_Out):
    outbounds: list[ListItem]


class MetadataOnlyResponse(_Out):
    metadata: Metadata


class ErrorResponse(_Out):
    metadata: Metadata


class OrderSummaryResponse(_Out):
    metadata: Metadata
    data: OrderSummary


class OmsDetailResponse(_Out):
    metadata: Metadata
    data: OmsDetail


class WmsDetailResponse(_Out):
    metadata: Metadata
    data: WmsDetail


class OutboundListResponse(_Out):
    metadata: Metadata
    data: OutboundList
    pagination: Pagination
