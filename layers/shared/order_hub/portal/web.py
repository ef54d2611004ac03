"""The portal's routes: the login link, the session cookie, CSRF on every form, and the pages.

Every page but the login link and the static files needs a live session; the session's tenant is
the only tenant a request ever sees. Every POST carries the session's CSRF token (a hidden form
field; refused with 403 otherwise). Pages are Jinja2 templates with autoescape, so whatever an
order or a receiver sent is shown as text; the Content-Security-Policy allows scripts and styles
from the portal itself only (no inline script, no CDN).
"""

from __future__ import annotations

import time
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from order_hub.errors import HubError, InvalidInput
from order_hub.observability import logger

if TYPE_CHECKING:
    from jinja2 import Environment

    from order_hub.models.tenant import Tenant
    from order_hub.ports import PortalSession

COOKIE = "hub_portal"
HERE = Path(__file__).parent
STATIC = {"portal.css": "text/css; charset=utf-8", "portal.js": "text/javascript; charset=utf-8"}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
NOTICES = {
    "replayed": "Delivery queued again: it is sent within seconds.",
    "enabled": "Endpoint enabled.",
    "disabled": "Endpoint disabled.",
    "saved": "Endpoint saved.",
}

app = APIGatewayRestResolver()


class SignedOut(Exception):
    """No live session: the page says so (401) instead of showing anything."""


class CsrfRefused(Exception):
    pass


@cache
def templates() -> Environment:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(
        loader=FileSystemLoader(str(HERE / "templates")),
        autoescape=True,  # every value is text: an order field or a response body with <script> stays inert
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = lambda value: value.strftime("%Y-%m-%d %H:%M:%S") if value else ""
    return env


# --- request helpers ---------------------------------------------------------------------------


def _base() -> str:
    from order_hub.portal.urls import base_path

    return base_path(app.current_event.raw_event) + "/portal"


def _local() -> bool:
    from order_hub.config import _Settings, load

    return load(_Settings).local


def _cookie_value() -> str | None:
    event = app.current_event.raw_event
    pairs: list[str] = list(event.get("cookies") or [])  # HTTP API (payload 2.0)
    for name, value in (event.get("headers") or {}).items():
        if str(name).lower() == "cookie":
            pairs.extend(str(value).split(";"))
    for name, values in (event.get("multiValueHeaders") or {}).items():
        if str(name).lower() == "cookie":
            for value in values or []:
                pairs.extend(str(value).split(";"))
    for pair in pairs:
        name, _, value = pair.strip().partition("=")
        if name == COOKIE:
            return value
    return None


def _session() -> PortalSession:
    from order_hub import wiring
    from order_hub.services import portal_access

    session = portal_access.current_session(wiring.portal_store(), _cookie_value(), int(time.time()))
    if session is None:
        raise SignedOut()
    logger.append_keys(tenant_id=session.tenant_id)
    return session


def _tenant(session: PortalSession) -> Tenant:
    from order_hub.portal import views

    return views.tenant_of(session.tenant_id)


def _form() -> dict[str, list[str]]:
    from order_hub.http_api import raw_body

    event = app.current_event.raw_event
    try:
        text = raw_body(event).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the form is not UTF-8", field="body") from None
    try:
        return parse_qs(text, keep_blank_values=True, max_num_fields=200)
    except ValueError:
        raise InvalidInput("the form has too many fields", field="body") from None


def _checked_form(session: PortalSession) -> dict[str, list[str]]:
    from order_hub.services import portal_access

    form = _form()
    if not portal_access.csrf_ok(session, (form.get("csrf") or [""])[0]):
        raise CsrfRefused()
    return form


def _params() -> dict[str, str]:
    return {k: v for k, v in (app.current_event.query_string_parameters or {}).items() if isinstance(v, str)}


def _html(http_status: int, template: str, session: PortalSession | None = None, **context: Any) -> Response[str]:
    values: dict[str, Any] = {
        "page": "",
        "error": "",
        "base": _base(),
        "session": session,
        "csrf": session.csrf_token if session else "",
        "tenant_id": session.tenant_id if session else "",
        "notice": NOTICES.get(_params().get("notice", ""), ""),
        **context,
    }
    body = templates().get_template(template).render(values)
    return Response(status_code=http_status, content_type="text/html; charset=utf-8", body=body, headers=dict(SECURITY_HEADERS))


def _redirect(path: str, **query: str) -> Response[str]:
    location = _base() + path + (f"?{urlencode(query)}" if query else "")
    headers = {**SECURITY_HEADERS, "Location": location}
    return Response(status_code=303, content_type="text/html; charset=utf-8", body="", headers=headers)


def _session_cookie(value: str, max_age: int) -> Cookie:
    return Cookie(
        name=COOKIE,
        value=value,
        path=_base(),
        secure=not _local(),  # the local stack is plain http on 127.0.0.1
        http_only=True,
        same_site=SameSite.STRICT_MODE,
        max_age=max_age,
    )


# --- errors ------------------------------------------------------------------------------------


@app.exception_handler(SignedOut)
def _signed_out(_: SignedOut) -> Response[str]:
    response = _html(401, "signed_out.html", reason="Your portal session has ended or has expired. Ask for a new link.")
    response.cookies.append(_session_cookie("", 0))
    return response


@app.exception_handler(CsrfRefused)
def _csrf(_: CsrfRefused) -> Response[str]:
    return _html(403, "error.html", code=403, message="This form is out of date or was not sent by the portal. Reload the page.")


@app.exception_handler(HubError)
def _hub_error(error: HubError) -> Response[str]:
    from order_hub.http_api import http_status_of

    status = http_status_of(error)
    message = "Not found." if status == 404 else error.message
    logger.info("portal request refused", extra={"status": status, "code": error.code})
    return _html(status, "error.html", code=status, message=message)


@app.exception_handler(Exception)
def _unexpected(error: Exception) -> Response[str]:
    logger.error("portal error", exc_info=error)
    return _html(500, "error.html", code=500, message="Something went wrong on our side.")


@app.not_found
def _no_page(_: Exception) -> Response[str]:
    return _html(404, "error.html", code=404, message="Not found.")


# --- access ------------------------------------------------------------------------------------


@app.get("/portal/login")
def login() -> Response[str]:
    """Open a one-time link: consume the token, set the session cookie, go to the overview."""
    from order_hub import wiring
    from order_hub.config import PortalSettings, load
    from order_hub.services import portal_access

    lifetime = load(PortalSettings).PORTAL_SESSION_SECONDS
    started = portal_access.open_link(wiring.portal_store(), _params().get("token"), int(time.time()), lifetime)
    if started is None:
        logger.info("portal link refused")
        return _html(
            403, "signed_out.html", reason="This link was already used or has expired. Links work once: ask for a new one."
        )
    logger.append_keys(tenant_id=started.session.tenant_id)
    logger.info("portal session started", extra={"lifetime_seconds": lifetime})
    # A page, not a redirect: the cookie is SameSite=Strict, and a link opened from a mail or
    # another site would not send it on a redirect that follows a cross-site navigation.
    response = _html(200, "signed_in.html", session=started.session, lifetime_minutes=lifetime // 60)
    response.cookies.append(_session_cookie(started.cookie_value, lifetime))
    return response


@app.post("/portal/logout")
def logout() -> Response[str]:
    from order_hub import wiring
    from order_hub.services import portal_access

    session = _session()
    _checked_form(session)
    portal_access.end_session(wiring.portal_store(), session)
    response = _html(200, "signed_out.html", reason="You are signed out.")
    response.cookies.append(_session_cookie("", 0))
    return response


@app.get("/portal/static/<name>")
def static(name: str) -> Response[str]:
    if name not in STATIC:
        return _html(404, "error.html", code=404, message="Not found.")
    body = (HERE / "static" / name).read_text(encoding="utf-8")
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=300"}
    return Response(status_code=200, content_type=STATIC[name], body=body, headers=headers)


# --- pages -------------------------------------------------------------------------------------


@app.get("/portal")
def overview_page() -> Response[str]:
    from order_hub.portal import charts, views

    session = _session()
    data = views.overview(_tenant(session))
    return _html(
        200,
        "overview.html",
        session,
        page="overview",
        data=data,
        orders_bars=charts.orders_chart(data.orders_per_day),
        success_bars=charts.success_chart(data.success),
        chart=charts,
    )


@app.get("/portal/orders")
def orders_page() -> Response[str]:
    from order_hub.models.status import ApiStatus
    from order_hub.portal import views

    session = _session()
    tenant = _tenant(session)
    listed = views.list_orders(tenant, _params())
    return _html(
        200,
        "orders.html",
        session,
        page="orders",
        listed=listed,
        statuses=[s.value for s in ApiStatus],
        warehouses=tenant.warehouse_ids,
        query=lambda **extra: urlencode({**{k: v for k, v in listed.filters.items() if v}, **extra}),
    )


@app.get("/portal/orders/<warehouse_id>/<order_no>")
def order_page(warehouse_id: str, order_no: str) -> Response[str]:
    from order_hub.portal import views

    session = _session()
    timeline = views.order_timeline(_tenant(session), warehouse_id, order_no)
    return _html(200, "order.html", session, page="orders", t=timeline, o=timeline.order)


@app.get("/portal/deliveries")
def deliveries_page() -> Response[str]:
    from order_hub.portal import views

    session = _session()
    params = _params()
    data = views.deliveries(_tenant(session), params.get("endpoint_id", ""), params.get("since", ""))
    return _html(200, "deliveries.html", session, page="deliveries", d=data, replayed=params.get("replayed", ""))


@app.get("/portal/deliveries/<delivery_id>")
def delivery_page(delivery_id: str) -> Response[str]:
    from order_hub.portal import views

    session = _session()
    return _html(200, "delivery.html", session, page="deliveries", d=views.get_delivery(_tenant(session), delivery_id))


@app.post("/portal/deliveries/<delivery_id>/replay")
def replay_delivery(delivery_id: str) -> Response[str]:
    from order_hub.portal import views

    session = _session()
    form = _checked_form(session)
    delivery = views.replay_delivery(_tenant(session), delivery_id)
    back = (form.get("back") or [""])[0]
    if back == "order":
        return _redirect(f"/orders/{delivery.warehouse_id}/{delivery.order_no}", notice="replayed")
    return _redirect(f"/deliveries/{delivery.delivery_id}", notice="replayed")


@app.get("/portal/endpoints")
def endpoints_page() -> Response[str]:
    from order_hub.portal import views

    session = _session()
    return _html(
        200, "endpoints.html", session, page="endpoints", endpoints=views.list_endpoints(_tenant(session)), **_form_choices()
    )


def _form_choices() -> dict[str, Any]:
    from order_hub.models.endpoints import FORMATS
    from order_hub.services.endpoints import _AUTH_FOR_FORMAT, DEFAULT_AUTH, EVENT_TYPES

    return {
        "formats": FORMATS,
        "event_types": sorted(EVENT_TYPES),
        "auths": {fmt: sorted(_AUTH_FOR_FORMAT[fmt]) for fmt in FORMATS},
        "default_auth": DEFAULT_AUTH,
    }


@app.post("/portal/endpoints")
def add_endpoint() -> Response[str]:
    from order_hub.portal import views

    session = _session()
    form = _checked_form(session)
    tenant = _tenant(session)
    try:
        endpoint, generated = views.register_endpoint(tenant, form)
    except InvalidInput as error:
        return _html(
            400,
            "endpoints.html",
            session,
            page="endpoints",
            endpoints=views.list_endpoints(tenant),
            error=error.message,
            **_form_choices(),
        )
    logger.info("endpoint registered in the portal", extra={"endpoint_id": endpoint.endpoint_id})
    return _endpoint_html(201, session, endpoint, secret=generated)


def _endpoint_html(status: int, session: PortalSession, endpoint: Any, **extra: Any) -> Response[str]:
    import json

    context: dict[str, Any] = {"secret": None, "test": None, "error": "", **extra}
    settings = json.dumps(endpoint.settings.model_dump(mode="json", exclude_defaults=True), indent=2)
    return _html(
        status, "endpoint.html", session, page="endpoints", e=endpoint, settings_json=settings, **_form_choices(), **context
    )


@app.get("/portal/endpoints/<endpoint_id>")
def endpoint_page(endpoint_id: str) -> Response[str]:
    from order_hub.portal import views

    session = _session()
    return _endpoint_html(200, session, views.get_endpoint(_tenant(session), endpoint_id))


@app.post("/portal/endpoints/<endpoint_id>")
def edit_endpoint(endpoint_id: str) -> Response[str]:
    from order_hub.portal import views

    session = _session()
    form = _checked_form(session)
    tenant = _tenant(session)
    try:
        views.edit_endpoint(tenant, endpoint_id, form)
    except InvalidInput as error:
        return _endpoint_html(400, session, views.get_endpoint(tenant, endpoint_id), error=error.message)
    return _redirect(f"/endpoints/{endpoint_id}", notice="saved")


@app.post("/portal/endpoints/<endpoint_id>/enabled")
def set_enabled(endpoint_id: str) -> Response[str]:
    from order_hub.portal import views

    session = _session()
    form = _checked_form(session)
    tenant = _tenant(session)
    enabled = (form.get("enabled") or [""])[0] == "true"
    try:
        views.set_enabled(tenant, endpoint_id, enabled, (form.get("reason") or [""])[0])
    except InvalidInput as error:
        return _endpoint_html(400, session, views.get_endpoint(tenant, endpoint_id), error=error.message)
    return _redirect(f"/endpoints/{endpoint_id}", notice="enabled" if enabled else "disabled")


@app.post("/portal/endpoints/<endpoint_id>/rotate")
def rotate(endpoint_id: str) -> Response[str]:
    from order_hub.portal import views

    session = _session()
    _checked_form(session)
    tenant = _tenant(session)
    secret = views.rotate_signing_secret(tenant, endpoint_id)
    logger.info("signing secret rotated in the portal", extra={"endpoint_id": endpoint_id})
    return _endpoint_html(200, session, views.get_endpoint(tenant, endpoint_id), secret=secret)


@app.post("/portal/endpoints/<endpoint_id>/test")
def test_event(endpoint_id: str) -> Response[str]:
    from order_hub.portal import views

    session = _session()
    _checked_form(session)
    tenant = _tenant(session)
    test_id, result = views.send_test_event(tenant, endpoint_id)
    return _endpoint_html(200, session, views.get_endpoint(tenant, endpoint_id), test={"id": test_id, "result": result})


@app.post("/portal/endpoints/<endpoint_id>/replay")
def replay_endpoint(endpoint_id: str) -> Response[str]:
    from order_hub.portal import views

    session = _session()
    form = _checked_form(session)
    since = (form.get("since") or [""])[0]
    include = (form.get("include_delivered") or [""])[0] == "true"
    ids = views.replay_endpoint(_tenant(session), endpoint_id, since, include)
    return _redirect("/deliveries", endpoint_id=endpoint_id, since=since, replayed=str(len(ids)))


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from order_hub.http_api import request_id_from, with_request_id

    request_id = request_id_from(event.get("headers"), (event.get("requestContext") or {}).get("requestId"))
    logger.set_correlation_id(request_id)
    return with_request_id(app.resolve(event, context), request_id)
