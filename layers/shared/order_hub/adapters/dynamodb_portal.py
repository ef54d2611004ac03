"""DynamoDB adapter of the tenant portal's one-time links and browser sessions (tenants table).

- link:    ``PORTAL#<tenant>`` / ``LINK#<sha256 of the token>``: ``expires_at`` (epoch seconds, the
  table's TTL attribute), ``used_at`` once opened. Opening is one conditional UpdateItem.
- session: ``PORTAL#<tenant>`` / ``SESSION#<sha256 of the cookie secret>``: ``expires_at`` (TTL),
  ``csrf``. Logout deletes it.

Writes: a link costs 1 PutItem, opening it 1 UpdateItem + 1 PutItem (the session), logout 1
DeleteItem; a page view reads the session once (GetItem) and writes nothing. TTL deletions are free.
Tokens are stored as digests only; the tenant is part of every key.
"""

from __future__ import annotations

from typing import Any

from order_hub.adapters.dynamodb import _DynamoAdapter
from order_hub.ports import PortalSession


def _key(tenant_id: str, kind: str, digest: str) -> dict[str, Any]:
    return {"pk": {"S": f"PORTAL#{tenant_id}"}, "sk": {"S": f"{kind}#{digest}"}}


class DynamoPortalStore(_DynamoAdapter):
    def put_link(self, tenant_id: str, token_hash: str, expires_at: int) -> None:
        self.client.put_item(
            TableName=self._table,
            Item={**_key(tenant_id, "LINK", token_hash), "expires_at": {"N": str(expires_at)}},
            ConditionExpression="attribute_not_exists(pk)",
        )

    def consume_link(self, tenant_id: str, token_hash: str, now: int) -> bool:
        try:
            self.client.update_item(
                TableName=self._table,
                Key=_key(tenant_id, "LINK", token_hash),
                UpdateExpression="SET used_at = :now",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(used_at) AND expires_at > :now",
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def put_session(self, session: PortalSession) -> None:
        self.client.put_item(
            TableName=self._table,
            Item={
                **_key(session.tenant_id, "SESSION", session.session_hash),
                "expires_at": {"N": str(session.expires_at)},
                "csrf": {"S": session.csrf_token},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    def get_session(self, tenant_id: str, session_hash: str) -> PortalSession | None:
        item = self.client.get_item(TableName=self._table, Key=_key(tenant_id, "SESSION", session_hash), ConsistentRead=True).get(
            "Item"
        )
        if not item:
            return None
        return PortalSession(
            tenant_id=tenant_id,
            session_hash=session_hash,
            csrf_token=item["csrf"]["S"],
            expires_at=int(item["expires_at"]["N"]),
        )

    def delete_session(self, tenant_id: str, session_hash: str) -> None:
        self.client.delete_item(TableName=self._table, Key=_key(tenant_id, "SESSION", session_hash))
