"""Order status: the seed 000 map and the one transition rule every writer goes through.

API status <- WMS statuses. Trap: WMS ``CLOSED`` means cancelled, API ``CLOSED`` means shipped.
"""

from enum import StrEnum


class ApiStatus(StrEnum):
    REGISTERED = "REGISTERED"  # only in the hub: no AWB/courier yet
    CREATED = "CREATED"
    ALLOCATED = "ALLOCATED"
    PICKED = "PICKED"
    PACKED = "PACKED"
    CLOSED = "CLOSED"  # shipped
    CANCELLED = "CANCELLED"


WMS_TO_API: dict[str, ApiStatus] = {
    "OPEN": ApiStatus.CREATED,
    "DUE_OUT": ApiStatus.CREATED,
    "ALLOCATED": ApiStatus.ALLOCATED,
    "RELEASED": ApiStatus.ALLOCATED,
    "PICK": ApiStatus.ALLOCATED,
    "PICKING": ApiStatus.ALLOCATED,
    "PICKED": ApiStatus.PICKED,
    "PACK": ApiStatus.PICKED,
    "PACKING": ApiStatus.PICKED,
    "PACKED": ApiStatus.PACKED,
    "SHIPPING": ApiStatus.PACKED,
    "SHIPPED": ApiStatus.CLOSED,
    "CLOSED": ApiStatus.CANCELLED,
    "CANCELLED": ApiStatus.CANCELLED,
}

_RANK: dict[ApiStatus, int] = {
    ApiStatus.REGISTERED: 0,
    ApiStatus.CREATED: 1,
    ApiStatus.ALLOCATED: 2,
    ApiStatus.PICKED: 3,
    ApiStatus.PACKED: 4,
    ApiStatus.CLOSED: 5,
    ApiStatus.CANCELLED: 5,
}

TERMINAL = frozenset({ApiStatus.CLOSED, ApiStatus.CANCELLED})
CHANGEABLE = frozenset({ApiStatus.REGISTERED, ApiStatus.CREATED})
"""States in which the client may still update or cancel: the WMS has allocated no stock."""


def api_status_for_wms(wms_status: str) -> ApiStatus | None:
    return WMS_TO_API.get(wms_status.strip().upper())


def moves_forward(current: ApiStatus, new: ApiStatus) -> bool:
    """True when ``new`` is a real step forward from ``current``.

    Terminal states never move; cancellation is reachable from any non-terminal state (a WMS may
    cancel after allocation); otherwise the status only advances.
    """
    if current in TERMINAL or new == current:
        return False
    if new == ApiStatus.CANCELLED:
        return True
    return _RANK[new] > _RANK[current]
