"""Client callback endpoints: registration (validated, secrets kept out of the record) and a
short-lived per-container cache for the dispatcher and the worker."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from order_hub.errors import InvalidInput, NotFound, UnsafeUrl
from order_hub.models.endpoints import FORMATS, AuthKind, Endpoint, EndpointFormat, FormatSettings
from order_hub.models.order import EventType
from order_hub.ports import EndpointRegistry, SecretWriter, TenantDirectory, UrlGuard
from order_hub.services.tenants import get_tenant

if TYPE_CHECKING:
    from order_hub.models.admin import RegisterEndpointRequest

EVENT_TYPES: frozenset[str] = frozenset(EventType.__args__)  # type: ignore[attr-defined]
_ENDPOINT_ID = re.compile(r"^[a-z0-9][a-z0-9_\-]{1,39}$")
DEFAULT_AUTH: dict[str, AuthKind] = {
    "shipper": "none",
    "increff": "headers",
    "unicommerce": "unicommerce_token",
    "standard": "standard_webhooks",
}
_AUTH_FOR_FORMAT: dict[str, set[str]] = {
    "shipper": {"none", "headers"},
    "increff": {"none", "headers", "increff_credential"},
    "unicommerce": {"unicommerce_token"},
    "standard": {"standard_webhooks"},
}


def _now() -> datetime:
    return datetime.now(UTC)


def check_endpoint_url(url: str, guard: UrlGuard, field: str = "url") -> None:
    try:
        guard.check(url)
    except UnsafeUrl as error:
        raise InvalidInput(f"{field}: {error}", field=field) from error


@dataclass(frozen=True)
class EndpointPorts:
    """What registering an endpoint needs (``wiring.endpoint_ports()``; tests pass fakes)."""

    tenants: TenantDirectory
    registry: EndpointRegistry
    write_secret: SecretWriter
    secret_name_for: Callable[[str, str], str]
    url_guard: UrlGuard


def registration(**fields: Any) -> RegisterEndpointRequest:
    """A registration request from loose values (the CLI): invalid ones are ``InvalidInput`` naming the field."""
    from pydantic import ValidationError

    from order_hub.models.admin import RegisterEndpointRequest

    try:
        return RegisterEndpointRequest.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        raise InvalidInput(f"{field}: {first['msg']}", field=field) from error


def register_endpoint(request: RegisterEndpointRequest, tenant_id: str, ports: EndpointPorts) -> tuple[Endpoint, str | None]:
    """Validate and store an endpoint; returns it with a generated Standard Webhooks secret (shown once)."""
    get_tenant(ports.tenants, tenant_id)
    endpoint_id, url, format, auth = request.endpoint_id, request.url, request.format, request.auth
    credential_url, timeout_seconds = request.credential_url, request.timeout_seconds
    rate_limit_per_second, events = request.rate_limit_per_second, request.events
    if not _ENDPOINT_ID.match(endpoint_id):
        raise InvalidInput("endpoint id must be 2-40 lowercase letters, digits, '_' or '-'", field="endpoint_id")
    if format not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}", field="format")
    fmt: EndpointFormat = format
    kind = auth or DEFAULT_AUTH[fmt]
    if kind not in _AUTH_FOR_FORMAT[fmt]:
        raise InvalidInput(
            f"auth '{kind}' does not fit format '{fmt}' (use {', '.join(sorted(_AUTH_FOR_FORMAT[fmt]))})", field="auth"
        )
    unknown = sorted(set(events or []) - EVENT_TYPES)
    if unknown:
        raise InvalidInput(f"unknown event types {unknown}; known: {sorted(EVENT_TYPES)}", field="events")
    check_endpoint_url(url, ports.url_guard)
    if credential_url:
        check_endpoint_url(credential_url, ports.url_guard, "credential_url")
    if not 0 < timeout_seconds <= 45:
        raise InvalidInput("timeout_seconds must be in (0, 45]", field="timeout_seconds")
    if rate_limit_per_second is not None and not 1 <= rate_limit_per_second <= 1000:
        raise InvalidInput("rate_limit_per_second must be 1..1000", field="rate_limit_per_second")
    try:
        format_settings = FormatSettings.model_validate(
            request.settings.model_dump(exclude_unset=True) if request.settings else {}
        )
    except ValueError as error:
        raise InvalidInput(f"settings: {error}", field="settings") from error
    headers, username, password, signing_secret = request.headers, request.username, request.password, request.signing_secret

    secret: dict[str, Any] = {}
    generated: str | None = None
    if headers:
        secret["headers"] = dict(headers)
    if kind == "unicommerce_token":
        if not username or not password:
            raise InvalidInput("unicommerce endpoints need a username and a password for the token call", field="username")
        secret.update(username=username, password=password)
    if kind == "increff_credential" and not credential_url:
        raise InvalidInput("increff_credential needs credential_url (Get Credential)", field="credential_url")
    if kind == "standard_webhooks":
        from order_hub.standard_webhooks import new_secret

        if signing_secret and not signing_secret.startswith("whsec_"):
            raise InvalidInput("signing secret must start with whsec_", field="signing_secret")
        generated = None if signing_secret else new_secret()
        secret["secret"] = signing_secret or generated
    secret_name = ports.secret_name_for(tenant_id, endpoint_id) if secret else None
    now = _now()
    endpoint = Endpoint(
        tenant_id=tenant_id,
        endpoint_id=endpoint_id,
        url=url,
        format=fmt,
        events=sorted(set(events or [])),
        auth=cast(AuthKind, kind),
        secret_name=secret_name,
        credential_url=credential_url,
        rate_limit_per_second=rate_limit_per_second,
        timeout_seconds=timeout_seconds,
        settings=format_settings,
        description=request.description,
        created_at=now,
        updated_at=now,
    )
    if ports.registry.get_endpoint(tenant_id, endpoint_id) is not None:
        raise InvalidInput(f"endpoint '{endpoint_id}' already exists", field="endpoint_id")
    if secret_name:
        ports.write_secret(secret_name, secret)
    ports.registry.put_endpoint(endpoint, create=True)
    return endpoint, generated


def list_endpoints(registry: EndpointRegistry, tenant_id: str) -> list[Endpoint]:
    return registry.list_endpoints(tenant_id)


def get_endpoint(registry: EndpointRegistry, tenant_id: str, endpoint_id: str) -> Endpoint:
    endpoint = registry.get_endpoint(tenant_id, endpoint_id)
    if endpoint is None:
        raise NotFound(f"tenant '{tenant_id}' has no endpoint '{endpoint_id}'", field="endpoint_id")
    return endpoint


def set_enabled(registry: EndpointRegistry, tenant_id: str, endpoint_id: str, enabled: bool, reason: str = "") -> Endpoint:
    endpoint = get_endpoint(registry, tenant_id, endpoint_id)
    updated = endpoint.model_copy(update={"enabled": enabled, "disabled_reason": "" if enabled else reason, "updated_at": _now()})
    registry.put_endpoint(updated)
    return updated


def disable_endpoint(registry: EndpointRegistry, endpoint: Endpoint, reason: str) -> None:
    """Turn an endpoint off for good (e.g. a Standard Webhooks receiver answered 410 Gone)."""
    from order_hub.observability import logger, metrics

    set_enabled(registry, endpoint.tenant_id, endpoint.endpoint_id, False, reason)
    metrics.add_metric(name="EndpointsDisabled", unit="Count", value=1)
    logger.warning("endpoint disabled", extra={"endpoint_id": endpoint.endpoint_id, "reason": reason})


def public_view(endpoint: Endpoint) -> dict[str, Any]:
    """An endpoint as shown to people: never secret values (they live in Secrets Manager only)."""
    return endpoint.model_dump(mode="json")
