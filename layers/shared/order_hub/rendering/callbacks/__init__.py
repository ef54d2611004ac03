"""Outbound callback formats: what each endpoint format sends for an order event, and how its
receiver's answer is judged. Pure functions (no I/O): the delivery adapter does HTTP and auth.

- ``emits(format, event)``: does the format send anything for this event (cheap; used by the dispatcher)
- ``render(endpoint, event, message_id=None)``: the request body (and path suffix, dedupe key); raises
  ``MissingField`` when a required value is in neither the order's extension fields nor the endpoint's
  settings, ``ValueError`` for an event the format does not send. ``message_id`` is the delivery's
  number from the endpoint's counter (Increff's ``messageId``; the other formats ignore it)
- ``judge(format, status_code, body)``: delivered, retry, or failed for good

What each format emits (details in each module's docstring):

- ``shipper``: ``order_confirmation`` when an event moves the order out of REGISTERED to anything
  but CANCELLED (the warehouse confirmed it); ``pgi`` on ``order.shipped``
- ``increff``: ``order.created`` -> OUTWARD_ORDER_CREATE; ``order.cancelled`` or
  ``order.status_changed`` to CANCELLED -> OUTWARD_ORDER_CANCEL (OUTWARD_ORDER_PARTIAL_CANCEL when
  some quantity shipped); ``order.partially_cancelled`` -> OUTWARD_ORDER_PARTIAL_CANCEL;
  ``order.shipped`` -> OUTWARD_ORDER_COMPLETE (OUTWARD_ORDER_SHIPMENT_DISPATCH
  while quantity is open); ``order.delivered`` -> OUTWARD_ORDER_SHIPMENT_DELIVER
- ``unicommerce``: ``dispatch`` on ``order.shipped``
- ``standard``: every event (logistics ones with ``data.logistics``, the raw logistics status)

``shipper`` and ``unicommerce`` send nothing for ``order.logistics_updated`` / ``order.delivered``.

The per-format modules are imported on first use (each is stdlib + the pydantic models only).
"""

from __future__ import annotations

from typing import Protocol

from order_hub.models.endpoints import Endpoint, EndpointFormat
from order_hub.models.order import OrderEvent
from order_hub.rendering.callbacks.base import MissingField, Rendered, Verdict

__all__ = ["MissingField", "Rendered", "Verdict", "emits", "judge", "render"]


class _Format(Protocol):
    def emits(self, event: OrderEvent) -> bool: ...

    def render(self, endpoint: Endpoint, event: OrderEvent, message_id: int | None = None) -> Rendered: ...

    def judge(self, status_code: int, body: str) -> Verdict: ...


def _format(fmt: EndpointFormat) -> _Format:
    if fmt == "shipper":
        from order_hub.rendering.callbacks import shipper

        return shipper
    if fmt == "increff":
        from order_hub.rendering.callbacks import increff

        return increff
    if fmt == "unicommerce":
        from order_hub.rendering.callbacks import unicommerce

        return unicommerce
    if fmt == "standard":
        from order_hub.rendering.callbacks import standard

        return standard
    raise ValueError(f"unknown callback format {fmt!r}")


def emits(format: EndpointFormat, event: OrderEvent) -> bool:
    return _format(format).emits(event)


def render(endpoint: Endpoint, event: OrderEvent, message_id: int | None = None) -> Rendered:
    return _format(endpoint.format).render(endpoint, event, message_id)


def judge(format: EndpointFormat, status_code: int, body: str) -> Verdict:
    return _format(format).judge(status_code, body)
