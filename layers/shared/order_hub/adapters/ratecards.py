"""A tenant's own rate card: JSON in the tenants table, item ``pk=TENANT#<id>``, ``sk=RATECARD``, attribute ``doc``."""

from __future__ import annotations

import json
from typing import Any

from order_hub.adapters.dynamodb import _DynamoAdapter

SORT_KEY = "RATECARD"


class DynamoRateCardStore(_DynamoAdapter):
    def _key(self, tenant_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"TENANT#{tenant_id}"}, "sk": {"S": SORT_KEY}}

    def get_rate_card(self, tenant_id: str) -> dict[str, Any] | None:
        item = self.client.get_item(TableName=self._table, Key=self._key(tenant_id)).get("Item")
        if not item or "doc" not in item:
            return None
        value = json.loads(item["doc"]["S"])
        return value if isinstance(value, dict) else {"invalid": value}

    def put_rate_card(self, tenant_id: str, card: dict[str, Any]) -> None:
        """Store (replace) the tenant's card; validate it with ``RateCard`` first (admin paths, tests)."""
        self.client.put_item(TableName=self._table, Item={**self._key(tenant_id), "doc": {"S": json.dumps(card)}})
