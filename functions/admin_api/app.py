"""admin_api: a tenant's own callback endpoints and deliveries, over HTTP (``x-api-key``, as the order API).

What ``hub-admin endpoint ...`` and ``hub-admin deliveries ...`` do, scoped to the calling tenant:
another tenant's endpoint or delivery is a 404, exactly like one that does not exist. Secret values
(passwords, header values, signing secrets) go to Secrets Manager and are never returned, except a
generated Standard Webhooks secret, shown once when the endpoint is registered. Callback URLs pass
the hub's SSRF policy (``wiring.url_policy()``).

DLQ redrive stays CLI-only (``hub-admin deliveries redrive-dlq``): it is an operator action across
tenants. This API is documented in the README ("Admin API") and in ``docs/openapi.json``.

Thin by design: parse (Powertools + pydantic), call one service function, render the envelope.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from order_hub import wiring
from order_hub.config import require
from order_hub.http_api import install_error_handlers, serve_tenant_request
from order_hub.jsonutil import dumps
from order_hub.models.admin import (
    DeliveryListResponse,
    DeliveryResponse,
    EndpointListResponse,
    EndpointResponse,
    PortalLinkResponse,
    RegisterEndpointRequest,
    ReplayEndpointRequest,
    ReplayResponse,
    SetEnabledRequest,
)
from order_hub.models.tenant import Tenant
from order_hub.observability import logger, metrics, traced
from order_hub.rendering.envelope import envelope

app = APIGatewayRestResolver(enable_validation=True, serializer=dumps)

BASE = "/hub/v1"
EndpointId = Annotated[str, Path(min_length=1, max_length=40)]
DeliveryId = Annotated[str, Path(min_length=1, max_length=200)]


def _respond(status: int, data: Any) -> Response[Any]:
    return Response(status_code=status, content_type="application/json", body=envelope(app.current_event.path, status, data=data))


def _tenant_id() -> str:
    tenant: Tenant = app.context["tenant"]
    return tenant.tenant_id


install_error_handlers(app)


@app.post(
    f"{BASE}/endpoints",
    summary="Register a callback endpoint",
    tags=["admin"],
    responses={201: {"description": "Registered", "content": {"application/json": {"model": EndpointResponse}}}},
)
def register_endpoint(request: Annotated[RegisterEndpointRequest, Body()]) -> Response[EndpointResponse]:
    from order_hub.services import endpoints

    endpoint, generated = endpoints.register_endpoint(request, _tenant_id(), wiring.endpoint_ports())
    shown = endpoints.public_view(endpoint)
    if generated:
        shown["signing_secret"] = generated  # shown once; stored only in Secrets Manager
    metrics.add_metric(name="EndpointsRegistered", unit="Count", value=1)
    logger.info("endpoint registered", extra={"endpoint_id": endpoint.endpoint_id, "format": endpoint.format})
    return _respond(201, shown)


@app.get(f"{BASE}/endpoints", summary="List the tenant's callback endpoints", tags=["admin"])
def list_endpoints() -> Response[EndpointListResponse]:
    from order_hub.services import endpoints

    found = endpoints.list_endpoints(wiring.endpoint_registry(), _tenant_id())
    return _respond(200, {"endpoints": [endpoints.public_view(e) for e in found]})


@app.get(f"{BASE}/endpoints/<endpoint_id>", summary="Show a callback endpoint", tags=["admin"])
def show_endpoint(endpoint_id: EndpointId) -> Response[EndpointResponse]:
    from order_hub.services import endpoints

    return _respond(200, endpoints.public_view(endpoints.get_endpoint(wiring.endpoint_registry(), _tenant_id(), endpoint_id)))


@app.patch(f"{BASE}/endpoints/<endpoint_id>", summary="Enable or disable a callback endpoint", tags=["admin"])
def set_enabled(endpoint_id: EndpointId, request: Annotated[SetEnabledRequest, Body()]) -> Response[EndpointResponse]:
    from order_hub.services import endpoints

    reason = request.reason or "disabled through the admin API"
    updated = endpoints.set_enabled(wiring.endpoint_registry(), _tenant_id(), endpoint_id, request.enabled, reason)
    logger.info("endpoint enabled" if request.enabled else "endpoint disabled", extra={"endpoint_id": endpoint_id})
    return _respond(200, endpoints.public_view(updated))


@app.post(f"{BASE}/endpoints/<endpoint_id>/replay", summary="Send an endpoint's deliveries since a time again", tags=["admin"])
def replay_endpoint(endpoint_id: EndpointId, request: Annotated[ReplayEndpointRequest, Body()]) -> Response[ReplayResponse]:
    from order_hub.services import replays

    ids = replays.replay_known_endpoint(
        wiring.endpoint_registry(),
        wiring.delivery_log(),
        wiring.delivery_queue(),
        _tenant_id(),
        endpoint_id,
        request.since,
        datetime.now(UTC),
        include_delivered=request.include_delivered,
    )
    metrics.add_metric(name="DeliveriesReplayed", unit="Count", value=len(ids))
    return _respond(200, {"replayed": len(ids), "delivery_ids": ids})


@app.get(f"{BASE}/deliveries", summary="Deliveries that failed or wait for a retry, newest first", tags=["admin"])
def list_deliveries(
    status: Annotated[Literal["problems"], Query(description="only 'problems' (retrying or failed)")] = "problems",
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> Response[DeliveryListResponse]:
    from order_hub.services import replays

    found = replays.list_problems(wiring.delivery_log(), _tenant_id(), limit)
    return _respond(200, {"deliveries": [replays.delivery_summary(d) for d in found]})


@app.get(f"{BASE}/deliveries/<delivery_id>", summary="One delivery with its attempt log", tags=["admin"])
def show_delivery(delivery_id: DeliveryId) -> Response[DeliveryResponse]:
    from order_hub.services import replays

    return _respond(200, replays.delivery_summary(replays.get_delivery(wiring.delivery_log(), delivery_id, _tenant_id())))


@app.post(f"{BASE}/deliveries/<delivery_id>/replay", summary="Send one delivery again", tags=["admin"])
def replay_delivery(delivery_id: DeliveryId) -> Response[DeliveryResponse]:
    from order_hub.services import replays

    reopened = replays.replay_delivery(
        wiring.delivery_log(), wiring.delivery_queue(), delivery_id, datetime.now(UTC), tenant_id=_tenant_id()
    )
    metrics.add_metric(name="DeliveriesReplayed", unit="Count", value=1)
    return _respond(200, replays.delivery_summary(reopened))


@app.post(f"{BASE}/portal/sessions", summary="A one-time login link to the tenant portal", tags=["admin"])
def portal_session() -> Response[PortalLinkResponse]:
    import time

    from order_hub.config import PortalSettings, load
    from order_hub.portal.urls import public_base_url
    from order_hub.services import portal_access

    link = portal_access.issue_link(
        wiring.portal_store(), wiring.tenant_directory(), _tenant_id(), int(time.time()), load(PortalSettings).PORTAL_LINK_SECONDS
    )
    metrics.add_metric(name="PortalLinksIssued", unit="Count", value=1)
    return _respond(200, portal_access.link_view(public_base_url(app.current_event.raw_event), link))


@traced
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    require("admin_api")  # first invocation: a missing or malformed variable fails here, named
    return serve_tenant_request(app, event, context)
