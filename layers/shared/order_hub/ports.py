"""Ports: what the services need from the outside world. Adapters implement them
(DynamoDB in ``order_hub.adapters``), tests use in-memory fakes (``tests/fakes.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel

from order_hub.models.api import ListQuery
from order_hub.models.order import Order, OrderEvent
from order_hub.models.tenant import ApiKey, Tenant


class ListPage(BaseModel):
    items: list[dict[str, Any]]
    total: int


class OrderRepository(Protocol):
    def insert(self, order: Order, event: OrderEvent) -> Order | None:
        """Atomically store a new order with its first event.

        Returns ``None`` when stored, or the order already stored under the same key (nothing written).
        """

    def get(self, tenant_id: str, warehouse_id: str, order_no: str) -> Order | None:
        """Strongly consistent read of one order."""

    def replace(self, order: Order, expected_version: int, event: OrderEvent) -> None:
        """Atomically store ``order`` and ``event`` if the stored version is still ``expected_version``.

        Raises ``ConcurrentModification`` otherwise.
        """

    def list_page(self, tenant_id: str, query: ListQuery) -> ListPage:
        """One page of Shipper list items, newest first, plus the total number of matches (no scans)."""


class TenantDirectory(Protocol):
    def get_tenant(self, tenant_id: str) -> Tenant | None: ...

    def create_tenant(self, tenant: Tenant) -> None:
        """Store a new tenant; raises ``InvalidInput`` if the id is taken."""

    def save_tenant(self, tenant: Tenant) -> None: ...

    def find_key(self, key_hash: str) -> ApiKey | None: ...

    def put_key(self, key: ApiKey) -> None: ...

    def list_keys(self, tenant_id: str) -> list[ApiKey]: ...

    def revoke_key(self, tenant_id: str, key_id: str, at: datetime) -> ApiKey:
        """Mark a key revoked; raises ``InvalidInput`` for an unknown key."""
