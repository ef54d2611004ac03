"""Composition root: the only module that knows the adapters. It builds them and the services
from settings, once per container, and hands services their ports.

Everything is created on first use (never at import time) and cached with ``@per_container``;
``reset()`` forgets every such value, wherever it was declared (``order_hub.lifecycle``).
The delivery side and pricing are imported on first use only: the order API never loads them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from order_hub import lifecycle
from order_hub.config import ApiSettings, DeliverySettings, TablesSettings, WmsSettings, WorkerSettings, load
from order_hub.lifecycle import per_container

if TYPE_CHECKING:
    from order_hub.adapters.callbacks_http import HttpCallbackSender
    from order_hub.adapters.dynamodb import DynamoOrderRepository, DynamoOutbox, DynamoTenantDirectory
    from order_hub.adapters.dynamodb_deliveries import DynamoDeliveryLog, DynamoEndpointRegistry, DynamoEventStore
    from order_hub.adapters.dynamodb_portal import DynamoPortalStore
    from order_hub.adapters.net_guard import UrlPolicy
    from order_hub.adapters.queues import SqsQueue
    from order_hub.adapters.secrets import SecretsWmsDirectory
    from order_hub.ports import SecretReader, SecretWriter
    from order_hub.services.auth import Authenticator
    from order_hub.services.callback_delivery import DeliveryChain, Worker
    from order_hub.services.endpoints import EndpointPorts
    from order_hub.services.pricing import PricingService
    from order_hub.services.request_limits import TenantRequestLimiter


def reset() -> None:
    """Forget every cached setting, client, adapter and service (tests, or after the environment changed)."""
    lifecycle.reset()


# --- orders and tenants -----------------------------------------------------------------------


@per_container
def order_repository() -> DynamoOrderRepository:
    from order_hub.adapters.dynamodb import DynamoOrderRepository
    from order_hub.services.orders import list_view

    return DynamoOrderRepository(load(TablesSettings).ORDERS_TABLE_NAME, list_view=list_view)


@per_container
def tenant_directory() -> DynamoTenantDirectory:
    from order_hub.adapters.dynamodb import DynamoTenantDirectory

    return DynamoTenantDirectory(load(TablesSettings).TENANTS_TABLE_NAME)


@per_container
def request_limiter() -> TenantRequestLimiter:
    """The per-tenant request limit of the APIs: counted in this container, added to the shared counter in batches."""
    from order_hub.services.request_limits import TenantRequestLimiter

    return TenantRequestLimiter(tenant_directory(), load(ApiSettings).TENANT_RATE_LIMIT_PER_SECOND)


@per_container
def authenticator() -> Authenticator:
    from order_hub.services.auth import Authenticator

    return Authenticator(tenant_directory(), ttl_seconds=load(ApiSettings).AUTH_CACHE_TTL_SECONDS)


@per_container
def portal_store() -> DynamoPortalStore:
    from order_hub.adapters.dynamodb_portal import DynamoPortalStore

    return DynamoPortalStore(load(TablesSettings).TENANTS_TABLE_NAME)


@per_container
def wms_directory() -> SecretsWmsDirectory:
    from order_hub.adapters.secrets import SecretsWmsDirectory

    return SecretsWmsDirectory(timeout=load(WmsSettings).WMS_TIMEOUT_SECONDS)


def secret_reader() -> SecretReader:
    from order_hub.adapters.secrets import read_secret

    return read_secret


def secret_writer() -> SecretWriter:
    from order_hub.adapters.secrets import write_secret

    return write_secret


# --- queues -----------------------------------------------------------------------------------


@per_container
def wms_forward_queue() -> SqsQueue:
    from order_hub.adapters.queues import SqsQueue

    return SqsQueue(load(WorkerSettings).WMS_FORWARD_QUEUE_URL)


@per_container
def delivery_queue() -> SqsQueue:
    from order_hub.adapters.queues import SqsQueue

    return SqsQueue(load(DeliverySettings).DELIVERY_QUEUE_URL)


@per_container
def delivery_dlq() -> SqsQueue:
    from order_hub.adapters.queues import SqsQueue

    return SqsQueue(load(DeliverySettings).DELIVERY_DLQ_URL)


# --- callback delivery ------------------------------------------------------------------------


@per_container
def endpoint_registry() -> DynamoEndpointRegistry:
    from order_hub.adapters.dynamodb_deliveries import DynamoEndpointRegistry

    return DynamoEndpointRegistry(load(TablesSettings).TENANTS_TABLE_NAME)


@per_container
def outbox() -> DynamoOutbox:
    from order_hub.adapters.dynamodb import DynamoOutbox

    return DynamoOutbox(load(TablesSettings).ORDERS_TABLE_NAME)


@per_container
def delivery_chain() -> DeliveryChain:
    """The dispatcher's links between an order's deliveries; Increff message ids in blocks per container."""
    from order_hub.services.callback_delivery import DeliveryChain, MessageIds

    return DeliveryChain(outbox(), MessageIds(delivery_log().allocate_message_ids))


@per_container
def event_store() -> DynamoEventStore:
    from order_hub.adapters.dynamodb_deliveries import DynamoEventStore

    return DynamoEventStore(load(TablesSettings).ORDERS_TABLE_NAME)


@per_container
def delivery_log() -> DynamoDeliveryLog:
    from order_hub.adapters.dynamodb_deliveries import DynamoDeliveryLog

    return DynamoDeliveryLog(load(DeliverySettings).DELIVERIES_TABLE_NAME)


def url_policy() -> UrlPolicy:
    """https only and no loopback, except in the local stack (its demo receiver is on 127.0.0.1)."""
    from order_hub.adapters.net_guard import UrlPolicy

    local = load(DeliverySettings).local
    return UrlPolicy(allow_http=local, allow_loopback=local)


def endpoint_ports(write_secret: SecretWriter | None = None) -> EndpointPorts:
    """What ``services.endpoints.register_endpoint`` needs, as this container has them. Endpoint
    secrets go to Secrets Manager, or to ``write_secret`` (the local stack seeds its own moto server)."""
    from order_hub.secret_names import endpoint_secret_name
    from order_hub.services.endpoints import EndpointPorts

    return EndpointPorts(
        tenants=tenant_directory(),
        registry=endpoint_registry(),
        write_secret=write_secret or secret_writer(),
        secret_name_for=endpoint_secret_name,
        url_guard=url_policy(),
    )


@per_container
def callback_sender() -> HttpCallbackSender:
    from order_hub.adapters.callbacks_http import HttpCallbackSender

    return HttpCallbackSender(url_policy(), timeout_cap=load(DeliverySettings).CALLBACK_TIMEOUT_SECONDS)


@per_container
def callback_worker() -> Worker:
    """What one delivery attempt needs: the log, the sender, the endpoints, the retry schedule."""
    from functools import partial

    from order_hub.services.callback_delivery import Worker
    from order_hub.services.endpoints import disable_endpoint

    settings = load(DeliverySettings)
    return Worker(
        log=delivery_log(),
        sender=callback_sender(),
        endpoint_of=endpoint_registry().get_endpoint,  # read before every attempt: an edit or a disable counts within a second
        disable_endpoint=partial(disable_endpoint, endpoint_registry()),
        retry_schedule=settings.retry_schedule,
        timeout_cap=settings.CALLBACK_TIMEOUT_SECONDS,
    )


# --- domestic shipping prices -----------------------------------------------------------------


@per_container
def pricing_service() -> PricingService:
    """The container's pricing service, its cache and its tenants' provider choices."""
    from order_hub.adapters.logistics_http import ShipperLogisticsPricing
    from order_hub.adapters.ratecards import DynamoRateCardStore
    from order_hub.adapters.secrets import http_session, read_secret
    from order_hub.config import PricingSettings
    from order_hub.ports import LogisticsPricing
    from order_hub.services.pricing import PricingCache, PricingService, ProviderDirectory

    settings = load(PricingSettings)

    def http_provider(base_url: str, api_key: str) -> LogisticsPricing:
        return ShipperLogisticsPricing(
            base_url,
            api_key,
            http_session(),
            connect_timeout=settings.LOGISTICS_CONNECT_TIMEOUT_SECONDS,
            read_timeout=settings.LOGISTICS_READ_TIMEOUT_SECONDS,
            budget=settings.LOGISTICS_BUDGET_SECONDS,
        )

    directory = ProviderDirectory(
        read_secret, DynamoRateCardStore(settings.TENANTS_TABLE_NAME), http_provider, ttl=settings.PRICING_CONFIG_TTL_SECONDS
    )
    return PricingService(
        directory.provider_for, PricingCache(settings.PRICING_CACHE_TTL_SECONDS, settings.PRICING_CACHE_MAX_ENTRIES)
    )
