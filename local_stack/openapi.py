"""Generate the OpenAPI document of the hub's HTTP API (orders, admin, webhooks) from the code
(each function's Powertools resolver + pydantic models, merged).

python -m local_stack.openapi            # rewrite docs/openapi.json
python -m local_stack.openapi --check    # exit 1 if the committed document is stale
"""

from __future__ import annotations

import argparse
import copy
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

Each tenant may make `TenantRateLimitPerSecond` requests per second (default 50), or its own limit
where the operator set one, to the order and admin APIs: above it the answer is 429 (code 810) with
`Retry-After: 1`. The webhook routes are throttled apart from client traffic
(`WebhookRouteRateLimit`, default 1,000 requests/s per route).

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
    "502": _error("The function failed or answered malformed (API Gateway's integration failure, code 803)"),
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
    _callbacks(document)
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
            if "requestBody" in operation:
                responses.setdefault("415", _error("The body is not application/json (code 810)"))
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
                if "202" not in responses:
                    unmatched = copy.deepcopy(responses["200"])
                    unmatched["description"] = "Kept for an order the hub does not know (outcome `unmatched`)"
                    responses["202"] = unmatched
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
            ok = responses.get("200") or responses["201"]
            if method == "post" and path == "/v3/fulfillment/outbound/oms":
                ok["headers"]["x-idempotent-replay"] = HEADERS["x-idempotent-replay"]
            if path.endswith("/cancel"):
                ok["headers"]["x-idempotent-replay"] = HEADERS["x-idempotent-replay"]
            if path == "/v3/fulfillment/pricing/domestic":
                ok["headers"]["x-cache"] = HEADERS["x-cache"]


# The callbacks the hub sends to client endpoints: (webhook name, format.kind, summary, description).
CALLBACKS: list[tuple[str, str, str, str]] = [
    (
        "shipperPgi",
        "shipper.pgi",
        "shipper: PGI (goods issued), on order.shipped",
        "Shipper's PGI webhook with every field of its table, for the shipment the event added. "
        "Values the hub does not hold are empty strings, as Shipper sends them. Any 2xx is delivered; "
        "anything else is retried (the answer's body is ignored).",
    ),
    (
        "shipperOrderConfirmation",
        "shipper.order_confirmation",
        "shipper: order confirmation, when the warehouse confirmed the order",
        "Sent once, when an event moves the order out of REGISTERED to anything but CANCELLED. Shipper's own "
        "page is missing: this is the hub's design in the PGI's style. Any 2xx is delivered; anything else is retried.",
    ),
    (
        "increffSalesOrderPosting",
        "increff.sales_order_posting",
        "increff: Sales Order Posting",
        "OUTWARD_ORDER_CREATE on order.created; OUTWARD_ORDER_CANCEL / OUTWARD_ORDER_PARTIAL_CANCEL when cancelled; "
        "OUTWARD_ORDER_COMPLETE on order.shipped (OUTWARD_ORDER_SHIPMENT_DISPATCH while quantity is open); "
        "OUTWARD_ORDER_SHIPMENT_DELIVER on order.delivered. Auth: the endpoint's static headers, or headers from its "
        "Get Credential URL fetched on a 401. A 2xx with `hasError` not true is delivered; anything else is retried.",
    ),
    (
        "unicommerceDispatch",
        "unicommerce.dispatch",
        "unicommerce: Post Sale Order Dispatch, on order.shipped",
        "Sent as `POST {endpoint url}/v1/shipment/{shipmentCode}` with `Authorization: bearer <token>` from "
        "`POST {endpoint url}/v1/auth/Token` (username/password headers), cached until `expires_in` and fetched again "
        "once on a 401. A 2xx with `successful: true` is delivered; anything else is retried.",
    ),
    (
        "standardEvent",
        "standard.event",
        "standard: every hub event, signed per Standard Webhooks",
        "Every event type (order.created, order.updated, order.cancelled, order.status_changed, order.forwarded, "
        "order.forward_failed, order.shipped, order.fact_recorded, order.logistics_updated, order.delivered). "
        '`webhook-signature` = `v1,<base64 HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>")>`, the key '
        "being the base64-decoded part of the endpoint's `whsec_` secret. 2xx is delivered; 410 disables the endpoint; "
        "3xx and other 4xx (except 408, 409, 425, 429) fail for good; anything else is retried.",
    ),
]

CALLBACK_HEADERS: list[dict[str, Any]] = [
    {
        "name": "User-Agent",
        "in": "header",
        "required": True,
        "schema": {"type": "string", "const": f"outbound-order-hub/{__version__}"},
    },
    {
        "name": "Content-Type",
        "in": "header",
        "required": True,
        "schema": {"type": "string", "const": "application/json"},
    },
]
STANDARD_HEADERS: list[dict[str, Any]] = [
    {
        "name": "webhook-id",
        "in": "header",
        "required": True,
        "description": "The delivery id (`<event_id>.<endpoint_id>`): the same on every retry",
        "schema": {"type": "string"},
    },
    {
        "name": "webhook-timestamp",
        "in": "header",
        "required": True,
        "description": "Epoch seconds of this attempt",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    {
        "name": "webhook-signature",
        "in": "header",
        "required": True,
        "description": "`v1,<base64 HMAC-SHA256>` over `<webhook-id>.<webhook-timestamp>.<body>`",
        "schema": {"type": "string", "pattern": "^v1,[A-Za-z0-9+/=]+$"},
    },
]


def _callbacks(document: dict[str, Any]) -> None:
    """The callbacks as OpenAPI 3.1 ``webhooks``, their bodies' schemas from ``order_hub.models.callbacks``."""
    from pydantic.json_schema import models_json_schema

    from order_hub.models.callbacks import CALLBACK_BODIES

    models = [CALLBACK_BODIES[key] for _, key, _, _ in CALLBACKS]
    _, generated = models_json_schema([(model, "validation") for model in models], ref_template="#/components/schemas/{model}")
    schemas = document["components"]["schemas"]
    for name, schema in generated.get("$defs", {}).items():
        if name in schemas and schemas[name] != schema:
            raise ValueError(f"two different schemas are called {name}")
        schemas[name] = schema
    webhooks: dict[str, Any] = {}
    for name, key, summary, description in CALLBACKS:
        model = CALLBACK_BODIES[key]
        headers = CALLBACK_HEADERS + (STANDARD_HEADERS if key.startswith("standard.") else [])
        webhooks[name] = {
            "post": {
                "operationId": name,
                "summary": summary,
                "description": description,
                "tags": ["callbacks"],
                "parameters": copy.deepcopy(headers),
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
                },
                "responses": {
                    "2XX": {"description": "Delivered (see the format's rule above)"},
                    "default": {
                        "description": "Retried with backoff (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), then dead-lettered"
                    },
                },
                "security": [],
            }
        }
    document["webhooks"] = webhooks


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
