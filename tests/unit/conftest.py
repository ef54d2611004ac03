from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pytest_socket import disable_socket, enable_socket

from order_hub.models.tenant import Tenant
from tests.fakes import InMemoryOrderRepository, InMemoryTenantDirectory


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    """Unit tests never touch a socket, not even loopback."""
    disable_socket()
    yield
    enable_socket()


@pytest.fixture
def repo() -> InMemoryOrderRepository:
    return InMemoryOrderRepository()


@pytest.fixture
def directory() -> InMemoryTenantDirectory:
    return InMemoryTenantDirectory()


@pytest.fixture
def tenant() -> Tenant:
    return Tenant(tenant_id="acme", name="Acme", warehouse_ids=["WH-TGR04", "WH-CGK09"], created_at=datetime.now(UTC))


@pytest.fixture
def other_tenant() -> Tenant:
    return Tenant(tenant_id="rival", name="Rival", warehouse_ids=["WH-TGR04"], created_at=datetime.now(UTC))
