"""Generate the OpenAPI document of the hub's HTTP API (orders, admin, webhooks) from the code
(each function's Powertools resolver + pydantic models, merged).

python -m local_stack.openapi            # rewrite docs/openapi.json
python -m local_stack.openapi --check    # exit 1 if the committed document is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, Server

from order_hub import __version__

DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"

DESCRIPTION = """\
The outbound order hub's HTTP API: the Shipper-compatible order and pricing API (`/v3/fulfillment/...`),
the admin API for a tenant's callback endpoints and deliveries (`/hub/v1/...`), both authenticated by
the tenant's `x-api-key`, and the webhooks the WMS and Shipper Logistics send (`/webhooks/...`).

Every response uses Shipper's envelope: `metadata{path, http_status_code, http_status, timestamp,
errors[{code, message, field}]}`; list responses add `pagination`. Error codes: 802 unauthorized
(401), 803 internal error (500, 502, 503, 504), 810 invalid input (400/404/409/413/415/429) with the
offending field named. Every response carries `x-request-id` (echoed when the request sent a
well-formed one; API Gateway's request id otherwise), API Gateway's own answers (unknown route 404,
throttling 429, body over 10 MB 413, integration timeout 504) included.

Each tenant may make `TenantRateLimitPerSecond` requests per second (default 50) to the order and
admin APIs: above it the answer is 429 (code 810) with `Retry-After: 1`. The webhook routes are
throttled apart from client traffic (50 requests/s per route).

Where Shipper's public pages are cut off (order items, payment, tracking id, update), the shapes
here are the hub's design in Shipper's style. Create is idempotent on (account, warehouse_id,
so_number): the same body returns the original order (`x-idempotent-replay: true`), a different
body is refused with 409. Update (PUT, same body as create) and cancel are accepted only while the
warehouse has not allocated stock (status REGISTERED or CREATED).

Webhooks are authenticated before their body is parsed (401, code 802, nothing stored): WMS order
confirmation, PGI and Logistics AWB created carry either `x-hub-timestamp` (epoch seconds, within 5
minutes) and `x-hub-signature: v1=<hex>` with hex = HMAC-SHA256(secret, "<timestamp>." + raw body),
or `x-webhook-token`; Shipper Logistics tracking webhooks carry `auth` in the body,
md5(api_key + tracking_url + "json") of the tenant's logistics credentials.
"""

SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    "ApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key", "description": "The tenant's API key"},
    "WebhookSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "x-hub-signature",
        "description": "`v1=<hex>`: HMAC-SHA256 of `<x-hub-timestamp>.<raw body>` with the tenant's webhook secret",
    },
    "WebhookTimestamp": {
        "type": "apiKey",
        "in": "header",
        "name": "x-hub-timestamp",
        "description": "Epoch seconds of the signature; refused when more than 5 minutes away",
    },
    "WebhookToken": {"type": "apiKey", "in": "header", "name": "x-webhook-token", "description": "The tenant's webhook token"},
}
WEBHOOK_SECURITY: list[dict[str, list[str]]] = [{"WebhookSignature": [], "WebhookTimestamp": []}, {"WebhookToken": []}]
LOGISTICS_AUTH = (
    "Authenticated by the body's `auth` field: md5(api_key + tracking_url + \"json\") of the tenant's Shipper "
    "Logistics credentials (hex), checked before the rest of the body is parsed."
)

HEADERS: dict[str, dict[str, Any]] = {
    "x-request-id": {
        "description": "The request's correlation id (the caller's well-formed x-request-id, else API Gateway's)",
        "schema": {"type": "string"},
    },
    "x-idempotent-replay": {
        "description": "`true` when the request repeated one already done: the original result is returned",
        "schema": {"type": "string", "enum": ["true", "false"]},
    },
    "x-cache": {
        "description": "`hit` when the price came from the hub's cache",
        "schema": {"type": "string", "enum": ["hit", "miss"]},
    },
    "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}},
}


def _error(description: str) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/ErrorResponse"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


GATEWAY_ERRORS: dict[str, dict[str, Any]] = {
    "413": _error("Body larger than API Gateway's 10 MB (code 810)"),
    "429": _error("Too many requests: the tenant's per-second limit or the gateway's throttle (code 810)"),
    "504": _error("The request took too long; it may still complete: retry idempotently (code 803)"),
}


def _apps() -> list[tuple[str, Any]]:
    from functions.admin_api.app import app as admin
    from functions.orders_api.app import app as orders
    from functions.webhook_ingest.app import app as webhooks

    return [("orders", orders), ("admin", admin), ("webhooks", webhooks)]


def build_openapi() -> str:
    document: dict[str, Any] = {}
    for _, app in _apps():
        part = json.loads(
            app.get_openapi_json_schema(
                title="Outbound order hub API",
                version=__version__,
                description=DESCRIPTION,
                servers=[Server(url="http://127.0.0.1:8750", description="local stack (python -m local_stack)")],
                security_schemes={"ApiKey": APIKey(name="x-api-key", in_=APIKeyIn.header)},
                security=[{"ApiKey": []}],
            )
        )
        document = part if not document else _merge(document, part)
    document["components"]["securitySchemes"] = SECURITY_SCHEMES
    _describe(document)
    _numeric_defaults(document)
    return json.dumps(_without_unused_422(document), indent=2, sort_keys=True) + "\n"


def _merge(document: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    for path, operations in part.get("paths", {}).items():
        target = document["paths"].setdefault(path, {})
        for method, operation in operations.items():
            if method in target:
                raise ValueError(f"{method.upper()} {path} is served by two functions")
            target[method] = operation
    schemas = document["components"].setdefault("schemas", {})
    for name, schema in part.get("components", {}).get("schemas", {}).items():
        if name in schemas and schemas[name] != schema:
            raise ValueError(f"two different schemas are called {name}")
        schemas[name] = schema
    return document


def _describe(document: dict[str, Any]) -> None:
    """Security per route family, the response headers, and the gateway's and rate limit's answers."""
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            responses.setdefault("400", _error("Invalid input (code 810, the field is named)"))
            if path.startswith("/hub/"):
                responses.setdefault("401", _error("Missing, unknown or revoked x-api-key (code 802)"))
                responses.setdefault("500", _error("Internal error (code 803)"))
                if "{" in path:
                    responses.setdefault("404", _error("No such endpoint or delivery for this account (code 810)"))
            if path.startswith("/webhooks/"):
                if path.endswith("/tracking"):
                    operation["security"] = []
                    operation["description"] = (operation.get("description", "") + "\n\n" + LOGISTICS_AUTH).strip()
                else:
                    operation["security"] = WEBHOOK_SECURITY
                responses.setdefault("401", _error("Missing or wrong webhook credentials (code 802); nothing stored"))
                responses.setdefault("500", _error("Internal error (code 803)"))
            for status, response in GATEWAY_ERRORS.items():
                if status == "429" and path.startswith("/webhooks/"):
                    response = _error("Too many requests: the gateway's throttle of this webhook route (code 810)")
                responses.setdefault(status, response)
            for status, response in responses.items():
                headers = response.setdefault("headers", {})
                headers["x-request-id"] = HEADERS["x-request-id"]
                if status == "429":
                    headers["Retry-After"] = HEADERS["Retry-After"]
            ok = responses.get("200", {})
            if method == "post" and path == "/v3/fulfillment/outbound/oms":
                ok["headers"]["x-idempotent-replay"] = HEADERS["x-idempotent-replay"]
            if path.endswith("/cancel"):
                ok["headers"]["x-idempotent-replay"] = HEADERS["x-idempotent-replay"]
            if path == "/v3/fulfillment/pricing/domestic":
                ok["headers"]["x-cache"] = HEADERS["x-cache"]


def _numeric_defaults(node: Any) -> None:
    """pydantic writes Decimal defaults as strings ("0"); a number field's default must be a number."""
    if isinstance(node, dict):
        default = node.get("default")
        if node.get("type") in ("number", "integer") and isinstance(default, str):
            number = float(default)
            node["default"] = int(number) if number.is_integer() else number
        for value in node.values():
            _numeric_defaults(value)
    elif isinstance(node, list):
        for value in node:
            _numeric_defaults(value)


def _without_unused_422(document: dict[str, Any]) -> dict[str, Any]:
    """Powertools documents a 422 for validation errors; the hub answers those with 400 / code 810."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        if unused not in json.dumps(document["paths"]):
            schemas.pop(unused, None)
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if docs/openapi.json is not current")
    args = parser.parse_args(argv)
    document = build_openapi()
    if args.check:
        if not DOCUMENT.exists() or DOCUMENT.read_text() != document:
            print(f"{DOCUMENT} is stale: run `python -m local_stack.openapi`", file=sys.stderr)
            return 1
        return 0
    DOCUMENT.parent.mkdir(parents=True, exist_ok=True)
    DOCUMENT.write_text(document)
    print(f"wrote {DOCUMENT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
