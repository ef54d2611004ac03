"""Domain errors. Each carries the Shipper error code it is reported with; which HTTP status
answers it is the API's business (``order_hub.http_api.http_status_of``), not the domain's.

Shipper documents three codes (seed 004): 802 unauthorized, 803 internal error and 810 invalid
input. The hub reuses 810 for every client mistake (unknown order, conflicting idempotent create,
refused cancel).
"""

from __future__ import annotations

CODE_UNAUTHORIZED = 802
CODE_INTERNAL = 803
CODE_INVALID_INPUT = 810


class HubError(Exception):
    """Base of every error the API turns into an envelope."""

    code: int = CODE_INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(HubError):
    """The request is malformed or breaks a rule; ``field`` names the offending field."""

    code = CODE_INVALID_INPUT

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnsupportedMediaType(InvalidInput):
    """The body is not declared as JSON."""


class PayloadTooLarge(InvalidInput):
    """The request body is over the hub's limit (``order_hub.edge.MAX_BODY_BYTES``): 413 in the envelope."""


class NotFound(InvalidInput):
    """No such endpoint or delivery for this tenant (other tenants' ones too: existence never leaks)."""


class OrderNotFound(HubError):
    """No such order for this tenant (also answered for other tenants' orders: existence never leaks)."""

    code = CODE_INVALID_INPUT


class OrderConflict(HubError):
    """The same order key was created before with a different body."""

    code = CODE_INVALID_INPUT


class TransitionRefused(HubError):
    """The order's state does not allow the change (e.g. cancel after allocation)."""

    code = CODE_INVALID_INPUT


class ConcurrentModification(HubError):
    """The order changed between read and conditional write (version mismatch)."""

    code = CODE_INVALID_INPUT


class Unauthorized(HubError):
    code = CODE_UNAUTHORIZED


class RateLimited(HubError):
    """The caller's account is over its per-second request limit (``TENANT_RATE_LIMIT_PER_SECOND``)."""

    code = CODE_INVALID_INPUT


class TenantNotFound(HubError):
    code = CODE_INVALID_INPUT


class WmsError(Exception):
    """Base of the WMS adapter's errors (not client-facing by themselves)."""


class WmsUnavailable(WmsError):
    """5xx, timeout, connection error: worth retrying later."""


class WmsRejected(WmsError):
    """The WMS refused the request (4xx): retrying the same request will not help."""


class WmsAlreadyExists(WmsRejected):
    """A create found the order already in the WMS (an earlier attempt got through)."""


class UnsafeUrl(Exception):
    """The URL may not be called: wrong scheme, or its host is (or resolves to) a non-public address."""


class WarehouseUnavailable(HubError):
    """The client's request needed the WMS, which could not be reached; nothing was changed."""

    code = CODE_INTERNAL


class PricingUnavailable(HubError):
    """No provider could price the parcel (every one failed)."""

    code = CODE_INTERNAL
