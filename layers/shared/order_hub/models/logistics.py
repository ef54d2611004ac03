"""What Shipper Logistics tells the hub (vendor-notes §1.8): the AWB-created confirmation and tracking updates.

Vendor payloads may carry more fields than listed: extra fields are ignored, never refused.
"""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from order_hub.models.common import ByteCaps, Stored, to_utc
from order_hub.models.wms import ShipperDatetime


def _utc(value: datetime) -> datetime:
    """Kept in UTC; a time without a zone is read as UTC (Shipper documents ISO 8601 without saying which zone)."""
    return to_utc(value)


UtcDatetime = Annotated[ShipperDatetime, AfterValidator(_utc)]


def _text(value: object) -> object:
    """Identifiers and names may arrive as numbers or null: kept as text."""
    if value is None:
        return ""
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


Text = Annotated[str, BeforeValidator(_text)]

ShipmentState = Literal["SHIPPED", "CONFIRMED", "PICKED_UP", "IN_TRANSIT", "DELIVERED", "RETURNED", "CANCELLED"]
"""Canonical shipment states. ``SHIPPED`` is set by the PGI (before any logistics news)."""

TERMINAL_STATES: frozenset[str] = frozenset({"DELIVERED", "RETURNED", "CANCELLED"})
RANK: dict[str, int] = {"": 0, "SHIPPED": 0, "CONFIRMED": 1, "PICKED_UP": 2, "IN_TRANSIT": 3}
RANK.update(dict.fromkeys(TERMINAL_STATES, 9))
"""States only move to a higher rank (or stay at the same rank with a newer status_date); terminal stays."""

RETURN_OR_FAIL_CODES = frozenset({1340, 1370, 1380, 1410, 1420})


def state_for_code(code: int | None) -> ShipmentState | None:
    """Shipper ``external_status.code`` -> canonical state ([3P] ongkir-sdk map); None: unknown code.

    | code                       | state       |
    |----------------------------|-------------|
    | 999                        | CANCELLED   |
    | 1000                       | CONFIRMED   |
    | 1001-1044, 1360            | PICKED_UP   |
    | 1050-1190, 1310-1330       | IN_TRANSIT  |
    | 1340, 1370, 1380, 1410, 1420 | RETURNED (returned or failed: the source does not separate them) |
    | >= 2000                    | DELIVERED   |
    | anything else / missing    | None (recorded, no state change) |
    """
    if code is None:
        return None
    if code == 999:
        return "CANCELLED"
    if code == 1000:
        return "CONFIRMED"
    if 1001 <= code <= 1044 or code == 1360:
        return "PICKED_UP"
    if 1050 <= code <= 1190 or 1310 <= code <= 1330:
        return "IN_TRANSIT"
    if code in RETURN_OR_FAIL_CODES:
        return "RETURNED"
    if code >= 2000:
        return "DELIVERED"
    return None


class LogisticsStatusCode(Stored):
    code: int | None = Field(default=None, ge=-1_000_000, le=1_000_000, description="Shipper status codes are 3-4 digits")
    name: Text = ""
    description: Text = ""


class LogisticsNamed(Stored):
    id: Text = ""
    name: Text = ""
    description: Text = ""


class LogisticsCreatedWebhook(Stored, ByteCaps):
    """``fulfillment.outbound.logistics.created.confirmation``: Shipper Logistics created the AWB."""

    order_no: str = Field(min_length=1, max_length=50, description="The hub order number (= SOReference2 = external_id)")
    express_no: str = Field(min_length=1, max_length=64, description="The AWB")
    success_flag: bool = True


class LogisticsTrackingWebhook(Stored, ByteCaps):
    """Shipper Logistics tracking update (``logistics-docs.shipper.id/docs/payload``)."""

    auth: Text = ""
    order_id: Text = ""
    tracking_id: Text = Field(min_length=1, max_length=64)
    order_tracking_id: Text = ""
    external_id: Text = Field(default="", max_length=50, description="The hub order number, set at logistics create")
    status_date: UtcDatetime
    internal: LogisticsNamed | None = None
    external: LogisticsNamed | None = None
    internal_status: LogisticsStatusCode | None = None
    external_status: LogisticsStatusCode | None = None
    awb: Text = Field(default="", max_length=64)
