"""Every queue's message, as a model: whoever sends one and whoever reads it share its shape.

- ``WmsForwardQueue``: ``WmsForwardMessage`` (dispatcher -> wms_forwarder);
- ``DeliveryQueue``: ``DeliveryRef`` (dispatcher, replays, DLQ redrive -> delivery_worker);
- ``DeliveryDLQ``: ``DeadDelivery``, or ``UnreadableDelivery`` for a body that was not a ``DeliveryRef``.
"""

from pydantic import BaseModel, ConfigDict, Field

from order_hub.models.endpoints import DeliveryRef

__all__ = ["DeadDelivery", "DeliveryRef", "UnreadableDelivery", "WmsForwardMessage"]


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
