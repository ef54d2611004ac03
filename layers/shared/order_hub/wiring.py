"""Composition root: builds adapters and services from settings, once per container.

Everything is created on first use (never at import time) and cached; tests call ``reset()``.
"""

from __future__ import annotations

from functools import cache

from order_hub.adapters.aws import dynamodb_client
from order_hub.adapters.dynamodb import DynamoOrderRepository, DynamoTenantDirectory
from order_hub.config import ApiSettings, TablesSettings, load
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


def reset() -> None:
    """Forget every cached setting, client and service (tests, or after the environment changed)."""
    for cached in (order_repository, tenant_directory, authenticator, dynamodb_client, load):
        cached.cache_clear()
