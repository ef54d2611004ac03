"""Shipper-style HTTP plumbing shared by API handlers: envelopes, error mapping, request ids."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from order_hub.errors import CODE_INVALID_INPUT, HubError
from order_hub.rendering.envelope import dumps, envelope

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
    """An API Gateway proxy response for a request refused before the resolver ran (auth, content type)."""
    return {
        "statusCode": error.http_status,
        "headers": {"Content-Type": "application/json"},
        "body": json_body(str(event.get("path", "")), error.http_status, errors=hub_error_errors(error)),
        "isBase64Encoded": False,
    }


def with_request_id(response: dict[str, Any], request_id: str) -> dict[str, Any]:
    response.setdefault("headers", {})["x-request-id"] = request_id
    if response.get("multiValueHeaders") is not None:
        response["multiValueHeaders"]["x-request-id"] = [request_id]
    return response
