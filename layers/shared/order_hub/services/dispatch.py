"""The outbox's consumer: what one committed order event sets in motion.

The outbox is the orders table's stream: each order write carries its change's event metadata and
the dispatcher rebuilds the event from the new image (no event item in the write's transaction).

- Event record: an event with deliveries is stored (``EVENT#<seq>``) before they are queued: the
  delivery worker renders it and replays send it again (the order moves on meanwhile).
- WMS forwarding: created/updated/cancelled orders go to the WMS forward queue.
- Callbacks: one delivery queue message per event, a ``DeliveryBundle`` of its matching client
  endpoints' deliveries (a plain ``DeliveryRef`` when there is one; ``MAX_BUNDLE`` per bundle). The
  delivery id is ``event_id.endpoint_id``, so a redelivered stream record cannot create a second
  delivery (the worker claims each delivery id once).

A stream batch is planned record by record (``plan_event``) and sent once, per queue, in
SendMessageBatch calls of up to 10 entries (``send_planned``): about two SQS requests per batch
instead of one per record and queue.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel

from order_hub.models.endpoints import Endpoint
from order_hub.models.messages import MAX_BUNDLE, DeliveryBundle, DeliveryRef, WmsForwardMessage
from order_hub.models.order import FORWARDING_EVENTS, OrderEvent
from order_hub.ports import MessageQueue
from order_hub.services.callback_delivery import plan_deliveries


@dataclass(frozen=True)
class Planned:
    """What one stream record sends: its WMS forward (if any) and its delivery queue messages."""

    forward: list[WmsForwardMessage] = field(default_factory=list)
    deliveries: list[BaseModel] = field(default_factory=list)
    count: int = 0  # deliveries (the bundles hold them)


def bundled(deliveries: Sequence[DeliveryRef]) -> list[BaseModel]:
    """One event's deliveries as queue messages: bundles of up to ``MAX_BUNDLE`` (one alone goes as itself)."""
    messages: list[BaseModel] = []
    for start in range(0, len(deliveries), MAX_BUNDLE):
        part = list(deliveries[start : start + MAX_BUNDLE])
        messages.append(part[0] if len(part) == 1 else DeliveryBundle(deliveries=part))
    return messages


def plan_event(
    event: OrderEvent,
    endpoints_for: Callable[[str], list[Endpoint]],
    allocate_message_ids: Callable[[str, int], int] | None = None,
    store_event: Callable[[OrderEvent], None] | None = None,
) -> Planned:
    """The event's WMS forward (if it changes what the WMS should hold) and its delivery messages.

    Stores the event record (before any of its messages is sent: the worker reads it). Raises when
    a read or write fails: the stream record is then retried (delivery ids make that safe)."""
    forward = (
        [
            WmsForwardMessage(
                tenant_id=event.tenant_id,
                warehouse_id=event.warehouse_id,
                order_no=event.order_no,
                seq=event.seq,
                event_id=event.event_id,
            )
        ]
        if event.type in FORWARDING_EVENTS
        else []
    )
    deliveries = plan_deliveries(event, endpoints_for(event.tenant_id), allocate_message_ids)
    if deliveries and store_event is not None:
        store_event(event)  # before the messages: the worker reads it
    return Planned(forward=forward, deliveries=bundled(deliveries), count=len(deliveries))


def send_planned(planned: Sequence[Planned | None], forward_queue: MessageQueue, delivery_queue: MessageQueue) -> int:
    """Send the batch's messages, per queue in record order, in as few requests as SQS allows
    (``None``: a record with nothing to send, or one that failed). Returns how many leading records
    had every message accepted (``len(planned)`` when all did): the first one that did not, and every
    record after it, must be retried; once a record is short, no later record's message is sent."""
    accepted = len(planned)
    for queue, messages_of in (
        (forward_queue, lambda p: p.forward),
        (delivery_queue, lambda p: p.deliveries),
    ):
        owners: list[int] = []
        messages: list[BaseModel] = []
        for n, plan in enumerate(planned[:accepted]):
            for message in messages_of(plan) if plan is not None else []:
                owners.append(n)
                messages.append(message)
        if not messages:
            continue
        sent = queue.send_accepted(messages)
        if sent < len(messages):
            accepted = owners[sent]
    return accepted
