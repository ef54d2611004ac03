"""orders_api: the Shipper-compatible outbound order API (one resolver, explicit routes).

Thin by design: parse (Powertools + pydantic), call one service function, render the envelope.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from order_hub import wiring
from order_hub.config import require
from order_hub.http_api import install_error_handlers, serve_tenant_request
from order_hub.jsonutil import dumps
from order_hub.models.api import CancelOrderRequest, CreateOrderRequest, IsoDate, ListQuery, OrderNo, WarehouseId
from order_hub.models.common import CODE_PATTERN
from order_hub.models.pricing import PricingRequest, PricingResponse
from order_hub.models.responses import (
    ErrorResponse,
    MetadataOnlyResponse,
    OmsDetailResponse,
    OrderSummaryResponse,
    OutboundListResponse,
    WmsDetailResponse,
)
from order_hub.models.status import ApiStatus
from order_hub.models.tenant import Tenant
from order_hub.observability import logger, metrics, traced
from order_hub.rendering.api_views import oms_detail, order_summary, wms_detail
from order_hub.rendering.envelope import envelope, pagination_block
from order_hub.services import orders

app = APIGatewayRestResolver(enable_validation=True, serializer=dumps)

OMS = "/v3/fulfillment/outbound/oms"


def _error_doc(description: str) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": ErrorResponse}}}


ERRORS: dict[int, OpenAPIResponse] = {
    400: _error_doc("Invalid input (code 810, the field is named)"),
    401: _error_doc("Missing, unknown or revoked x-api-key (code 802)"),
    500: _error_doc("Internal error (code 803)"),
}


def _ok(model: type[BaseModel], description: str = "OK") -> dict[int, OpenAPIResponse]:
    return {200: {"description": description, "content": {"application/json": {"model": model}}}}


UNAVAILABLE: dict[int, OpenAPIResponse] = {503: _error_doc("The warehouse could not be reached; nothing changed (code 803)")}
NOT_FOUND: dict[int, OpenAPIResponse] = {404: _error_doc("Unknown order or warehouse for this account (code 810)")}
JSON_BODY: dict[int, OpenAPIResponse] = {415: _error_doc("The body is not application/json (code 810)")}
CONFLICT: dict[int, OpenAPIResponse] = {409: _error_doc("Conflicting or concurrent change (code 810)")}


def _respond(status: int, **parts: Any) -> Response[Any]:
    """A success response: the envelope as a dict, validated against the route's response model."""
    return Response(status_code=status, content_type="application/json", body=envelope(app.current_event.path, status, **parts))


def _tenant() -> Tenant:
    tenant: Tenant = app.context["tenant"]
    return tenant


install_error_handlers(app)


@app.post(
    OMS,
    summary="Create a B2C sales order (idempotent on warehouse_id + so_number)",
    tags=["outbound"],
    responses={**_ok(OrderSummaryResponse), **ERRORS, **CONFLICT, **JSON_BODY},
)
def create_order(order: Annotated[CreateOrderRequest, Body()]) -> Response[OrderSummaryResponse]:
    result = orders.create_order(_tenant(), order, wiring.order_repository())
    logger.append_keys(warehouse_id=order.warehouse_id, order_no=order.so_number)
    if result.created:
        metrics.add_metric(name="OrdersCreated", unit="Count", value=1)
        logger.info("order created")
    else:
        logger.info("create replayed: order already exists with the same body")
    response = _respond(200, data=order_summary(result.order))
    response.headers["x-idempotent-replay"] = "false" if result.created else "true"
    return response


@app.put(
    OMS,
    summary="Update (replace) a B2C sales order before allocation",
    tags=["outbound"],
    description=(
        "Only before the warehouse allocates stock (`REGISTERED`/`CREATED`). An order the WMS already has is "
        "updated in the WMS first, synchronously: 200 when the warehouse took it, 400/810 when it refused "
        "(e.g. it allocated a moment ago), 503/803 when it could not be reached; in both failures nothing "
        "changes. An identical body changes nothing (200), except on an order that can no longer be updated "
        "(allocated, shipped or cancelled): 400/810 naming its state."
    ),
    responses={**_ok(OrderSummaryResponse), **ERRORS, **NOT_FOUND, **CONFLICT, **JSON_BODY, **UNAVAILABLE},
)
def update_order(order: Annotated[CreateOrderRequest, Body()]) -> Response[OrderSummaryResponse]:
    tenant = _tenant()
    logger.append_keys(warehouse_id=order.warehouse_id, order_no=order.so_number)
    updated = orders.update_order(
        tenant, order, wiring.order_repository(), wms=lambda: wiring.wms_directory().client_for(tenant.tenant_id)
    )
    metrics.add_metric(name="OrdersUpdated", unit="Count", value=1)
    return _respond(200, data=order_summary(updated))


@app.patch(
    f"{OMS}/cancel",
    summary="Cancel a B2C sales order before allocation",
    tags=["outbound"],
    responses={**_ok(MetadataOnlyResponse), **ERRORS, **NOT_FOUND, **CONFLICT, **JSON_BODY, **UNAVAILABLE},
)
def cancel_order(request: Annotated[CancelOrderRequest, Body()]) -> Response[MetadataOnlyResponse]:
    cancellation = request.data.cancellation
    logger.append_keys(warehouse_id=cancellation.warehouse_id, order_no=cancellation.order_no)
    tenant = _tenant()
    result = orders.cancel_order(
        tenant, cancellation, wiring.order_repository(), wms=lambda: wiring.wms_directory().client_for(tenant.tenant_id)
    )
    if result.replayed:
        logger.info("cancel replayed: the order was already cancelled with this reason")
    else:
        metrics.add_metric(name="OrdersCancelled", unit="Count", value=1)
        logger.info("order cancelled")
    response = _respond(200)
    response.headers["x-idempotent-replay"] = "true" if result.replayed else "false"
    return response


@app.get(
    "/v3/fulfillment/outbounds/<outbound_type>",
    summary="List sales orders",
    tags=["outbound"],
    responses={**_ok(OutboundListResponse), **ERRORS, **NOT_FOUND},
)
def list_orders(
    outbound_type: Annotated[Literal["OMS", "WMS"], Path(description="OMS: every order; WMS: orders the WMS knows")],
    created_start: Annotated[IsoDate | None, Query(description="yyyy-MM-dd")] = None,
    created_end: Annotated[IsoDate | None, Query(description="yyyy-MM-dd")] = None,
    updated_start: Annotated[IsoDate | None, Query(description="yyyy-MM-dd")] = None,
    updated_end: Annotated[IsoDate | None, Query(description="yyyy-MM-dd")] = None,
    warehouse_id: Annotated[str | None, Query(max_length=20, pattern=CODE_PATTERN)] = None,
    order_type: Annotated[Literal["SO", "RT", "TT"] | None, Query()] = None,
    so_status: Annotated[ApiStatus | None, Query()] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response[OutboundListResponse]:
    query = ListQuery.model_validate(
        {
            "outbound_type": outbound_type,
            "created_start": created_start,
            "created_end": created_end,
            "updated_start": updated_start,
            "updated_end": updated_end,
            "warehouse_id": warehouse_id,
            "order_type": order_type,
            "so_status": so_status,
            "page": page,
            "limit": limit,
        }
    )
    result = orders.list_orders(_tenant(), query, wiring.order_repository())
    return _respond(
        200,
        data={"outbounds": result.items},
        pagination=pagination_block(query.page, query.limit, len(result.items), result.total, result.exact),
    )


@app.get(
    "/v3/fulfillment/warehouse/<warehouse_id>/outbound/oms/<order_no>",
    summary="Order detail (OMS)",
    tags=["outbound"],
    responses={**_ok(OmsDetailResponse), **ERRORS, **NOT_FOUND},
)
def order_detail_oms(
    warehouse_id: Annotated[WarehouseId, Path()], order_no: Annotated[OrderNo, Path()]
) -> Response[OmsDetailResponse]:
    order = orders.get_order(_tenant(), warehouse_id, order_no, wiring.order_repository())
    return _respond(200, data=oms_detail(order))


@app.get(
    "/v3/fulfillment/warehouse/<warehouse_id>/outbound/wms/<order_no>",
    summary="Order detail (WMS)",
    tags=["outbound"],
    responses={**_ok(WmsDetailResponse), **ERRORS, **NOT_FOUND},
)
def order_detail_wms(
    warehouse_id: Annotated[WarehouseId, Path()], order_no: Annotated[OrderNo, Path()]
) -> Response[WmsDetailResponse]:
    order = orders.get_wms_order(_tenant(), warehouse_id, order_no, wiring.order_repository())
    return _respond(200, data=wms_detail(order))


PRICING_UNAVAILABLE: dict[int, OpenAPIResponse] = {
    503: _error_doc("The account's pricing provider could not answer (code 803); no other provider stands in")
}


@app.post(
    "/v3/fulfillment/pricing/domestic",
    summary="Domestic shipping prices for a parcel, cheapest first",
    description=(
        "Quotes from the account's one provider, first match wins: Shipper logistics when the account has "
        "logistics credentials, else its own rate card when one is stored, else the built-in rate card (the "
        "choice is remembered for 5 minutes). A courier that cannot quote is listed in `pricing_errors[]` (810: "
        "not served, or its price would exceed 10^13 IDR; 803: the provider could not read that courier's price); "
        "an answer with no quote says why there. Prices are IDR integers. "
        "Identical requests are answered from a short cache (header `x-cache: hit`)."
    ),
    tags=["logistics"],
    responses={**_ok(PricingResponse), **ERRORS, **JSON_BODY, **PRICING_UNAVAILABLE},
)
def pricing_domestic(request: Annotated[PricingRequest, Body()]) -> Response[PricingResponse]:
    data, cached = wiring.pricing_service().price(_tenant().tenant_id, request)
    metrics.add_metric(name="PricingCacheHits" if cached else "PricingCacheMisses", unit="Count", value=1)
    response = _respond(200, data=data.model_dump(mode="json"))
    response.headers["x-cache"] = "hit" if cached else "miss"
    return response


@traced
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    require("orders_api")  # first invocation: a missing or malformed variable fails here, named
    return serve_tenant_request(app, event, context)
