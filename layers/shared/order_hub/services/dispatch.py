"""The outbox's consumer: what one committed order event sets in motion.

The outbox is the orders table's stream: each order write carries its change's event metadata and
the dispatcher rebuilds the event from the new image (no event item in the write's transaction).

- Event record: an event with deliveries is stored (``EVENT#<seq>``) before they are queued: the
  delivery worker renders it and replays send it again (the order moves on meanwhile). It carries
  the deliveries' chain, which links each delivery to the order's previous event at its endpoint
  (``prev_seq``, the worker's order gate) and numbers Increff's (``DeliveryChain``).
- WMS forwarding: created/updated/cancelled orders go to the WMS forward queue.
- Callbacks: the matching client endpoints' deliveries go to the delivery queue in bundles
  (``DeliveryBundle``, up to ``MAX_BUNDLE`` deliveries a message; a plain ``DeliveryRef`` when one is
  left): an event's deliveries together, the stream batch's events packed in order. The delivery id
  is ``event_id.endpoint_id``, so a redelivered stream record cannot create a second delivery (the
  worker records each delivery id once; a stream record seen again keeps its links and ids).

A stream batch is planned record by record (``plan_event``) and sent once, per queue, in
SendMessageBatch calls of up to 10 entries (``send_planned``): about two SQS requests per batch
instead of one per record and queue, and about one delivery message per 10 deliveries.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel

from order_hub.models.endpoints import Endpoint
from order_hub.models.messages import MAX_BUNDLE, DeliveryBundle, DeliveryRef, WmsForwardMessage
from order_hub.models.order import FORWARDING_EVENTS, OrderEvent
from order_hub.ports import MessageQueue
from order_hub.services.callback_delivery import DeliveryChain, plan_deliveries


@dataclass(frozen=True)
class Planned:
    """What one stream record sends: its WMS forward (if any) and its event's deliveries."""

    forward: list[WmsForwardMessage] = field(default_factory=list)
    deliveries: list[DeliveryRef] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.deliveries)


def as_message(deliveries: Sequence[DeliveryRef]) -> BaseModel:
    """Up to ``MAX_BUNDLE`` deliveries as one delivery queue message (one alone goes as itself)."""
    return deliveries[0] if len(deliveries) == 1 else DeliveryBundle(deliveries=list(deliveries))


def bundled(planned: Sequence[Planned | None]) -> tuple[list[BaseModel], list[int]]:
    """The records' deliveries as delivery queue messages, and the first record each message holds.

    Records are packed in order, each event's deliveries together, up to ``MAX_BUNDLE`` a message: a
    stream batch's events share messages (an order's events in one bundle go to the worker together,
    in ``seq`` order); an event with more deliveries than a bundle holds takes several on its own."""
    messages: list[BaseModel] = []
    owners: list[int] = []
    current: list[DeliveryRef] = []
    first = 0

    def flush() -> None:
        if current:
            messages.append(as_message(current))
            owners.append(first)
            current.clear()

    for n, plan in enumerate(planned):
        if plan is None or not plan.deliveries:
            continue
        if len(current) + len(plan.deliveries) > MAX_BUNDLE:
            flush()
        if len(plan.deliveries) > MAX_BUNDLE:
            for start in range(0, len(plan.deliveries), MAX_BUNDLE):
                messages.append(as_message(plan.deliveries[start : start + MAX_BUNDLE]))
                owners.append(n)
            continue
        if not current:
            first = n
        current.extend(plan.deliveries)
    flush()
    return messages, owners


def per_batch(endpoints_for: Callable[[str], list[Endpoint]]) -> Callable[[str], list[Endpoint]]:
    """``endpoints_for`` read once per tenant for one stream batch (a new one per invocation): the read
    is eventually consistent anyway, and a batch is planned within a second or two, so its events see
    the endpoints as the first of them did, and a change counts from the next batch."""
    return functools.cache(endpoints_for)


def plan_event(
    event: OrderEvent,
    endpoints_for: Callable[[str], list[Endpoint]],
    chain: DeliveryChain | None = None,
) -> Planned:
    """The event's WMS forward (if it changes what the WMS should hold) and its delivery messages.

    With ``chain``, stores the event record with its deliveries' chain (before any of its messages is
    sent: the worker reads it). Raises when a read or write fails: the stream record is then retried
    (delivery ids make that safe)."""
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
    deliveries = plan_deliveries(event, endpoints_for(event.tenant_id), chain)  # stored with its chain, if any
    return Planned(forward=forward, deliveries=deliveries)


def send_planned(planned: Sequence[Planned | None], forward_queue: MessageQueue, delivery_queue: MessageQueue) -> int:
    """Send the batch's messages, per queue in record order, in as few requests as SQS allows
    (``None``: a record with nothing to send, or one that failed). Returns how many leading records
    had every message accepted (``len(planned)`` when all did): the first one that did not, and every
    record after it, must be retried; once a record is short, no later record's message is sent."""
    accepted = len(planned)
    forwards = [(n, message) for n, plan in enumerate(planned) if plan is not None for message in plan.forward]
    if forwards:
        sent = forward_queue.send_accepted([message for _, message in forwards])
        if sent < len(forwards):
            accepted = forwards[sent][0]
    messages, owners = bundled(planned[:accepted])
    if messages:
        sent = delivery_queue.send_accepted(messages)
        if sent < len(messages):
            accepted = owners[sent]
    return accepted
