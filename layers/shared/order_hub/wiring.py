"""Composition root: builds adapters and services from settings, once per container.

Everything is created on first use (never at import time) and cached; tests call ``reset()``.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from order_hub.adapters.aws import dynamodb_client
from order_hub.adapters.dynamodb import DynamoOrderRepository, DynamoTenantDirectory
from order_hub.adapters.queues import sqs_client
from order_hub.adapters.secrets import SecretsWmsDirectory, http_session, secrets_client, secrets_provider
from order_hub.config import ApiSettings, DeliverySettings, TablesSettings, WmsSettings, load
from order_hub.services.auth import Authenticator

if TYPE_CHECKING:  # the delivery side is imported on first use: the order API never loads it
    from collections.abc import Callable

    from order_hub.adapters.callbacks_http import HttpCallbackSender
    from order_hub.adapters.deliveries import DynamoDeliveryLog, DynamoEndpointRegistry, DynamoEventStore
    from order_hub.adapters.net_guard import UrlPolicy
    from order_hub.services.endpoints import SecretWriter


@cache
def order_repository() -> DynamoOrderRepository:
    return DynamoOrderRepository(load(TablesSettings).ORDERS_TABLE_NAME)


@cache
def tenant_directory() -> DynamoTenantDirectory:
    return DynamoTenantDirectory(load(TablesSettings).TENANTS_TABLE_NAME)


@cache
def authenticator() -> Authenticator:
    return Authenticator(tenant_directory(), ttl_seconds=load(ApiSettings).AUTH_CACHE_TTL_SECONDS)


@cache
def wms_directory() -> SecretsWmsDirectory:
    return SecretsWmsDirectory(timeout=load(WmsSettings).WMS_TIMEOUT_SECONDS)


def reset() -> None:
    """Forget every cached setting, client and service (tests, or after the environment changed)."""
    for cached in (
        order_repository,
        tenant_directory,
        authenticator,
        wms_directory,
        endpoint_registry,
        event_store,
        delivery_log,
        callback_sender,
        secrets_provider,
        secrets_client,
        dynamodb_client,
        sqs_client,
        http_session,
        load,
    ):
        cached.cache_clear()


@cache
def endpoint_registry() -> DynamoEndpointRegistry:
    from order_hub.adapters.deliveries import DynamoEndpointRegistry

    return DynamoEndpointRegistry(load(TablesSettings).TENANTS_TABLE_NAME)


@cache
def event_store() -> DynamoEventStore:
    from order_hub.adapters.deliveries import DynamoEventStore

    return DynamoEventStore(load(TablesSettings).ORDERS_TABLE_NAME)


@cache
def delivery_log() -> DynamoDeliveryLog:
    from order_hub.adapters.deliveries import DynamoDeliveryLog

    return DynamoDeliveryLog(load(DeliverySettings).DELIVERIES_TABLE_NAME)


def url_policy() -> UrlPolicy:
    """https only and no loopback, except in the local stack (its demo receiver is on 127.0.0.1)."""
    from order_hub.adapters.net_guard import UrlPolicy

    local = load(DeliverySettings).local
    return UrlPolicy(allow_http=local, allow_loopback=local)


def endpoint_ports(
    write_secret: SecretWriter | None = None,
) -> tuple[DynamoTenantDirectory, DynamoEndpointRegistry, SecretWriter, Callable[[str, str], str], UrlPolicy]:
    """What ``services.endpoints.register_endpoint`` takes first, as this container has them:
    ``register_endpoint(*wiring.endpoint_ports(), tenant_id=..., ...)``. Endpoint secrets go to
    Secrets Manager, or to ``write_secret`` (the local stack seeds its own moto server)."""
    from order_hub.adapters import secrets

    return (
        tenant_directory(),
        endpoint_registry(),
        write_secret or secrets.write_secret,
        secrets.endpoint_secret_name,
        url_policy(),
    )


@cache
def callback_sender() -> HttpCallbackSender:
    from order_hub.adapters.callbacks_http import HttpCallbackSender

    return HttpCallbackSender(url_policy(), timeout_cap=load(DeliverySettings).CALLBACK_TIMEOUT_SECONDS)
