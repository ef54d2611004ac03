"""dispatcher: reads order changes from the orders table stream (the outbox) and enqueues their work.

Each order version's item carries its change's event metadata; the event is rebuilt from the new
image (``wiring.outbox().event_of``) and stored for the delivery worker when it has deliveries.

- WMS forwarding: created/updated/cancelled orders go to the WMS forward queue.
- Callbacks: the matching client endpoints' deliveries go to the delivery queue in bundles of up
  to 10 (an event's together, the batch's events packed in order). The delivery id is ``event_id.endpoint_id``, so a
  redelivered stream record cannot create a second delivery (the worker records each delivery id once;
  a stream record seen again keeps its links and ids).

Stream records are filtered to order items (created or changed) by the event source mapping (template.yaml).
The batch's records are planned one by one, then their messages are sent per queue in SendMessageBatch
calls of up to 10 entries. A record that cannot be planned is reported as a batch item failure; so is
a record whose messages a queue did not accept, with every record after it (Lambda retries the shard
from the first reported record; the consumers take the duplicates).
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
from order_hub.services.dispatch import Planned, per_batch, plan_event, send_planned

processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)


@traced
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    require("dispatcher")  # first invocation: a missing or malformed variable fails here, named
    wiring.delivery_chain().new_batch()  # the chain remembers an order's previous event within one batch only
    records: list[dict[str, Any]] = list(event.get("Records") or [])
    position = {id(record): n for n, record in enumerate(records)}  # the handler gets each record's own dict
    planned: dict[int, Planned] = {}
    endpoints_for = per_batch(wiring.endpoint_registry().list_endpoints)  # once per tenant and batch

    def plan_record(record: DynamoDBRecord) -> None:
        outbox = wiring.outbox()
        order_event = outbox.event_of(record["dynamodb"].get("NewImage") or {})
        if order_event is None:
            return
        logger.append_keys(tenant_id=order_event.tenant_id, order_no=order_event.order_no, event_id=order_event.event_id)
        plan = plan_event(
            order_event,
            endpoints_for,
            wiring.delivery_chain(),  # stores the event with its deliveries' chain
        )
        planned[position[id(record.raw_event)]] = plan
        logger.info("event planned", extra={"event_type": order_event.type, "seq": order_event.seq, "deliveries": plan.count})

    response = process_partial_response(event=event, record_handler=plan_record, processor=processor, context=context)
    logger.remove_keys(["tenant_id", "order_no", "event_id"])
    sequence = [str(record["dynamodb"]["SequenceNumber"]) for record in records]
    plans = [planned.get(n) for n in range(len(records))]
    accepted = send_planned(plans, wiring.wms_forward_queue(), wiring.delivery_queue())
    failed = {item["itemIdentifier"] for item in response["batchItemFailures"]} | set(sequence[accepted:])
    sent = [plan for plan in plans[:accepted] if plan is not None]
    if forwards := sum(len(plan.forward) for plan in sent):
        metrics.add_metric(name="WmsForwardsEnqueued", unit="Count", value=forwards)
    if deliveries := sum(plan.count for plan in sent):
        metrics.add_metric(name="DeliveriesEnqueued", unit="Count", value=deliveries)
    logger.info(
        "batch dispatched",
        extra={"records": len(sequence), "events": len(sent), "deliveries": deliveries, "failed": len(failed)},
    )
    if accepted < len(sequence):
        logger.warning("a queue did not accept the batch's messages", extra={"first_retried": sequence[accepted]})
    return {"batchItemFailures": [{"itemIdentifier": number} for number in sequence if number in failed]}
