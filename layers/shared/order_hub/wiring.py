"""Composition root: builds adapters and services from settings, once per container.

Everything is created on first use (never at import time) and cached; tests call ``reset()``.
"""

from __future__ import annotations

from functools import cache

from order_hub.adapters.aws import dynamodb_client
from order_hub.adapters.dynamodb import DynamoOrderRepository, DynamoTenantDirectory
from order_hub.adapters.queues import sqs_client
from order_hub.adapters.secrets import SecretsWmsDirectory, http_session
from order_hub.config import ApiSettings, TablesSettings, WmsSettings, load
from order_hub.services.auth import Authenticator


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
        dynamodb_client,
        sqs_client,
        http_session,
        load,
    ):
        cached.cache_clear()
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
