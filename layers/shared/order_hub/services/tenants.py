"""Tenant and API key administration (used by the admin CLI and the local stack)."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime

from order_hub.errors import InvalidInput, TenantNotFound
from order_hub.models.tenant import ApiKey, IssuedKey, Tenant
from order_hub.ports import TenantDirectory

KEY_PREFIX = "ohk_"
_ID = re.compile(r"^[a-z0-9][a-z0-9_\-]{1,39}$")
_WAREHOUSE = re.compile(r"^[A-Za-z0-9_.\-]{1,20}$")


def hash_api_key(api_key: str) -> str:
    """Keys carry 192 random bits, so a fast digest is enough (no password stretching needed)."""
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _check_warehouses(warehouse_ids: list[str]) -> list[str]:
    for warehouse_id in warehouse_ids:
        if not _WAREHOUSE.match(warehouse_id):
            raise InvalidInput(f"warehouse id '{warehouse_id}' is invalid (1-20 letters, digits, '_', '.', '-')")
    return sorted(set(warehouse_ids))


def create_tenant(directory: TenantDirectory, tenant_id: str, name: str, warehouse_ids: list[str]) -> Tenant:
    if not _ID.match(tenant_id):
        raise InvalidInput("tenant id must be 2-40 lowercase letters, digits, '_' or '-'", field="tenant_id")
    if not name.strip():
        raise InvalidInput("tenant name is empty", field="name")
    tenant = Tenant(tenant_id=tenant_id, name=name.strip(), warehouse_ids=_check_warehouses(warehouse_ids), created_at=_now())
    directory.create_tenant(tenant)
    return tenant


def get_tenant(directory: TenantDirectory, tenant_id: str) -> Tenant:
    tenant = directory.get_tenant(tenant_id)
    if tenant is None:
        raise TenantNotFound(f"tenant '{tenant_id}' does not exist")
    return tenant


def add_warehouses(directory: TenantDirectory, tenant_id: str, warehouse_ids: list[str]) -> Tenant:
    tenant = get_tenant(directory, tenant_id)
    merged = _check_warehouses([*tenant.warehouse_ids, *warehouse_ids])
    updated = tenant.model_copy(update={"warehouse_ids": merged})
    directory.save_tenant(updated)
    return updated


def set_require_tracking_id(directory: TenantDirectory, tenant_id: str, required: bool) -> Tenant:
    """Fulfilment-logistics clients (seed 002) must send the Shipper tracking id on create."""
    tenant = get_tenant(directory, tenant_id)
    updated = tenant.model_copy(update={"require_tracking_id": required})
    directory.save_tenant(updated)
    return updated


MAX_TENANT_RATE_LIMIT = 10_000
"""The most a tenant may be given: the HTTP API's default account quota per region."""


def set_rate_limit(directory: TenantDirectory, tenant_id: str, limit: int | None) -> Tenant:
    """The tenant's own request limit per second (``None``: back to the stack's ``TenantRateLimitPerSecond``).
    Keep it under the HTTP API stage throttle, or the gateway answers 429 before the function does."""
    if limit is not None and not 1 <= limit <= MAX_TENANT_RATE_LIMIT:
        raise InvalidInput(f"rate limit must be 1..{MAX_TENANT_RATE_LIMIT} requests per second", field="rate_limit_per_second")
    tenant = get_tenant(directory, tenant_id)
    updated = tenant.model_copy(update={"rate_limit_per_second": limit})
    directory.save_tenant(updated)
    return updated


def issue_api_key(directory: TenantDirectory, tenant_id: str) -> IssuedKey:
    get_tenant(directory, tenant_id)
    key_id = secrets.token_hex(4)
    api_key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(24)}"
    directory.put_key(
        ApiKey(
            key_id=key_id,
            tenant_id=tenant_id,
            key_hash=hash_api_key(api_key),
            prefix=api_key[: len(KEY_PREFIX) + 8],
            created_at=_now(),
        )
    )
    return IssuedKey(key_id=key_id, tenant_id=tenant_id, api_key=api_key)


def revoke_api_key(directory: TenantDirectory, tenant_id: str, key_id: str) -> ApiKey:
    return directory.revoke_key(tenant_id, key_id, _now())


def rotate_api_key(directory: TenantDirectory, tenant_id: str, key_id: str) -> IssuedKey:
    """Issue a new key, then revoke the old one (the old key stops working within the auth cache TTL)."""
    keys = {key.key_id: key for key in directory.list_keys(tenant_id)}
    if key_id not in keys or keys[key_id].status != "active":
        raise InvalidInput(f"tenant '{tenant_id}' has no active key '{key_id}'", field="key_id")
    issued = issue_api_key(directory, tenant_id)
    directory.revoke_key(tenant_id, key_id, _now())
    return issued
