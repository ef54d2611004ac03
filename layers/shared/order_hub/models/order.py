"""The canonical order aggregate and its events (the outbox rows)."""

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import Field

from order_hub.models.api import Payment
from order_hub.models.common import Money, Stored
from order_hub.models.extensions import LineExt, OrderExt
from order_hub.models.status import ApiStatus


class Line(Stored):
    line_id: str
    sku: str
    name: str = ""
    uom: str = ""
    qty_ordered: int
    qty_cancelled: int = 0
    qty_allocated: int = 0
    qty_picked: int = 0
    qty_shipped: int = 0
    unit_price: Money
    discount: Money = Decimal(0)
    ext: LineExt | None = None


class Consignee(Stored):
    name: str
    phone: str
    email: str = ""
    mobile: str = ""
    full_address: str
    state: str = ""
    province: str = ""
    city: str = ""
    area: str = ""
    town: str = ""
    zipcode: str = ""
    doc_type: int | None = None


class Courier(Stored):
    express_code: str = ""
    rate_type: str = ""
    tracking_id: str = ""
    awb: str = Field(default="", description="The AWB Shipper Logistics created (logistics created confirmation or tracking)")


class ShipmentItem(Stored):
    line_id: str | None = None
    sku: str
    qty: int
    batch_no: str = ""
    serial_no: str = ""
    mfg_date: str = ""
    exp_date: str = ""
    stock_condition: str = ""


class LogisticsStatus(Stored):
    """A raw Shipper Logistics status as received (``external_status``) with its ``status_date``."""

    code: int | None = None
    name: str = ""
    description: str = ""
    status_date: datetime | None = None


class Shipment(Stored):
    shipment_code: str
    awb: str = ""
    carrier_id: str = ""
    carrier_name: str = ""
    status: str = Field(default="", description="SHIPPED at PGI, then the logistics state (models/logistics.py)")
    pgi_at: datetime | None = None
    items: list[ShipmentItem] = Field(default_factory=list)
    items_omitted: int = Field(
        default=0, description="Items of this PGI beyond the order's shipment item budget (their quantities are on the lines)"
    )
    tracking_id: str = Field(default="", description="Shipper Logistics tracking_id of the last applied update")
    logistics_status: LogisticsStatus | None = Field(default=None, description="The last applied raw logistics status")
    delivered_at: datetime | None = None


class LogisticsFact(Stored):
    """One logistics webhook as it touched the order: applied, or recorded only (late, unknown, refused)."""

    kind: Literal["created", "tracking"]
    received_at: datetime
    status_date: datetime | None = None
    tracking_id: str = ""
    awb: str = ""
    code: int | None = None
    name: str = ""
    description: str = ""
    state: str = Field(default="", description="Canonical state of the code; empty when the code is unknown")
    shipment_code: str = ""
    applied: bool = True
    note: str = ""


class ForwardState(Stored):
    """Where the order stands with the WMS (shown to the client in the OMS detail)."""

    state: Literal["not_forwarded", "waiting_for_courier", "forwarded", "retrying", "refused", "cancelled"] = "not_forwarded"
    wms_order_no: str = ""
    forwarded_body_hash: str = ""
    attempts: int = 0
    last_error: str = ""
    last_attempt_at: datetime | None = None


ChangeSource = Literal["api", "wms_forward", "wms_webhook", "wms_pgi", "poller", "logistics_webhook"]
"""Who changed an order: the API, the WMS forwarder, a WMS webhook (order confirmation, PGI), the
status poller, or a Shipper Logistics webhook."""


class StatusChange(Stored):
    at: datetime
    source: ChangeSource
    from_status: ApiStatus | None
    to_status: ApiStatus
    applied: bool = True
    note: str = ""


class CancelInfo(Stored):
    reason: str
    at: datetime
    by: str


class Order(Stored):
    tenant_id: str
    warehouse_id: str
    order_no: str
    order_type: str = "SO"
    customer_id: str
    tenant_name: str
    order_source: str = ""
    platform: str = ""
    order_identification_code: int = 1
    internal_order_status: str = ""
    seller_nick: str = ""
    order_time: datetime
    notes: str = ""
    consignee: Consignee
    courier: Courier = Field(default_factory=Courier)
    payment: Payment
    lines: list[Line]
    shipments: list[Shipment] = Field(default_factory=list)
    ext: OrderExt | None = None
    status: ApiStatus = ApiStatus.REGISTERED
    wms_status: str = ""
    version: int = 1
    created_at: datetime
    updated_at: datetime
    history: list[StatusChange] = Field(default_factory=list)
    logistics: list[LogisticsFact] = Field(default_factory=list, description="Logistics webhooks, newest last (bounded)")
    cancel: CancelInfo | None = None
    forward: ForwardState = Field(default_factory=ForwardState)
    create_hash: str = Field(description="Digest of the original create body (idempotency)")
    body_hash: str = Field(description="Digest of the body that produced the current details")
    webhook_marks: list[str] = Field(
        default_factory=list,
        description="Short digests of the inbox keys of the last webhooks that changed the order (services.webhooks)",
    )

    @property
    def in_wms(self) -> bool:
        """The WMS knows the order once it was forwarded (or the WMS reported a status for it)."""
        return self.forward.state in ("forwarded", "cancelled") or self.status != ApiStatus.REGISTERED or bool(self.wms_status)

    @property
    def partially_shipped(self) -> bool:
        """Some quantity is still open on a line (ordered - cancelled - shipped > 0)."""
        return any(line.qty_shipped < line.qty_ordered - line.qty_cancelled for line in self.lines)

    @property
    def has_courier(self) -> bool:
        """Design §3: without a courier or AWB an order stays REGISTERED, only in the hub."""
        return bool(self.courier.express_code or self.courier.tracking_id)


EventType = Literal[
    "order.created",
    "order.updated",
    "order.cancelled",
    "order.partially_cancelled",
    "order.status_changed",
    "order.forwarded",
    "order.forward_failed",
    "order.shipped",
    "order.fact_recorded",
    "order.logistics_updated",
    "order.delivered",
]
LOGISTICS_EVENTS: frozenset[str] = frozenset({"order.logistics_updated", "order.delivered"})
"""Events a logistics webhook applied (the shipment's AWB or logistics state changed)."""
FORWARDING_EVENTS: frozenset[str] = frozenset({"order.created", "order.updated", "order.cancelled"})
"""Events after which the order's state may need to reach the WMS."""


class OrderEvent(Stored):
    """One change of one order. ``seq`` equals the order version it produced (monotonic per order)."""

    event_id: str
    type: EventType
    tenant_id: str
    warehouse_id: str
    order_no: str
    seq: int
    at: datetime
    source: ChangeSource
    previous_status: ApiStatus | None = Field(default=None, description="The order's status before this change")
    order: Order
