"""Settings read from the environment, validated by pydantic, loaded lazily and cached.

Call ``load(Model)`` inside a handler or adapter factory, never at import time.
Tests change the environment with ``monkeypatch`` and call ``order_hub.lifecycle.reset()``.
"""

import os
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from order_hub.lifecycle import per_container


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)


class TablesSettings(_Settings):
    ORDERS_TABLE_NAME: str = Field(min_length=1)
    TENANTS_TABLE_NAME: str = Field(min_length=1)


class ApiSettings(TablesSettings):
    HUB_ENV: Literal["local", "dev", "prod"] = "prod"
    AUTH_CACHE_TTL_SECONDS: int = Field(default=60, ge=0, le=900)
    LIST_MAX_LIMIT: int = Field(default=100, ge=1, le=1000)


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

    HUB_ENV: Literal["local", "dev", "prod"] = "prod"
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
    ENDPOINT_CACHE_TTL_SECONDS: int = Field(default=30, ge=0, le=900)

    @property
    def retry_schedule(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.DELIVERY_RETRY_SCHEDULE.split(","))

    @property
    def max_attempts(self) -> int:
        return len(self.retry_schedule) + 1

    @property
    def local(self) -> bool:
        return self.HUB_ENV == "local"


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
