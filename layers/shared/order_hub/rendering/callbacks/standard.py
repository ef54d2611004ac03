"""``standard`` format: a generic JSON event signed per Standard Webhooks (https://www.standardwebhooks.com).

Every hub event is sent. Body::

    {"type": "<event type>", "timestamp": "<event time, ISO 8601 UTC>",
     "data": {"event_id", "seq", "source", "previous_status", "tenant_id", "warehouse_id",
              "order_no", "status", "order": <the OMS detail view>}}

Logistics events (``order.logistics_updated``, ``order.delivered``, and any event a logistics webhook
caused) add ``data.logistics``: the raw Shipper Logistics status of the webhook (``external_status``
{code, name, description}, ``status_date``) with the canonical ``state``, ``applied``, ``note``,
``tracking_id``, ``awb`` and ``shipment_code``.

``data.order`` is exactly the ``data`` of the hub's OMS detail response
(``GET .../outbound/oms/{order_no}``, i.e. ``{"outbound": {...}}``), so a client reads one shape
from the API and from its webhooks. ``timestamp`` has milliseconds and a ``Z``.

``kind`` is the event type; ``dedupe_key`` is the event id. The sender sets the ``webhook-id``
header itself (the delivery id) and signs with ``sign``: ``webhook-signature`` =
``v1,<base64 HMAC-SHA256(key, "<msg_id>.<timestamp>.<body>")>``, where the key is the
base64-decoded part of the ``whsec_`` secret. ``new_secret`` makes a ``whsec_`` secret of 32 random
bytes.

Receiver answers (design §4): 2xx -> delivered; 410 -> failed ("gone": the worker disables the
endpoint); 3xx -> failed (redirects are not followed); other 4xx except 408, 409, 425 and 429 ->
failed; anything else (408/409/425/429, 5xx, 1xx) -> retry.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from order_hub.models.endpoints import Endpoint
from order_hub.models.order import LOGISTICS_EVENTS, OrderEvent
from order_hub.rendering.api_views import oms_detail
from order_hub.rendering.callbacks.base import Rendered, Verdict, number
from order_hub.standard_webhooks import SECRET_PREFIX, new_secret, sign

__all__ = ["SECRET_PREFIX", "emits", "judge", "new_secret", "render", "sign"]

RETRYABLE_4XX = frozenset({408, 409, 425, 429})


def emits(event: OrderEvent) -> bool:
    return True


def render(endpoint: Endpoint, event: OrderEvent, message_id: int | None = None) -> Rendered:
    """``message_id`` is Increff's; unused here."""
    order = event.order
    at = event.at.astimezone(UTC)
    body: dict[str, Any] = {
        "type": event.type,
        "timestamp": _iso(at),
        "data": {
            "event_id": event.event_id,
            "seq": event.seq,
            "source": event.source,
            "previous_status": event.previous_status.value if event.previous_status is not None else None,
            "tenant_id": event.tenant_id,
            "warehouse_id": event.warehouse_id,
            "order_no": event.order_no,
            "status": order.status.value,
            "order": _plain(oms_detail(order)),
        },
    }
    logistics = _logistics(event)
    if logistics is not None:
        body["data"]["logistics"] = logistics
    return Rendered(body=body, kind=event.type, dedupe_key=event.event_id)


LOGISTICS_SOURCE = "logistics_webhook"


def _logistics(event: OrderEvent) -> dict[str, Any] | None:
    """The raw logistics status behind a logistics event: the order's newest logistics fact."""
    if event.type not in LOGISTICS_EVENTS and event.source != LOGISTICS_SOURCE:
        return None
    facts = event.order.logistics
    if not facts:
        return None
    fact = facts[-1]
    return {
        "kind": fact.kind,
        "external_status": {"code": fact.code, "name": fact.name, "description": fact.description},
        "status_date": _iso(fact.status_date) if fact.status_date is not None else None,
        "state": fact.state or None,
        "applied": fact.applied,
        "note": fact.note,
        "tracking_id": fact.tracking_id,
        "awb": fact.awb,
        "shipment_code": fact.shipment_code,
    }


def _iso(value: datetime) -> str:
    at = value.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _plain(value: Any) -> Any:
    """The detail view holds ``Decimal`` amounts: JSON numbers instead (``json.dumps`` refuses Decimal)."""
    if isinstance(value, Decimal):
        return number(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def judge(status_code: int, body: str) -> Verdict:
    snippet = " ".join(body.split())[:200]
    detail = f"HTTP {status_code}: {snippet}" if snippet else f"HTTP {status_code}"
    if 200 <= status_code < 300:
        return Verdict("delivered", f"HTTP {status_code}")
    if status_code == 410:
        return Verdict("failed", f"gone ({detail}): the receiver asked to stop sending")
    if 300 <= status_code < 400:
        return Verdict("failed", f"redirect not followed ({detail})")
    if 400 <= status_code < 500 and status_code not in RETRYABLE_4XX:
        return Verdict("failed", detail)
    return Verdict("retry", detail)
