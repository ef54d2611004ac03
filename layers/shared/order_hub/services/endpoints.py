"""Client callback endpoints: registration (validated, secrets kept out of the record) and a
short-lived per-container cache for the dispatcher and the worker."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from order_hub.adapters.net_guard import UnsafeUrl, UrlPolicy, check_url
from order_hub.errors import InvalidInput, NotFound
from order_hub.models.endpoints import FORMATS, AuthKind, Endpoint, EndpointFormat, FormatSettings, header_problem
from order_hub.models.order import EventType
from order_hub.ports import EndpointRegistry, TenantDirectory
from order_hub.services.tenants import get_tenant

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
SecretWriter = Callable[[str, dict[str, Any]], object]


def _now() -> datetime:
    return datetime.now(UTC)


def check_endpoint_url(url: str, policy: UrlPolicy, field: str = "url") -> None:
    try:
        check_url(url, policy)
    except UnsafeUrl as error:
        raise InvalidInput(f"{field}: {error}", field=field) from error


def register_endpoint(
    tenants: TenantDirectory,
    registry: EndpointRegistry,
    write_secret: SecretWriter,
    secret_name_for: Callable[[str, str], str],
    policy: UrlPolicy,
    *,
    tenant_id: str,
    endpoint_id: str,
    url: str,
    format: str,
    events: list[str] | None = None,
    auth: str | None = None,
    headers: dict[str, str] | None = None,
    username: str | None = None,
    password: str | None = None,
    signing_secret: str | None = None,
    credential_url: str | None = None,
    rate_limit_per_second: int | None = None,
    timeout_seconds: float = 15.0,
    settings: dict[str, Any] | None = None,
    description: str = "",
) -> tuple[Endpoint, str | None]:
    """Validate and store an endpoint; returns it with a generated Standard Webhooks secret (shown once)."""
    get_tenant(tenants, tenant_id)
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
    check_endpoint_url(url, policy)
    if credential_url:
        check_endpoint_url(credential_url, policy, "credential_url")
    if not 0 < timeout_seconds <= 45:
        raise InvalidInput("timeout_seconds must be in (0, 45]", field="timeout_seconds")
    if rate_limit_per_second is not None and not 1 <= rate_limit_per_second <= 1000:
        raise InvalidInput("rate_limit_per_second must be 1..1000", field="rate_limit_per_second")
    try:
        format_settings = FormatSettings.model_validate(settings or {})
    except ValueError as error:
        raise InvalidInput(f"settings: {error}", field="settings") from error

    for name, value in (headers or {}).items():
        problem = header_problem(name, value)
        if problem:
            raise InvalidInput(problem, field="headers")
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
        from order_hub.rendering.callbacks.standard import new_secret

        if signing_secret and not signing_secret.startswith("whsec_"):
            raise InvalidInput("signing secret must start with whsec_", field="signing_secret")
        generated = None if signing_secret else new_secret()
        secret["secret"] = signing_secret or generated
    secret_name = secret_name_for(tenant_id, endpoint_id) if secret else None
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
        description=description,
        created_at=now,
        updated_at=now,
    )
    if registry.get_endpoint(tenant_id, endpoint_id) is not None:
        raise InvalidInput(f"endpoint '{endpoint_id}' already exists", field="endpoint_id")
    if secret_name:
        write_secret(secret_name, secret)
    registry.put_endpoint(endpoint, create=True)
    return endpoint, generated


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


def public_view(endpoint: Endpoint) -> dict[str, Any]:
    """An endpoint as shown to people: never secret values (they live in Secrets Manager only)."""
    return endpoint.model_dump(mode="json")
