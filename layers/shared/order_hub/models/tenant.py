"""Tenants and their API keys (keys are stored as SHA-256 digests only)."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from order_hub.models.common import Stored


class Tenant(Stored):
    tenant_id: str
    name: str
    warehouse_ids: list[str] = Field(default_factory=list)
    status: Literal["active", "suspended"] = "active"
    require_tracking_id: bool = Field(
        default=False, description="Fulfilment-logistics client (seed 002): create and update need the Shipper tracking_id"
    )
    rate_limit_per_second: int | None = Field(
        default=None,
        ge=1,
        le=10_000,
        description="Requests per second this tenant may make to the order and pricing API; none: the stack's "
        "TenantRateLimitPerSecond",
    )
    created_at: datetime


class ApiKey(Stored):
    key_id: str
    tenant_id: str
    key_hash: str
    prefix: str = Field(description="First characters of the key, for humans to recognise it")
    status: Literal["active", "revoked"] = "active"
    created_at: datetime
    revoked_at: datetime | None = None


class IssuedKey(Stored):
    """Returned once, when a key is created: the plaintext is never stored."""

    key_id: str
    tenant_id: str
    api_key: str
