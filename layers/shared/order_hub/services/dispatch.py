"""The outbox's consumer: what one committed order event sets in motion.

The outbox is the orders table's stream: each order write carries its change's event metadata and
the dispatcher rebuilds the event from the new image (no event item in the write's transaction).

- Event record: an event with deliveries is stored (``EVENT#<seq>``) before they are queued: the
  delivery worker renders it and replays send it again (the order moves on meanwhile). It carries
  the deliveries' chain, which links each delivery to the order's previous event at its endpoint
  (``prev_seq``, the worker's order gate) and numbers Increff's (``DeliveryChain``).
- WMS forwarding: created/updated/cancelled orders go to the WMS forward queue.
- Callbacks: one delivery message per matching client endpoint goes to the delivery queue. The
  delivery id is ``event_id.endpoint_id``, so a redelivered stream record cannot create a second
  delivery (the worker records each delivery id once; a stream record seen again keeps its links and ids).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from order_hub.models.endpoints import Endpoint
from order_hub.models.messages import WmsForwardMessage
from order_hub.models.order import FORWARDING_EVENTS, OrderEvent
from order_hub.ports import MessageQueue
from order_hub.services.callback_delivery import DeliveryChain, plan_deliveries


@dataclass(frozen=True)
class Dispatched:
    forwarded: bool
    deliveries: int


def dispatch_event(
    event: OrderEvent,
    forward_queue: MessageQueue,
    delivery_queue: MessageQueue,
    endpoints_for: Callable[[str], list[Endpoint]],
    chain: DeliveryChain | None = None,
) -> Dispatched:
    """Queue the event's WMS forward (if it changes what the WMS should hold) and its deliveries.

    Raises when a queue refuses a message: the stream record is then retried (delivery ids make that safe).
    """
    forwarded = event.type in FORWARDING_EVENTS
    if forwarded:
        forward_queue.send(
            [
                WmsForwardMessage(
                    tenant_id=event.tenant_id,
                    warehouse_id=event.warehouse_id,
                    order_no=event.order_no,
                    seq=event.seq,
                    event_id=event.event_id,
                )
            ]
        )
    deliveries = plan_deliveries(event, endpoints_for(event.tenant_id), chain)  # stored with its chain, if any
    if deliveries:
        delivery_queue.send(deliveries)
    return Dispatched(forwarded=forwarded, deliveries=len(deliveries))
