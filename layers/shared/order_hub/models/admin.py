"""Shapes of the tenant admin API (callback endpoints and deliveries), requests and responses.

Requests refuse unknown fields (810 naming the field). Secret values (passwords, header values,
signing secrets) are inputs only: they go to Secrets Manager and never come back, except a
generated Standard Webhooks secret, shown once in the registration response.
"""

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool

from order_hub.models.common import to_utc
from order_hub.models.endpoints import EndpointFormat, FormatSettings, header_problem
from order_hub.models.responses import Metadata


class _In(BaseModel):
    """Unknown fields are refused; strings are kept as sent (secrets must not be altered)."""

    model_config = ConfigDict(extra="forbid", validate_default=True, defer_build=True)


Text = Annotated[str, Field(max_length=2048)]


def _valid_headers(headers: dict[str, str] | None) -> dict[str, str] | None:
    for name, value in (headers or {}).items():
        problem = header_problem(name, value)
        if problem:
            raise ValueError(problem)
    return headers


def _utc(value: datetime) -> datetime:
    """A time without an offset is read as UTC (as ``hub-admin`` does)."""
    return to_utc(value)


class FormatSettingsRequest(FormatSettings):
    """An endpoint's format settings as sent: a misspelt key is refused, not silently dropped."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


class RegisterEndpointRequest(_In):
    endpoint_id: str = Field(min_length=1, max_length=40, description="2-40 lowercase letters, digits, '_' or '-'")
    url: Text = Field(description="https URL (Unicommerce: the POS base URL)")
    format: EndpointFormat
    events: list[Annotated[str, Field(max_length=60)]] = Field(default_factory=list, max_length=50)
    auth: str | None = Field(default=None, max_length=40, description="Default: the format's usual authentication")
    headers: Annotated[dict[str, Annotated[str, Field(max_length=4096)]] | None, AfterValidator(_valid_headers)] = Field(
        default=None, max_length=20
    )
    username: str | None = Field(default=None, max_length=255)
    password: str | None = Field(default=None, max_length=1024)
    signing_secret: str | None = Field(default=None, max_length=1024, description="whsec_...; default: generated")
    credential_url: Text | None = None
    rate_limit_per_second: int | None = None
    timeout_seconds: float = 15.0
    settings: FormatSettingsRequest | None = None
    description: str = Field(default="", max_length=500)


class SetEnabledRequest(_In):
    enabled: StrictBool
    reason: str = Field(default="", max_length=200)


class ReplayEndpointRequest(_In):
    since: Annotated[datetime, AfterValidator(_utc)] = Field(description="ISO 8601 time, e.g. 2026-11-01T00:00:00Z")
    include_delivered: StrictBool = False


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class EndpointList(_Out):
    endpoints: list[dict[str, Any]]


class DeliveryList(_Out):
    deliveries: list[dict[str, Any]]


class ReplayResult(_Out):
    replayed: int
    delivery_ids: list[str]


class EndpointResponse(_Out):
    metadata: Metadata
    data: dict[str, Any]


class EndpointListResponse(_Out):
    metadata: Metadata
    data: EndpointList


class DeliveryResponse(_Out):
    metadata: Metadata
    data: dict[str, Any]


class DeliveryListResponse(_Out):
    metadata: Metadata
    data: DeliveryList


class ReplayResponse(_Out):
    metadata: Metadata
    data: ReplayResult


class PortalLink(_Out):
    url: str = Field(description="One-time login link to the tenant portal (works once, until expires_at)")
    expires_at: str


class PortalLinkResponse(_Out):
    metadata: Metadata
    data: PortalLink
