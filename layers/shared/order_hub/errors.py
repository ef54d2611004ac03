"""Domain errors. Each carries the Shipper error code and HTTP status it maps to.

Shipper documents three codes (seed 004): 802 unauthorized (401), 803 internal error (500)
and 810 invalid input (400). The hub reuses 810 for every client mistake (unknown order,
conflicting idempotent create, refused cancel) and sets the HTTP status to what happened.
"""

from __future__ import annotations

CODE_UNAUTHORIZED = 802
CODE_INTERNAL = 803
CODE_INVALID_INPUT = 810


class HubError(Exception):
    """Base of every error the API turns into an envelope."""

    code: int = CODE_INTERNAL
    http_status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(HubError):
    """The request is malformed or breaks a rule; ``field`` names the offending field."""

    code = CODE_INVALID_INPUT
    http_status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnsupportedMediaType(InvalidInput):
    """The body is not declared as JSON."""

    http_status = 415


class NotFound(InvalidInput):
    """No such endpoint or delivery for this tenant (other tenants' ones too: existence never leaks)."""

    http_status = 404


class OrderNotFound(HubError):
    """No such order for this tenant (also answered for other tenants' orders: existence never leaks)."""

    code = CODE_INVALID_INPUT
    http_status = 404


class OrderConflict(HubError):
    """The same order key was created before with a different body."""

    code = CODE_INVALID_INPUT
    http_status = 409


class TransitionRefused(HubError):
    """The order's state does not allow the change (e.g. cancel after allocation)."""

    code = CODE_INVALID_INPUT
    http_status = 400


class ConcurrentModification(HubError):
    """The order changed between read and conditional write (version mismatch)."""

    code = CODE_INVALID_INPUT
    http_status = 409


class Unauthorized(HubError):
    code = CODE_UNAUTHORIZED
    http_status = 401


class TenantNotFound(HubError):
    code = CODE_INVALID_INPUT
    http_status = 404


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
    http_status = 503
