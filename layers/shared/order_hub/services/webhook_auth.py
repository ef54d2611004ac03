"""Who may send a webhook: checked before anything parses it, over the exact bytes received.

- Shipper Logistics tracking webhooks: the ``auth`` digest in the body against ``hub/<tenant>/logistics``;
- every other webhook (WMS order confirmation and PGI, Logistics AWB created): signature or token
  against ``hub/<tenant>/wms-webhook``.
"""

from __future__ import annotations

from collections.abc import Mapping

from order_hub.edge import loads
from order_hub.errors import InvalidInput
from order_hub.ports import SecretReader
from order_hub.secret_names import logistics_secret_name, webhook_secret_name
from order_hub.services.logistics import verify_logistics_auth
from order_hub.services.webhooks import verify_webhook


def offered_auth(body: bytes) -> object:
    """The ``auth`` field of a tracking body (only that is read before authentication)."""
    try:
        parsed = loads(body)  # depth, digits and UTF-8 checked first: an unauthenticated body cannot crash the parser
    except InvalidInput:
        return None
    return parsed.get("auth") if isinstance(parsed, dict) else None


def authenticate_webhook(
    tenant_id: str, tracking: bool, headers: Mapping[str, str], body: bytes, read_secret: SecretReader, now: float
) -> None:
    """Raise ``Unauthorized`` unless the tenant's secret vouches for this webhook."""
    if tracking:
        verify_logistics_auth(read_secret(logistics_secret_name(tenant_id)) if tenant_id else None, offered_auth(body))
    else:
        verify_webhook(read_secret(webhook_secret_name(tenant_id)) if tenant_id else None, headers, body, now)
