"""Where each tenant's secrets live (names only: values never travel in configuration or logs).

- ``hub/<tenant>/wms`` = {"base_url", "api_key"}: the tenant's WMS;
- ``hub/<tenant>/wms-webhook`` = {"hmac_secret"} and/or {"token"}: verifies WMS webhooks;
- ``hub/<tenant>/logistics`` = {"base_url", "api_key", "tracking_url"}: Shipper logistics (prices, tracking webhooks);
- ``hub/<tenant>/endpoint/<endpoint_id>``: a callback endpoint's credentials.
"""

from __future__ import annotations


def wms_secret_name(tenant_id: str) -> str:
    return f"hub/{tenant_id}/wms"


def webhook_secret_name(tenant_id: str) -> str:
    return f"hub/{tenant_id}/wms-webhook"


def logistics_secret_name(tenant_id: str) -> str:
    return f"hub/{tenant_id}/logistics"


def endpoint_secret_name(tenant_id: str, endpoint_id: str) -> str:
    return f"hub/{tenant_id}/endpoint/{endpoint_id}"
