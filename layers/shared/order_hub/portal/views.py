"""What each portal page shows, gathered from the hub's services and ports (never from a table
directly), always for one tenant: the session's. Another tenant's order, endpoint or delivery is
``NotFound`` here exactly as in the admin API."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from order_hub import wiring
from order_hub.errors import InvalidInput, NotFound, OrderNotFound
from order_hub.models.endpoints import Delivery, Endpoint, delivery_id_for
from order_hub.models.tenant import Tenant
from order_hub.ports import Rendered, SendResult

PAGE_SIZE = 20
TIMELINE_EVENTS = 30
OVERVIEW_DAYS = 7
PROBLEMS_SHOWN = 100
OVERVIEW_DELIVERIES = 2000  # per endpoint: the rate's sample (a Query of whole delivery items)


def now_utc() -> datetime:
    return datetime.now(UTC)


def tenant_of(tenant_id: str) -> Tenant:
    from order_hub.services.tenants import get_tenant

    return get_tenant(wiring.tenant_directory(), tenant_id)


# --- orders ------------------------------------------------------------------------------------


@dataclass
class OrderList:
    items: list[dict[str, Any]]
    total: int
    page: int
    pages: int
    filters: dict[str, str]


def _day(text: str, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{name}: '{text[:40]}' is not a date (YYYY-MM-DD)", field=name) from None


def list_orders(tenant: Tenant, params: dict[str, str]) -> OrderList:
    """The list API's filters (status, warehouse, created dates) and pages; ``so_number`` finds one
    order by number in the tenant's warehouses (or the chosen one)."""
    from order_hub.models.api import ListQuery
    from order_hub.models.status import ApiStatus
    from order_hub.services import orders

    filters = {k: params.get(k, "").strip() for k in ("status", "warehouse_id", "created_start", "created_end", "so_number")}
    if filters["warehouse_id"] and filters["warehouse_id"] not in tenant.warehouse_ids:
        raise InvalidInput(f"warehouse_id: '{filters['warehouse_id'][:40]}' is not one of yours", field="warehouse_id")
    if filters["so_number"]:
        found = []
        for warehouse_id in [filters["warehouse_id"]] if filters["warehouse_id"] else tenant.warehouse_ids:
            try:
                order = orders.get_order(tenant, warehouse_id, filters["so_number"][:60], wiring.order_repository())
            except OrderNotFound:
                continue
            found.append(orders.list_view(order))
        return OrderList(items=found, total=len(found), page=1, pages=1, filters=filters)
    try:
        page = max(1, min(int(params.get("page") or 1), 100_000))
    except ValueError:
        raise InvalidInput("page: not a number", field="page") from None
    status = filters["status"]
    if status and status not in ApiStatus.__members__:
        raise InvalidInput(f"status: '{status[:40]}' is not an order status", field="status")
    query = ListQuery(
        outbound_type="OMS",
        created_start=_day(filters["created_start"], "created_start"),
        created_end=_day(filters["created_end"], "created_end"),
        warehouse_id=filters["warehouse_id"] or None,
        so_status=ApiStatus(status) if status else None,
        page=page,
        limit=PAGE_SIZE,
    )
    result = orders.list_orders(tenant, query, wiring.order_repository())
    return OrderList(
        items=result.items, total=result.total, page=page, pages=max(1, -(-result.total // PAGE_SIZE)), filters=filters
    )


@dataclass
class EventRow:
    seq: int
    event_id: str
    type: str
    at: datetime | None
    deliveries: list[tuple[str, Delivery | None]] = field(default_factory=list)


@dataclass
class Timeline:
    order: Any
    events: list[EventRow]
    endpoints: list[Endpoint]


def order_timeline(tenant: Tenant, warehouse_id: str, order_no: str) -> Timeline:
    """One order: its history, WMS forward state, shipments and, per event, each endpoint's delivery."""
    from order_hub.services import orders

    order = orders.get_order(tenant, warehouse_id, order_no, wiring.order_repository())
    first = max(1, order.version - TIMELINE_EVENTS + 1)
    keys = [(tenant.tenant_id, warehouse_id, order_no, seq) for seq in range(first, order.version + 1)]
    stored = wiring.event_store().get_events(keys)
    endpoints = sorted(wiring.endpoint_registry().list_endpoints(tenant.tenant_id), key=lambda e: e.endpoint_id)
    log = wiring.delivery_log()
    rows: list[EventRow] = []
    for key in reversed(keys):
        event = stored.get(key)
        if event is None:
            continue  # expired from the outbox (90 days)
        row = EventRow(seq=event.seq, event_id=event.event_id, type=event.type, at=event.at)
        for endpoint in endpoints:
            delivery = log.get(delivery_id_for(event.event_id, endpoint.endpoint_id))
            if delivery is not None and delivery.tenant_id == tenant.tenant_id:
                row.deliveries.append((endpoint.endpoint_id, delivery))
        rows.append(row)
    return Timeline(order=order, events=rows, endpoints=endpoints)


# --- deliveries --------------------------------------------------------------------------------


def get_delivery(tenant: Tenant, delivery_id: str) -> Delivery:
    from order_hub.services import replays

    return replays.get_delivery(wiring.delivery_log(), delivery_id, tenant.tenant_id)


def replay_delivery(tenant: Tenant, delivery_id: str) -> Delivery:
    from order_hub.services import replays

    return replays.replay_delivery(
        wiring.delivery_log(), wiring.delivery_queue(), delivery_id, now_utc(), tenant_id=tenant.tenant_id
    )


def parse_time(text: str, name: str = "since") -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{name}: '{text[:40]}' is not a time (YYYY-MM-DDTHH:MM)", field=name) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def replay_endpoint(tenant: Tenant, endpoint_id: str, since: str, include_delivered: bool) -> list[str]:
    from order_hub.services import replays

    return replays.replay_known_endpoint(
        wiring.endpoint_registry(),
        wiring.delivery_log(),
        wiring.delivery_queue(),
        tenant.tenant_id,
        endpoint_id,
        parse_time(since),
        now_utc(),
        include_delivered=include_delivered,
    )


@dataclass
class DeliveryPage:
    problems: list[Delivery]
    recent: list[Delivery]
    endpoints: list[Endpoint]
    endpoint_id: str
    since: str


def deliveries(tenant: Tenant, endpoint_id: str, since: str) -> DeliveryPage:
    """Problems first (failed, waiting for a retry), then the chosen endpoint's deliveries since a time."""
    from order_hub.services import endpoints as endpoint_service
    from order_hub.services import replays

    known = sorted(endpoint_service.list_endpoints(wiring.endpoint_registry(), tenant.tenant_id), key=lambda e: e.endpoint_id)
    since_at = parse_time(since) if since else now_utc() - timedelta(days=1)
    problems = [
        d
        for d in replays.list_problems(wiring.delivery_log(), tenant.tenant_id, PROBLEMS_SHOWN)
        if (not endpoint_id or d.endpoint_id == endpoint_id) and (not since or d.updated_at >= since_at)
    ]
    recent: list[Delivery] = []
    if endpoint_id:
        endpoint_service.get_endpoint(wiring.endpoint_registry(), tenant.tenant_id, endpoint_id)
        recent = list(reversed(wiring.delivery_log().list_for_endpoint(tenant.tenant_id, endpoint_id, since_at, 200)))
    return DeliveryPage(
        problems=problems,
        recent=recent,
        endpoints=known,
        endpoint_id=endpoint_id,
        since=since_at.strftime("%Y-%m-%dT%H:%M"),
    )


# --- endpoints ---------------------------------------------------------------------------------


def list_endpoints(tenant: Tenant) -> list[Endpoint]:
    from order_hub.services import endpoints

    return sorted(endpoints.list_endpoints(wiring.endpoint_registry(), tenant.tenant_id), key=lambda e: e.endpoint_id)


def get_endpoint(tenant: Tenant, endpoint_id: str) -> Endpoint:
    from order_hub.services import endpoints

    return endpoints.get_endpoint(wiring.endpoint_registry(), tenant.tenant_id, endpoint_id)


def _headers(text: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise InvalidInput("headers: one 'Name: value' per line", field="headers")
        headers[name.strip()] = value.strip()
    return headers


def _json_object(text: str, name: str) -> dict[str, Any] | None:
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise InvalidInput(f"{name}: not valid JSON", field=name) from None
    if not isinstance(value, dict):
        raise InvalidInput(f"{name}: must be a JSON object", field=name)
    return value


def _number(text: str, name: str, kind: type[int] | type[float]) -> Any:
    if not text.strip():
        return None
    try:
        return kind(text)
    except ValueError:
        raise InvalidInput(f"{name}: not a number", field=name) from None


def register_endpoint(tenant: Tenant, form: dict[str, list[str]]) -> tuple[Endpoint, str | None]:
    """The add form: the same validation as ``POST /hub/v1/endpoints`` (secrets to Secrets Manager)."""
    from order_hub.services import endpoints

    one = {k: (v[0] if v else "") for k, v in form.items()}
    fmt = one.get("format", "")
    request = endpoints.registration(
        endpoint_id=one.get("endpoint_id", "").strip(),
        url=one.get("url", "").strip(),
        format=fmt,
        events=form.get("events") or None,
        auth=one.get(f"auth_{fmt}") or None,
        headers=_headers(one.get("headers", "")) or None,
        username=one.get("username") or None,
        password=one.get("password") or None,
        signing_secret=one.get("signing_secret") or None,
        credential_url=one.get("credential_url") or None,
        rate_limit_per_second=_number(one.get("rate_limit_per_second", ""), "rate_limit_per_second", int),
        timeout_seconds=_number(one.get("timeout_seconds", ""), "timeout_seconds", float),
        settings=_json_object(one.get("settings", ""), "settings"),
        description=one.get("description", "").strip() or None,
    )
    return endpoints.register_endpoint(request, tenant.tenant_id, wiring.endpoint_ports())


def edit_endpoint(tenant: Tenant, endpoint_id: str, form: dict[str, list[str]]) -> Endpoint:
    """URL, event filter, description, rate limit, timeout and format settings (secrets stay as they are)."""
    from order_hub.models.endpoints import FormatSettings
    from order_hub.services.endpoints import EVENT_TYPES, check_endpoint_url

    endpoint = get_endpoint(tenant, endpoint_id)
    one = {k: (v[0] if v else "") for k, v in form.items()}
    url = one.get("url", "").strip()
    check_endpoint_url(url, wiring.url_policy())
    events = sorted(set(form.get("events") or []))
    unknown = sorted(set(events) - EVENT_TYPES)
    if unknown:
        raise InvalidInput(f"events: unknown event types {unknown}", field="events")
    rate = _number(one.get("rate_limit_per_second", ""), "rate_limit_per_second", int)
    if rate is not None and not 1 <= rate <= 1000:
        raise InvalidInput("rate_limit_per_second must be 1..1000", field="rate_limit_per_second")
    timeout = _number(one.get("timeout_seconds", ""), "timeout_seconds", float) or endpoint.timeout_seconds
    if not 0 < timeout <= 45:
        raise InvalidInput("timeout_seconds must be in (0, 45]", field="timeout_seconds")
    try:
        settings = FormatSettings.model_validate(_json_object(one.get("settings", ""), "settings") or {})
    except ValueError as error:
        raise InvalidInput(f"settings: {error}", field="settings") from None
    description = one.get("description", "").strip()
    if len(description) > 2048:
        raise InvalidInput("description: at most 2048 characters", field="description")
    updated = endpoint.model_copy(
        update={
            "url": url,
            "events": events,
            "rate_limit_per_second": rate,
            "timeout_seconds": timeout,
            "settings": settings,
            "description": description,
            "updated_at": now_utc(),
        }
    )
    wiring.endpoint_registry().put_endpoint(updated)
    return updated


def set_enabled(tenant: Tenant, endpoint_id: str, enabled: bool, reason: str) -> Endpoint:
    from order_hub.services import endpoints

    if not enabled and not reason.strip():
        raise InvalidInput("reason: say why the endpoint is disabled", field="reason")
    return endpoints.set_enabled(wiring.endpoint_registry(), tenant.tenant_id, endpoint_id, enabled, reason.strip()[:500])


def rotate_signing_secret(tenant: Tenant, endpoint_id: str) -> str:
    """A new ``whsec_`` secret for a Standard Webhooks endpoint, returned once (the old one stops at
    once for new attempts in the portal's container, within ``SECRETS_CACHE_SECONDS`` for workers)."""
    from order_hub.standard_webhooks import new_secret

    endpoint = get_endpoint(tenant, endpoint_id)
    if endpoint.auth != "standard_webhooks" or not endpoint.secret_name:
        raise InvalidInput("only Standard Webhooks endpoints have a signing secret", field="endpoint_id")
    current = wiring.secret_reader()(endpoint.secret_name) or {}
    secret = new_secret()
    wiring.secret_writer()(endpoint.secret_name, {**current, "secret": secret})
    return secret


def send_test_event(tenant: Tenant, endpoint_id: str) -> tuple[str, SendResult]:
    """POST a ``hub.test`` event to the endpoint now, with its auth (signature, token, credential),
    through the same sender and SSRF guard as real deliveries; nothing is queued or logged."""
    endpoint = get_endpoint(tenant, endpoint_id)
    test_id = f"test_{uuid.uuid4().hex}"
    body = {
        "type": "hub.test",
        "timestamp": now_utc().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": {"tenant_id": tenant.tenant_id, "endpoint_id": endpoint.endpoint_id, "message": "Test event from the hub portal"},
    }
    rendered = Rendered(body=body, kind="hub.test", dedupe_key=test_id)
    return test_id, wiring.callback_sender().send(endpoint, rendered, test_id)


# --- overview ----------------------------------------------------------------------------------


@dataclass
class Overview:
    orders_per_day: list[tuple[str, int]]
    success: list[tuple[str, int, int]]  # endpoint, delivered, settled (delivered + failed + retrying)


def overview(tenant: Tenant) -> Overview:
    """Orders per day and each endpoint's delivery success over the last 7 days (the hub's own data)."""
    from order_hub.models.api import ListQuery
    from order_hub.services import orders

    today = now_utc().date()
    per_day = []
    for back in range(OVERVIEW_DAYS - 1, -1, -1):
        day = today - timedelta(days=back)
        query = ListQuery(outbound_type="OMS", created_start=day, created_end=day, page=1, limit=1)
        per_day.append((day.isoformat(), orders.list_orders(tenant, query, wiring.order_repository()).total))
    since = now_utc() - timedelta(days=OVERVIEW_DAYS)
    success = []
    for endpoint in list_endpoints(tenant):
        found = wiring.delivery_log().list_for_endpoint(tenant.tenant_id, endpoint.endpoint_id, since, OVERVIEW_DELIVERIES)
        counts = Counter(d.status for d in found)
        settled = counts["delivered"] + counts["failed"] + counts["retrying"]
        success.append((endpoint.endpoint_id, counts["delivered"], settled))
    return Overview(orders_per_day=per_day, success=success)


def not_found(what: str) -> NotFound:
    return NotFound(f"no {what}")
