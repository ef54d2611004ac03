"""webhook_ingest: WMS webhooks (order confirmation, PGI) and Shipper Logistics webhooks (AWB created,
tracking), authenticated per tenant.

Authentication comes first, over the raw body, before anything parses it: a request that fails it
gets 401 and nothing is stored. A valid webhook is acknowledged after one durable, idempotent write.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.utilities.typing import LambdaContext

from order_hub import wiring
from order_hub.config import require
from order_hub.edge import check_json_body
from order_hub.errors import HubError, InvalidInput, Unauthorized, UnsupportedMediaType
from order_hub.http_api import (
    check_body_size,
    http_status_of,
    install_error_handlers,
    json_body,
    raw_body,
    refused_response,
    request_id_from,
    with_request_id,
)
from order_hub.models.logistics import LogisticsCreatedWebhook, LogisticsTrackingWebhook
from order_hub.models.wms import OrderConfirmationWebhook, PgiWebhook
from order_hub.observability import logger, metrics, traced
from order_hub.services.logistics import UNKNOWN_CODE, ingest_logistics_webhook
from order_hub.services.webhook_auth import authenticate_webhook
from order_hub.services.webhooks import NO_OPEN_QUANTITY, REJECTED, WebhookResult, ingest_order_confirmation, ingest_pgi

app = APIGatewayRestResolver(enable_validation=True)
install_error_handlers(app, on_invalid=lambda: metrics.add_metric(name="WebhookRejected", unit="Count", value=1))


def _respond(status: int, errors: list[dict[str, Any]] | None = None, data: Any = None) -> Response[Any]:
    body = json_body(app.current_event.path, status, errors=errors, data=data)
    return Response(status_code=status, content_type="application/json", body=body)


def _result(source: str, result: WebhookResult) -> Response[Any]:
    metrics.add_metric(name=f"Webhook_{source}_{result.outcome}", unit="Count", value=1)
    if result.notes:  # conflicting facts (late, over-shipped, against a terminal state) are counted
        metrics.add_metric(name="StatusConflicts", unit="Count", value=1)
    if any(note.startswith(NO_OPEN_QUANTITY) for note in result.notes):
        metrics.add_metric(name="ShipmentsWithoutOpenQuantity", unit="Count", value=1)
    if any(note.startswith(UNKNOWN_CODE) for note in result.notes):
        metrics.add_metric(name="LogisticsUnknownStatus", unit="Count", value=1)
    logger.info("webhook recorded", extra={"source": source, "outcome": result.outcome, "notes": list(result.notes)})
    data: dict[str, Any] = {"outcome": result.outcome, "notes": list(result.notes)}
    if result.order is not None:
        data.update(order_no=result.order.order_no, so_status=result.order.status.value, version=result.order.version)
    return _respond(202 if result.outcome == "unmatched" else 200, data=data)


def _raw_body() -> str:
    return app.current_event.body or ""


@app.post("/webhooks/wms/<tenant_id>/order-confirmation")
def order_confirmation(tenant_id: str, payload: Annotated[OrderConfirmationWebhook, Body()]) -> Response[Any]:
    return _result("order_confirmation", ingest_order_confirmation(tenant_id, payload, _raw_body(), wiring.order_repository()))


@app.post("/webhooks/wms/<tenant_id>/pgi")
def pgi(tenant_id: str, payload: Annotated[PgiWebhook, Body()]) -> Response[Any]:
    logger.append_keys(order_no=payload.doc_no, warehouse_id=payload.warehouse_id)
    return _result("pgi", ingest_pgi(tenant_id, payload, _raw_body(), wiring.order_repository()))


@app.post("/webhooks/logistics/<tenant_id>/created")
def logistics_created(tenant_id: str, payload: Annotated[LogisticsCreatedWebhook, Body()]) -> Response[Any]:
    logger.append_keys(order_no=payload.order_no)
    result = ingest_logistics_webhook(tenant_id, payload, _raw_body(), wiring.order_repository(), wiring.tenant_directory())
    return _result("logistics_created", result)


@app.post("/webhooks/logistics/<tenant_id>/tracking")
def logistics_tracking(tenant_id: str, payload: Annotated[LogisticsTrackingWebhook, Body()]) -> Response[Any]:
    logger.append_keys(order_no=payload.external_id, tracking_id=payload.tracking_id)
    result = ingest_logistics_webhook(tenant_id, payload, _raw_body(), wiring.order_repository(), wiring.tenant_directory())
    return _result("logistics_tracking", result)


def _is_tracking(event: dict[str, Any]) -> bool:
    route = str(event.get("path") or "")  # the path the resolver routes on
    return route.startswith("/webhooks/logistics/") and route.endswith("/tracking")


def authenticate(event: dict[str, Any]) -> None:
    """Before parsing: tracking webhooks by their ``auth`` digest against ``hub/<tenant>/logistics``;
    every other webhook by signature or token against ``hub/<tenant>/wms-webhook``, over the exact bytes received."""
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    tenant_id = str((event.get("pathParameters") or {}).get("tenant_id", ""))
    check_body_size(event)  # a size, not a parse: refused before the signature is computed over it
    try:
        body = raw_body(event)
    except InvalidInput as error:  # not even bytes we could check a signature over
        raise Unauthorized(REJECTED) from error
    authenticate_webhook(tenant_id, _is_tracking(event), headers, body, wiring.secret_reader(), time.time())
    content_type = (headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type and content_type != "application/json":
        raise UnsupportedMediaType("Invalid Input. Content-Type must be application/json", field="Content-Type")
    check_json_body(body)  # authenticated: now the shape, before the parser sees it
    logger.append_keys(tenant_id=tenant_id)


@traced
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    require("webhook_ingest")  # first invocation: a missing or malformed variable fails here, named
    request_id = request_id_from(event.get("headers"), (event.get("requestContext") or {}).get("requestId"))
    logger.set_correlation_id(request_id)
    try:
        authenticate(event)
    except HubError as error:
        metrics.add_metric(name="WebhookRejected", unit="Count", value=1)
        logger.info("webhook refused", extra={"status": http_status_of(error), "reason": error.message})
        return with_request_id(refused_response(event, error), request_id)
    return with_request_id(app.resolve(event, context), request_id)
