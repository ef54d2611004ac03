"""The bodies of the callbacks the hub sends, one model per format and kind (``rendering/callbacks``).

Used for the OpenAPI document's ``webhooks`` (``local_stack/openapi.py``) and to validate what the
renderers produce (tests render real bodies and check them against these models and the document):
the renderers build plain dicts for speed, these models say what those dicts are. Every model
forbids extra keys, so a renderer that adds, renames or drops a field fails the tests.

Amounts are JSON numbers (integers stay integers). A field typed ``X | SkipJsonSchema[None] = None``
is one the renderer leaves out when it has no value (never sent as ``null``).
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from order_hub.models.responses import OmsDetail


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


def _absent(schema: dict[str, Any]) -> None:
    """A field the renderer leaves out when it has no value: no ``null`` default in the schema."""
    schema.pop("default", None)


def _optional(**kwargs: Any) -> Any:
    return Field(default=None, json_schema_extra=_absent, **kwargs)


# -- shipper ---------------------------------------------------------------------------------------

SHIPPER_DATETIME_PATTERN = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"


class ShipperPgiCallbackDetail(_Body):
    sku: str
    qty_shipped: int
    mfg_date: str
    exp_date: str
    stock_condition: str
    batch_no: str
    serial_no: str
    receipt_date: str
    user_define_1: str
    user_define_2: str
    user_define_3: str
    project_ref_no: str


class ShipperPgiCallback(_Body):
    """Shipper's PGI webhook, every field of its table (vendor-notes §1.6), for the shipment the event added."""

    warehouse_id: str
    order_type: str
    doc_no: str = Field(description="The client's order number (so_number)")
    delivery_no: str = Field(description="The AWB")
    carrier_id: str
    carrier_name: str
    customer_id: str
    so_reference_a: str = Field(description="The WMS order number")
    so_reference_b: str = Field(description="The client's order number")
    user_define_1: str
    user_define_2: str
    user_define_3: str
    pgi_date: str = Field(description="`YYYY-MM-DD HH:MM:SS`, UTC", pattern=SHIPPER_DATETIME_PATTERN)
    shop_code: str = Field(description="The order's platform")
    details: list[ShipperPgiCallbackDetail]


class ShipperConfirmationDetail(_Body):
    sku: str
    qty_ordered: int


class ShipperOrderConfirmationCallback(_Body):
    """The hub's order confirmation in Shipper's PGI style (Shipper's own page is missing)."""

    warehouse_id: str
    order_type: str
    doc_no: str = Field(description="The client's order number (so_number)")
    customer_id: str
    so_status: str = Field(description="The API status after the change (usually CREATED)")
    wms_order_no: str = Field(description='The warehouse\'s order number ("" until known)')
    confirm_date: str = Field(description="`YYYY-MM-DD HH:MM:SS`, UTC: the event time", pattern=SHIPPER_DATETIME_PATTERN)
    shop_code: str = Field(description="The order's platform")
    details: list[ShipperConfirmationDetail]


# -- increff ---------------------------------------------------------------------------------------

INCREFF_TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$"
IncreffEventType = Literal[
    "OUTWARD_ORDER_CREATE",
    "OUTWARD_ORDER_CANCEL",
    "OUTWARD_ORDER_PARTIAL_CANCEL",
    "OUTWARD_ORDER_COMPLETE",
    "OUTWARD_ORDER_SHIPMENT_DISPATCH",
    "OUTWARD_ORDER_SHIPMENT_DELIVER",
]


IncreffTime = Annotated[str, Field(pattern=INCREFF_TIME_PATTERN)]


class IncreffOrderItem(_Body):
    orderItemCode: str
    channelSkuCode: str
    orderedQuantity: int
    cancelledQuantity: int
    sellingPricePerUnit: float


class IncreffTaxItem(_Body):
    type: str
    rate: float
    taxPerUnit: float
    taxTotal: float


class IncreffShipmentItem(_Body):
    channelSkuCode: str
    orderItemCode: str
    netTaxAmountPerUnit: float
    netTaxAmountTotal: float
    baseSellingPricePerUnit: float
    baseSellingPriceTotal: float
    sellingPricePerUnit: float
    sellingPriceTotal: float
    quantity: int
    taxItems: list[IncreffTaxItem]


class IncreffShipment(_Body):
    shipmentCode: str
    locationCode: str
    generatedInvoiceId: str | SkipJsonSchema[None] = _optional()
    generatedInvoiceDate: IncreffTime | SkipJsonSchema[None] = _optional()
    invoiceDocumentUrl: str | SkipJsonSchema[None] = _optional()
    irn: str | SkipJsonSchema[None] = _optional()
    qrCode: str | SkipJsonSchema[None] = _optional()
    shipmentStatus: Literal["OPEN", "CLOSED", "INVOICED", "MANIFESTED", "DISPATCHED", "CANCELLED", "DELIVERED"]
    shipmentItems: list[IncreffShipmentItem]


class IncreffAddress(_Body):
    name: str
    line1: str
    line2: str
    line3: str
    city: str
    state: str
    zip: str
    country: str
    email: str
    phone: str


class IncreffSalesOrderPosting(_Body):
    """Increff Omni "Sales Order Posting" (seed 001). Strings are at most 255 characters (`qrCode` excepted)."""

    partnerCode: str
    partnerLocationCode: str
    locationCode: str
    orderCode: str
    parentOrderCode: str | SkipJsonSchema[None] = _optional()
    isPriority: bool
    channelName: str
    orderTime: str = Field(pattern=INCREFF_TIME_PATTERN)
    orderType: str = Field(description="SO, or STO for Shipper's TT")
    messageId: int = Field(description="Unique per endpoint, growing with an order's events, the same on every retry")
    paymentMethod: Literal["COD", "NCOD"]
    eventType: IncreffEventType
    eventTime: str = Field(pattern=INCREFF_TIME_PATTERN)
    isSplitRequired: bool
    shippingCharges: float
    channelType: str | SkipJsonSchema[None] = _optional()
    orderItems: list[IncreffOrderItem]
    shipments: list[IncreffShipment]
    shippingAddress: IncreffAddress
    billingAddress: IncreffAddress


# -- unicommerce -----------------------------------------------------------------------------------

UNICOMMERCE_TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$"


class UnicommerceOrderItemPrice(_Body):
    cashOnDeliveryCharges: float
    sellingPrice: float
    shippingCharges: float
    discount: float
    totalPrice: float
    transferPrice: float


class UnicommerceGiftWrap(_Body):
    giftWrapMessage: None
    giftWrapCharges: float


class UnicommerceOrderItem(_Body):
    orderItemId: str
    serialNumber: str = Field(description="Shipped serial numbers, comma-separated")
    orderItemPrice: UnicommerceOrderItemPrice
    giftWrap: UnicommerceGiftWrap
    bundleIdentifier: None


class UnicommerceTaxBreakUp(_Body):
    costHead: str
    integratedGst: float
    unionTerritoryGst: float
    stateGst: float
    centralGst: float
    integratedGstPercentage: float
    unionTerritoryGstPercentage: float
    stateGstPercentage: float
    centralGstPercentage: float


class UnicommerceInvoiceItem(_Body):
    product: str
    description: str
    skuCode: str
    hsnCode: str
    quantity: int
    bundleSku: None
    orderItems: list[UnicommerceOrderItem]
    taxBreakUp: list[UnicommerceTaxBreakUp]


class UnicommerceInvoiceDetails(_Body):
    invoiceNumber: str
    invoiceDate: str = Field(pattern=UNICOMMERCE_TIME_PATTERN)
    invoiceItems: list[UnicommerceInvoiceItem]


class UnicommerceAddress(_Body):
    addressLine1: str
    addressLine2: str
    city: str
    country: str = Field(description="Two-letter country code")
    email: str
    name: str
    phone: str
    pincode: str
    state: str = Field(description="State code")


class UnicommerceDispatch(_Body):
    """Unicommerce POS "Post Sale Order Dispatch" (seed 003), sent to `{base}/v1/shipment/{shipmentCode}`."""

    saleOrderID: str
    shipmentCode: str
    orderDate: str = Field(pattern=UNICOMMERCE_TIME_PATTERN)
    orderStatus: str
    channelCode: str
    paymentType: Literal["COD", "PREPAID"]
    currencyCode: str
    trackingNumber: str
    shippingProviderName: str
    shippingCourierName: str
    dispatchTime: str = Field(pattern=UNICOMMERCE_TIME_PATTERN)
    facilityCode: str
    invoiceDetails: UnicommerceInvoiceDetails
    shippingAddress: UnicommerceAddress
    billingAddress: UnicommerceAddress


# -- standard --------------------------------------------------------------------------------------

STANDARD_TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"


class StandardExternalStatus(_Body):
    code: int | None
    name: str
    description: str


class StandardLogistics(_Body):
    """The raw Shipper Logistics status behind a logistics event."""

    kind: Literal["created", "tracking"]
    external_status: StandardExternalStatus
    status_date: str | None = Field(pattern=STANDARD_TIME_PATTERN)
    state: str | None = Field(description="The canonical state; null when the code is unknown")
    applied: bool
    note: str
    tracking_id: str
    awb: str
    shipment_code: str


class StandardEventData(_Body):
    event_id: str
    seq: int
    source: str
    previous_status: str | None
    tenant_id: str
    warehouse_id: str
    order_no: str
    status: str
    order: OmsDetail = Field(description="Exactly the `data` of the OMS detail response")
    logistics: StandardLogistics | SkipJsonSchema[None] = _optional(
        description="Only on logistics events (order.logistics_updated, order.delivered, ...)"
    )


class StandardWebhookEvent(_Body):
    """A hub event per Standard Webhooks: `{type, timestamp, data}`."""

    type: str = Field(description="The hub's event type, e.g. order.created, order.shipped")
    timestamp: str = Field(description="The event time, ISO 8601 UTC with milliseconds", pattern=STANDARD_TIME_PATTERN)
    data: StandardEventData


CALLBACK_BODIES: dict[str, type[BaseModel]] = {
    "shipper.pgi": ShipperPgiCallback,
    "shipper.order_confirmation": ShipperOrderConfirmationCallback,
    "increff.sales_order_posting": IncreffSalesOrderPosting,
    "unicommerce.dispatch": UnicommerceDispatch,
    "standard.event": StandardWebhookEvent,
}
"""``<format>.<kind>`` -> the model of its body."""


def body_model(format: str, kind: str) -> type[BaseModel]:
    """The model of a rendered body: ``kind`` is ``Rendered.kind`` (Increff's event type, the standard event type)."""
    if format == "increff":
        return IncreffSalesOrderPosting
    if format == "standard":
        return StandardWebhookEvent
    return CALLBACK_BODIES[f"{format}.{kind}"]
