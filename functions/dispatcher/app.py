"""dispatcher: reads order changes from the orders table stream (the outbox) and enqueues their work.

Each order version's item carries its change's event metadata; the event is rebuilt from the new
image (``wiring.outbox().event_of``) and stored for the delivery worker when it has deliveries.

- WMS forwarding: created/updated/cancelled orders go to the WMS forward queue.
- Callbacks: one delivery message per matching client endpoint goes to the delivery queue. The
  delivery id is ``event_id.endpoint_id``, so a redelivered stream record cannot create a second
  delivery (the worker records each delivery id once; a stream record seen again keeps its links and ids).

Stream records are filtered to order items (created or changed) by the event source mapping (template.yaml).
A record that cannot be enqueued is reported as a batch item failure and retried by Lambda.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from order_hub import wiring
from order_hub.config import require
from order_hub.observability import logger, metrics, traced
from order_hub.services.dispatch import dispatch_event

processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)


def handle_record(record: DynamoDBRecord) -> None:
    outbox = wiring.outbox()
    event = outbox.event_of(record["dynamodb"].get("NewImage") or {})
    if event is None:
        return
    logger.append_keys(tenant_id=event.tenant_id, order_no=event.order_no, event_id=event.event_id)
    done = dispatch_event(
        event,
        wiring.wms_forward_queue(),
        wiring.delivery_queue(),
        wiring.endpoint_registry().list_endpoints,  # read at plan time: no cache window
        wiring.delivery_chain(),  # stores the event with its deliveries' chain
    )
    if done.forwarded:
        metrics.add_metric(name="WmsForwardsEnqueued", unit="Count", value=1)
    if done.deliveries:
        metrics.add_metric(name="DeliveriesEnqueued", unit="Count", value=done.deliveries)
    logger.info("event dispatched", extra={"event_type": event.type, "seq": event.seq, "deliveries": done.deliveries})


@traced
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    require("dispatcher")  # first invocation: a missing or malformed variable fails here, named
    wiring.delivery_chain().new_batch()  # the chain remembers an order's previous event within one batch only
    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
