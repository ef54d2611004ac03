"""The WMS simulator's vocabulary: statuses, error codes, the order record, responses and formatting."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

HOST = "127.0.0.1"

# Raw warehouse statuses.
OPEN = "OPEN"
DUE_OUT = "DUE_OUT"
ALLOCATED = "ALLOCATED"
PICKING = "PICKING"
PICKED = "PICKED"
PACKING = "PACKING"
PACKED = "PACKED"
SHIPPING = "SHIPPING"
SHIPPED = "SHIPPED"
CANCELLED = "CANCELLED"
CLOSED = "CLOSED"  # cancelled by the warehouse
FLOW: tuple[str, ...] = (OPEN, DUE_OUT, ALLOCATED, PICKING, PICKED, PACKING, PACKED, SHIPPING, SHIPPED)
STATUSES: tuple[str, ...] = (*FLOW, CANCELLED, CLOSED)
TERMINAL = frozenset({SHIPPED, CANCELLED, CLOSED})
CANCELLED_STATUSES = frozenset({CANCELLED, CLOSED})
CHANGEABLE = frozenset({OPEN, DUE_OUT})
"""Statuses in which the client may still update or cancel: no stock allocated yet."""
RANK = {status: rank for rank, status in enumerate(FLOW)}

# Shipper error codes.
CODE_AUTH = 802
CODE_INTERNAL = 803
CODE_INPUT = 810

DEFAULT_CARRIER = "JNE"
CARRIER_NAMES = {
    "JNE": "JNE REG",
    "JNE REG": "JNE REG",
    "JNE YES": "JNE YES",
    "SICEPAT": "SiCepat REG",
    "JNT": "J&T Express",
    "J&T": "J&T Express",
    "ANTERAJA": "AnterAja Regular",
    "NINJA": "Ninja Xpress",
}

Transport = Callable[[str, Mapping[str, str], bytes, float], int]
"""(url, headers, body, timeout seconds) -> HTTP status; raises ``OSError`` on connection errors."""


@dataclass(frozen=True)
class TenantConfig:
    """One tenant as the WMS knows it: the API key it calls with and the secret its webhooks are signed with."""

    api_key: str
    webhook_secret: str


class SimulatorError(Exception):
    """A refused request; ``status`` and ``code`` are what the HTTP API answers."""

    def __init__(self, status: int, message: str, code: int = CODE_INPUT, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True)
class SimResponse:
    """What ``WmsSimulator.handle`` answers; ``no_reply`` means close the connection without answering."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)
    no_reply: bool = False

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


# --------------------------------------------------------------------------------------------
# Formatting helpers
# --------------------------------------------------------------------------------------------


def utc_now() -> datetime:
    return datetime.now(UTC)


def whole_seconds(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


def space_time(moment: datetime) -> str:
    """``yyyy-MM-dd HH:mm:ss`` (UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def iso_z(moment: datetime) -> str:
    """``yyyy-MM-ddTHH:MM:SSZ`` (UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_moment(value: Any, name: str) -> datetime:
    if isinstance(value, datetime):
        return whole_seconds(value)
    if isinstance(value, str):
        try:
            return whole_seconds(datetime.fromisoformat(value))
        except ValueError:
            pass
    raise ValueError(f"{name}: expected a datetime or ISO 8601 text, got {value!r}")


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def http_status_text(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def plain(status: int, payload: Any) -> SimResponse:
    """A JSON response without Shipper's envelope (the control API)."""
    return SimResponse(status, dumps(payload))


def error_entry(code: int, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    return error


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The ``x-hub-signature`` value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def carrier_for(express_code: str) -> tuple[str, str]:
    """(carrier_id, carrier_name) for an order's ``express_code``."""
    carrier_id = express_code.strip() or DEFAULT_CARRIER
    return carrier_id, CARRIER_NAMES.get(carrier_id.upper(), carrier_id)


# --------------------------------------------------------------------------------------------
# The order record
# --------------------------------------------------------------------------------------------

OrderKey = tuple[str, str, str]
"""(tenant_id, warehouse_id, order_no)."""


@dataclass
class Line:
    sku: str
    qty: int
    to_ship: int | None = None  # None: ship what was ordered
    batch_no: str = ""
    serial_no: str = ""
    mfg_date: str = ""
    exp_date: str = ""

    @property
    def qty_to_ship(self) -> int:
        return self.qty if self.to_ship is None else self.to_ship


@dataclass
class Order:
    tenant_id: str
    warehouse_id: str
    order_no: str
    wms_order_no: str
    customer_id: str
    consignee_name: str
    express_code: str
    lines: list[Line]
    order_time: datetime
    created_at: datetime
    updated_at: datetime
    status: str = OPEN
    delivery_no: str = ""
    hold: bool = False
    history: list[dict[str, str]] = field(default_factory=list)
    pgi_confirmations: int = 0  # PGI webhooks the hub forwarded back (seed 002 step 7)
    later_awbs: list[str] = field(default_factory=list)  # AWBs of later packages (ship_rest)
    rest_cancelled: bool = False  # CLOSED after a partial shipment: the open rest was cancelled (cancel_rest)

    @property
    def key(self) -> OrderKey:
        return (self.tenant_id, self.warehouse_id, self.order_no)

    def quantities(self, line: Line) -> tuple[int, int, int]:
        """(allocated, picked, shipped) of ``line`` at the current status."""
        if self.status in CANCELLED_STATUSES:
            if self.rest_cancelled:  # closed short: what shipped stays shipped, the rest was let go
                return line.qty_to_ship, line.qty_to_ship, line.qty_to_ship
            return 0, 0, 0
        rank = RANK[self.status]
        allocated = line.qty if rank >= RANK[ALLOCATED] else 0
        picked = line.qty if rank >= RANK[PICKED] else 0
        shipped = line.qty_to_ship if self.status == SHIPPED else 0
        return allocated, picked, shipped

    @property
    def released(self) -> bool:
        return (self.status in RANK and RANK[self.status] >= RANK[ALLOCATED]) or self.rest_cancelled

    def open_rest(self) -> list[int]:
        """Per line, what a partial shipment left open (0 everywhere unless partly shipped)."""
        return [0 if line.to_ship is None else line.qty - line.to_ship for line in self.lines]

    def refusal(self, verb: str) -> str:
        """Why the client can no longer ``verb`` (update/cancel) this order."""
        if self.status in CANCELLED_STATUSES:
            return f"order {self.order_no} is already cancelled ({self.status}) and cannot be {verb}"
        if self.status == SHIPPED:
            return f"order {self.order_no} is already allocated and shipped ({self.status}); it cannot be {verb}"
        return f"order {self.order_no} is already allocated ({self.status}); it cannot be {verb}"
