"""Every queue's message, as a model: whoever sends one and whoever reads it share its shape.

- ``WmsForwardQueue``: ``WmsForwardMessage`` (dispatcher -> wms_forwarder);
- ``DeliveryQueue``: ``DeliveryBundle`` (dispatcher: up to ``MAX_BUNDLE`` deliveries of a stream
  batch's events, an event's together; the worker: a retry due in more than 900 s) or ``DeliveryRef`` (one delivery: the
  worker's retries and deferrals, replays, DLQ redrive) -> delivery_worker, which reads both
  (``read_delivery_message``);
- ``DeliveryDLQ``: ``DeadDelivery``, or ``UnreadableDelivery`` for a body that was neither (SQS's
  own redrive, after ``maxReceiveCount`` receives, may leave a ``DeliveryBundle`` there too).
"""

import json
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from order_hub.models.endpoints import DeliveryRef

__all__ = [
    "MAX_BUNDLE",
    "DeadDelivery",
    "DeliveryBundle",
    "DeliveryRef",
    "UnreadableDelivery",
    "WmsForwardMessage",
    "read_delivery_message",
]

MAX_BUNDLE = 10
"""Deliveries per bundle: an event with more endpoints goes out as several bundles (a batch of 10
messages then holds at most 100 deliveries, and a bundle stays far below SQS's 256 KB)."""


class WmsForwardMessage(BaseModel):
    """Bring this order's WMS copy in line with the hub (the event that asked for it, for the logs)."""

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    tenant_id: str = Field(min_length=1)
    warehouse_id: str = Field(min_length=1)
    order_no: str = Field(min_length=1)
    seq: int
    event_id: str


class DeadDelivery(DeliveryRef):
    """A delivery that failed for good (``hub-admin deliveries redrive-dlq`` reads it as a ``DeliveryRef``)."""

    dead_reason: str = Field(max_length=1000)


class UnreadableDelivery(BaseModel):
    """A delivery queue message that was not a ``DeliveryRef``, kept for a person to look at."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    raw_body: str = Field(max_length=200_000)
    dead_reason: str = Field(max_length=1000)


class DeliveryBundle(BaseModel):
    """One delivery queue message for several deliveries (of one or more events): the worker
    attempts each on its own; deliveries that must be attempted again leave as single ``DeliveryRef``
    messages and the bundle is acknowledged. ``due_at``: not attempted before then (a retry or a
    deferral longer than SQS's 900 s ``DelaySeconds``; the worker waits out the rest)."""

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    deliveries: list[DeliveryRef] = Field(min_length=1, max_length=MAX_BUNDLE)
    due_at: datetime | None = None


def read_delivery_message(body: str) -> DeliveryBundle | DeliveryRef:
    """A delivery queue message in either shape; ``ValueError`` (pydantic's ``ValidationError`` among
    them) when it is neither."""
    data = json.loads(body)
    if isinstance(data, dict) and "deliveries" in data:
        return DeliveryBundle.model_validate(data)
    return DeliveryRef.model_validate(data)
