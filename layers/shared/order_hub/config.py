"""Settings read from the environment, validated by pydantic, loaded lazily and cached.

Call ``load(Model)`` inside a handler or adapter factory, never at import time.
Tests change the environment with ``monkeypatch`` and call ``order_hub.lifecycle.reset()``.

``FUNCTION_SETTINGS`` is the one list of what each Lambda function reads from its environment:
every handler validates its model on its first invocation (``require``), so a missing or malformed
variable fails there, naming the variable, and a test checks template.yaml against it.
"""

import os
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from order_hub.lifecycle import per_container


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    HUB_ENV: Literal["local", "dev", "prod"] = "prod"

    @property
    def local(self) -> bool:
        return self.HUB_ENV == "local"


class SecretsSettings(_Settings):
    SECRETS_CACHE_SECONDS: int = Field(
        default=300,
        ge=0,
        le=3600,
        description="How long a container keeps a secret it read; the local stack sets 0 (see local_stack.stack)",
    )


class TablesSettings(_Settings):
    ORDERS_TABLE_NAME: str = Field(min_length=1)
    TENANTS_TABLE_NAME: str = Field(min_length=1)


class ApiSettings(TablesSettings):
    AUTH_CACHE_TTL_SECONDS: int = Field(default=60, ge=0, le=900)
    TENANT_RATE_LIMIT_PER_SECOND: int = Field(
        default=50,
        ge=0,
        le=1000,
        description="Requests one tenant may make per second to the order and admin APIs (429 above it); 0 turns the limit off",
    )


S = TypeVar("S", bound=_Settings)


@per_container
def load(model: type[S]) -> S:
    """Validate the current environment against ``model`` (cached per model)."""
    return model.model_validate(dict(os.environ))


class WmsSettings(_Settings):
    """How the hub talks to a WMS (every function that may call one: forwarder, poller, cancel)."""

    WMS_TIMEOUT_SECONDS: float = Field(default=10, gt=0, le=25)


class WorkerSettings(TablesSettings, WmsSettings):
    """Settings of the asynchronous functions (dispatcher, forwarder, webhooks, poller)."""

    WMS_FORWARD_QUEUE_URL: str = Field(min_length=1)
    WMS_RETRY_BACKOFF_SECONDS: str = Field(default="5,30,120,300,900,1800,3600,7200,14400", pattern=r"^[0-9]+(,[0-9]+)*$")

    @property
    def retry_backoff(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.WMS_RETRY_BACKOFF_SECONDS.split(","))


class DeliverySettings(TablesSettings):
    """Callback delivery (dispatcher, delivery worker, admin replays)."""

    DELIVERIES_TABLE_NAME: str = Field(min_length=1)
    DELIVERY_QUEUE_URL: str = Field(min_length=1)
    DELIVERY_DLQ_URL: str = Field(min_length=1)
    DELIVERY_RETRY_SCHEDULE: str = Field(
        default="5,300,1800,7200,18000,36000,36000",
        pattern=r"^[0-9]+(,[0-9]+)*$",
        description="Seconds before attempts 2, 3, ...; after the last one fails the delivery goes to the DLQ",
    )
    CALLBACK_TIMEOUT_SECONDS: float = Field(default=15, gt=0, le=45)
    DELIVERY_CONCURRENCY: int = Field(default=10, ge=1, le=50)

    @property
    def retry_schedule(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.DELIVERY_RETRY_SCHEDULE.split(","))

    @property
    def max_attempts(self) -> int:
        return len(self.retry_schedule) + 1


class PricingSettings(TablesSettings):
    """Domestic shipping prices (orders_api, ``POST /v3/fulfillment/pricing/domestic``).

    The logistics call must fit the function's 10 s timeout: the retry only runs while the budget lasts.
    """

    PRICING_CACHE_TTL_SECONDS: int = Field(default=60, ge=0, le=3600, description="Identical requests; 0 turns the cache off")
    PRICING_CACHE_MAX_ENTRIES: int = Field(default=2048, ge=1, le=100_000)
    PRICING_CONFIG_TTL_SECONDS: int = Field(default=300, ge=0, le=3600, description="A tenant's provider choice and rate card")
    LOGISTICS_CONNECT_TIMEOUT_SECONDS: float = Field(default=3, gt=0, le=10)
    LOGISTICS_READ_TIMEOUT_SECONDS: float = Field(default=5, gt=0, le=10)
    LOGISTICS_BUDGET_SECONDS: float = Field(default=8, gt=0, le=25, description="All attempts of one logistics call")


class PortalSettings(_Settings):
    """The tenant portal's one-time links and sessions (admin_api issues links, portal serves pages)."""

    PORTAL_LINK_SECONDS: int = Field(default=600, ge=30, le=86_400, description="How long a one-time login link works")
    PORTAL_SESSION_SECONDS: int = Field(
        default=1800, ge=1, le=43_200, description="How long a portal session lasts (fixed; page views do not extend it)"
    )


# --- what each function reads -----------------------------------------------------------------


class OrdersApiSettings(ApiSettings, WmsSettings, PricingSettings):
    """orders_api: orders, a synchronous WMS cancel, prices."""


class AdminApiSettings(ApiSettings, DeliverySettings, PortalSettings):
    """admin_api: a tenant's endpoints and deliveries, replays onto the delivery queue, portal links."""


class PortalFunctionSettings(ApiSettings, DeliverySettings, PortalSettings):
    """portal: the tenant portal's pages (orders, deliveries, endpoints, replays, test events)."""


class DispatcherSettings(WorkerSettings, DeliverySettings):
    """dispatcher: the outbox onto the WMS forward and delivery queues."""


class WmsForwarderSettings(WorkerSettings):
    """wms_forwarder: the forward queue into the tenants' WMS."""


class DeliveryWorkerSettings(DeliverySettings):
    """delivery_worker: the delivery queue to client endpoints."""


class WebhookIngestSettings(TablesSettings):
    """webhook_ingest: WMS and Shipper Logistics webhooks into the orders table."""


class StatusPollerSettings(TablesSettings, WmsSettings):
    """status_poller: every tenant's WMS list into the orders table."""


FUNCTION_SETTINGS: dict[str, type[_Settings]] = {
    "orders_api": OrdersApiSettings,
    "admin_api": AdminApiSettings,
    "portal": PortalFunctionSettings,
    "dispatcher": DispatcherSettings,
    "wms_forwarder": WmsForwarderSettings,
    "delivery_worker": DeliveryWorkerSettings,
    "webhook_ingest": WebhookIngestSettings,
    "status_poller": StatusPollerSettings,
}
"""Every function (its folder under functions/) and the settings it reads: one place for all of them."""


class SettingsError(RuntimeError):
    """The function's environment is missing a variable or holds a malformed one."""


def required_variables(function: str) -> set[str]:
    """The variables ``function`` cannot start without (no default)."""
    return {name for name, field in FUNCTION_SETTINGS[function].model_fields.items() if field.is_required()}


def known_variables(function: str) -> set[str]:
    return set(FUNCTION_SETTINGS[function].model_fields)


def require(function: str) -> None:
    """Validate ``function``'s whole environment (once per container: ``load`` caches it); raise
    ``SettingsError`` naming every missing or malformed variable."""
    from pydantic import ValidationError

    try:
        load(FUNCTION_SETTINGS[function])
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in error.errors())
        raise SettingsError(f"{function}: invalid environment: {problems}") from None
