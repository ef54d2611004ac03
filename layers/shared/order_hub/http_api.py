"""Shipper-style HTTP plumbing shared by API handlers: envelopes, error mapping, request ids."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from order_hub.edge import check_json_body
from order_hub.errors import (
    CODE_INVALID_INPUT,
    ConcurrentModification,
    HubError,
    InvalidInput,
    NotFound,
    OrderConflict,
    OrderNotFound,
    PayloadTooLarge,
    PricingUnavailable,
    RateLimited,
    TenantNotFound,
    TransitionRefused,
    Unauthorized,
    UnsupportedMediaType,
    WarehouseUnavailable,
)
from order_hub.jsonutil import dumps
from order_hub.rendering.envelope import envelope

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

    from order_hub.models.tenant import Tenant

HTTP_STATUS: dict[type[HubError], int] = {
    InvalidInput: 400,
    UnsupportedMediaType: 415,
    PayloadTooLarge: 413,
    NotFound: 404,
    OrderNotFound: 404,
    TenantNotFound: 404,
    OrderConflict: 409,
    ConcurrentModification: 409,
    TransitionRefused: 400,
    Unauthorized: 401,
    RateLimited: 429,
    WarehouseUnavailable: 503,
    PricingUnavailable: 503,
}
"""The HTTP status of every domain error, for every API function (the nearest class listed wins)."""


def http_status_of(error: HubError) -> int:
    for kind in type(error).__mro__:
        status = HTTP_STATUS.get(kind)
        if status is not None:
            return status
    return 500


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
MAX_ERRORS = 20


def request_id_from(headers: dict[str, str] | None, fallback: str | None = None) -> str:
    """Echo a well-formed ``x-request-id``; otherwise use API Gateway's request id or a new uuid."""
    for name, value in (headers or {}).items():
        if name.lower() == "x-request-id" and isinstance(value, str) and _REQUEST_ID.match(value):
            return value
    return fallback or str(uuid.uuid4())


def field_path(location: Sequence[Any]) -> str:
    """``("body", "items", 0, "qty")`` -> ``items[0].qty``."""
    parts: list[str] = []
    for part in location:
        if part in ("body", "query", "path", "header") and not parts:
            continue
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts) or "body"


_FRIENDLY = {
    "missing": "is mandatory",
    "extra_forbidden": "is not a known field",
    "json_invalid": "is not valid JSON",
}


def validation_errors(errors: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """pydantic / Powertools validation errors -> Shipper ``errors[]`` naming each field."""
    out: list[dict[str, Any]] = []
    for error in errors:
        location = error.get("loc", ())
        kind = error.get("type", "")
        field = field_path(location)
        if kind == "json_invalid":
            field = "body"
        message = _FRIENDLY.get(kind) or str(error.get("msg", "is invalid")).removeprefix("Value error, ")
        out.append({"code": CODE_INVALID_INPUT, "message": f"Invalid Input. {field}: {message}", "field": field})
        if len(out) == MAX_ERRORS:
            break
    return out or [{"code": CODE_INVALID_INPUT, "message": "Invalid Input. Please Validate Your Input."}]


def hub_error_errors(error: HubError) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {"code": error.code, "message": error.message}
    field = getattr(error, "field", None)
    if field:
        entry["field"] = field
    return [entry]


def json_body(path: str, status: int, **parts: Any) -> str:
    return dumps(envelope(path, status, **parts))


def refused_response(event: dict[str, Any], error: HubError) -> dict[str, Any]:
    """An API Gateway proxy response for a request refused before the resolver ran (auth, rate, content type)."""
    headers = {"Content-Type": "application/json"}
    if isinstance(error, RateLimited):
        headers["Retry-After"] = "1"
    return {
        "statusCode": http_status_of(error),
        "headers": headers,
        "body": json_body(str(event.get("path", "")), http_status_of(error), errors=hub_error_errors(error)),
        "isBase64Encoded": False,
    }


NO_ROUTE_MESSAGE = "No resource at this path and method"
DEFAULT_ROUTE = "$default"


def is_default_route(event: dict[str, Any]) -> bool:
    """True for a request the HTTP API's ``$default`` route brought: no route takes its path and method."""
    return event.get("resource") == DEFAULT_ROUTE or (event.get("requestContext") or {}).get("resourceId") == DEFAULT_ROUTE


def no_route_response(event: dict[str, Any]) -> dict[str, Any]:
    """The answer to a request no route takes: Shipper's 404/810 envelope (x-request-id is added by the caller)."""
    return {
        "statusCode": 404,
        "headers": {"Content-Type": "application/json"},
        "body": json_body(str(event.get("path", "")), 404, errors=[{"code": CODE_INVALID_INPUT, "message": NO_ROUTE_MESSAGE}]),
        "isBase64Encoded": False,
    }


def check_body_size(event: dict[str, Any]) -> None:
    """``PayloadTooLarge`` (413) when the body is over ``MAX_BODY_BYTES``: before authentication or parsing."""
    from order_hub.edge import MAX_BODY_BYTES

    body = event.get("body") or ""
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(str(body).encode("utf-8", errors="surrogatepass"))
    if size > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"Invalid Input. body: is larger than {MAX_BODY_BYTES // 1024} KB", field="body")


def with_request_id(response: dict[str, Any], request_id: str) -> dict[str, Any]:
    response.setdefault("headers", {})["x-request-id"] = request_id
    if response.get("multiValueHeaders") is not None:
        response["multiValueHeaders"]["x-request-id"] = [request_id]
    return response


def install_error_handlers(app: APIGatewayRestResolver, on_invalid: Callable[[], None] | None = None) -> None:
    """The Shipper-envelope error mapping every tenant-facing API shares (order API, admin API):
    domain errors, request/model validation (810 naming the field), Powertools' own HTTP errors,
    undecodable bodies, and anything unexpected (803, no internals). ``on_invalid`` runs for every
    request refused as invalid input (e.g. to count rejected webhooks)."""
    import binascii

    from aws_lambda_powertools.event_handler import Response
    from aws_lambda_powertools.event_handler.exceptions import ServiceError
    from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
    from pydantic import ValidationError

    from order_hub.errors import CODE_INTERNAL
    from order_hub.observability import logger

    def respond_error(status: int, errors: list[dict[str, Any]]) -> Response[Any]:
        body = json_body(app.current_event.path, status, errors=errors)
        return Response(status_code=status, content_type="application/json", body=body)

    @app.exception_handler(HubError)
    def _hub_error(error: HubError) -> Response[Any]:
        status = http_status_of(error)
        logger.info("request refused", extra={"code": error.code, "status": status, "reason": error.message})
        return respond_error(status, hub_error_errors(error))

    @app.exception_handler([RequestValidationError, ValidationError])
    def _invalid(error: RequestValidationError | ValidationError) -> Response[Any]:
        errors = validation_errors(error.errors())  # type: ignore[arg-type]
        logger.info("request invalid", extra={"errors": errors})  # the log formatter masks personal data
        if on_invalid is not None:
            on_invalid()
        return respond_error(400, errors)

    @app.exception_handler(ServiceError)
    def _resolver_error(error: ServiceError) -> Response[Any]:
        """Powertools' own HTTP errors (e.g. a path or method no route serves)."""
        status = error.status_code if 400 <= error.status_code < 500 else 500
        code = CODE_INVALID_INPUT if status < 500 else CODE_INTERNAL
        message = f"No resource at {app.current_event.path}" if status == 404 else (error.msg or "Invalid request")
        return respond_error(status, [{"code": code, "message": message}])

    @app.exception_handler([UnicodeDecodeError, binascii.Error])
    def _undecodable_body(error: ValueError) -> Response[Any]:
        return respond_error(
            400, [{"code": CODE_INVALID_INPUT, "message": "Invalid Input. body: is not UTF-8 JSON", "field": "body"}]
        )

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[Any]:
        logger.error("unexpected error", exc_info=error)
        return respond_error(500, [{"code": CODE_INTERNAL, "message": "Internal server error."}])


def preflight(event: dict[str, Any]) -> Tenant:
    """Before anything parses the request: who is calling (``x-api-key``), and is the body JSON?"""
    import time

    from order_hub import wiring
    from order_hub.config import ApiSettings, load
    from order_hub.observability import logger

    check_body_size(event)
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    tenant = wiring.authenticator().authenticate(headers.get("x-api-key"))
    logger.append_keys(tenant_id=tenant.tenant_id)
    limit = tenant.rate_limit_per_second or load(ApiSettings).TENANT_RATE_LIMIT_PER_SECOND  # the tenant's own, or the stack's
    if limit and not wiring.tenant_directory().take_request_token(tenant.tenant_id, limit, time.time()):
        raise RateLimited(f"Too many requests: this account may make {limit} requests per second")
    content_type = (headers.get("content-type") or "").split(";")[0].strip().lower()
    if event.get("body") and content_type and content_type != "application/json":
        raise UnsupportedMediaType("Invalid Input. Content-Type must be application/json", field="Content-Type")
    if event.get("body"):
        check_json_body(raw_body(event))
    return tenant


def raw_body(event: dict[str, Any]) -> bytes:
    """The body's bytes as received (API Gateway base64-encodes what is not text)."""
    import base64
    import binascii

    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return str(body).encode("utf-8", errors="surrogatepass")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidInput("Invalid Input. body: is not valid base64", field="body") from error


def serve_tenant_request(app: APIGatewayRestResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Correlation id, then the preflight (Powertools validates before any middleware could), then the routes."""
    from order_hub.observability import logger

    request_context = event.get("requestContext") or {}
    request_id = request_id_from(event.get("headers"), request_context.get("requestId"))
    logger.set_correlation_id(request_id)
    if is_default_route(event):  # no route takes this path and method: nothing to authenticate or read
        logger.info("no route", extra={"status": 404, "method": event.get("httpMethod"), "path": event.get("path")})
        return with_request_id(no_route_response(event), request_id)
    try:
        tenant = preflight(event)
    except HubError as error:
        logger.info("request refused", extra={"code": error.code, "status": http_status_of(error), "reason": error.message})
        return with_request_id(refused_response(event, error), request_id)
    app.append_context(tenant=tenant)
    return with_request_id(app.resolve(event, context), request_id)
