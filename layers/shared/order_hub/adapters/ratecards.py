"""A tenant's own rate card: JSON in the tenants table, item ``pk=TENANT#<id>``, ``sk=RATECARD``, attribute ``doc``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from order_hub.adapters.aws import dynamodb_client

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SORT_KEY = "RATECARD"


class DynamoRateCardStore:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self._table = table_name
        self._client = client

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            self._client = dynamodb_client()
        return self._client

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
