"""delivery_worker: delivers queued callbacks to client endpoints, each in its format.

A message is a bundle of up to 10 deliveries (from the dispatcher: events of one stream batch) or
one delivery (a retry, a deferral, a replay). The batch's requests go out concurrently (one thread per endpoint and order,
so one slow endpoint holds up nobody else, and each order's events keep their order). Each delivery
is settled as its own attempt ends: failed attempts come back after the retry schedule's delay (SQS
visibility, not sleeps; a bundle's failed delivery is sent again alone with that delay), deferrals
are sent again with a delay; deliveries that fail for good go to the delivery DLQ, from where
``hub-admin deliveries redrive-dlq`` or a replay sends them again.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from order_hub import wiring
from order_hub.config import DeliverySettings, load, require
from order_hub.observability import logger, metrics, traced
from order_hub.services.callback_delivery import Received, Settled, deliver_batch

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

_METRIC = {
    "delivered": "DeliverySucceeded",
    "retry": "DeliveryRetried",
    "failed": "DeliveryFailed",
    "deferred": "DeliveryDeferred",
    "duplicate": "DeliveryDuplicates",
    "skipped": "DeliverySkipped",
    "error": "DeliveryErrors",
}


class RetryLater(Exception):
    """Reported as a batch item failure: SQS brings the message back after the delay set."""


def report(settled: Settled) -> None:
    """Metrics and a log line for one delivery's step."""
    step, message = settled.step, settled.message
    keys: dict[str, Any] = {"outcome": step.outcome, "reason": step.reason}
    if message is not None:
        keys.update(delivery_id=message.delivery_id, endpoint_id=message.endpoint_id, order_no=message.order_no)
        keys.update(tenant_id=message.tenant_id, seq=message.seq, event_type=message.event_type)
    if step.attempt is not None:
        metrics.add_metric(name="DeliveryAttempts", unit="Count", value=1)
        keys.update(attempt=step.attempt.n, status_code=step.attempt.status_code, latency_ms=step.attempt.latency_ms)
    metrics.add_metric(name=_METRIC.get(step.outcome, "DeliveryErrors"), unit="Count", value=1)
    if step.lag_seconds is not None:
        metrics.add_metric(name="DeliveryLagSeconds", unit="Seconds", value=round(step.lag_seconds, 3))
    if settled.error:
        logger.warning("delivery could not be settled, it comes back", extra={**keys, "error": settled.error})
    elif step.action == "retry":
        logger.info("delivery will be retried", extra={**keys, "delay": step.delay})
    elif step.action == "requeue":  # sent again with a delay; this copy is done (no receive counted)
        logger.info("delivery deferred", extra={**keys, "delay": step.delay})
    elif step.action == "dead":
        metrics.add_metric(name="DeliveryDeadLettered", unit="Count", value=1)
        logger.warning("delivery failed for good, moved to the DLQ", extra=keys)
    else:
        logger.info("delivery done", extra=keys)


@traced
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    require("delivery_worker")  # first invocation: a missing or malformed variable fails here, named
    records = list(event.get("Records") or [])
    outcome = deliver_batch(
        [
            Received(
                r["messageId"],
                r["body"],
                r["receiptHandle"],
                int((r.get("attributes") or {}).get("ApproximateReceiveCount") or 1),
            )
            for r in records
        ],
        wiring.callback_worker(),
        wiring.event_store(),
        wiring.delivery_queue(),
        wiring.delivery_dlq(),
        load(DeliverySettings).DELIVERY_CONCURRENCY,
        remaining_seconds=context.get_remaining_time_in_millis() / 1000,
    )
    if outcome.oldest_pending_age is not None:
        metrics.add_metric(name="OldestPendingDeliveryAgeSeconds", unit="Seconds", value=outcome.oldest_pending_age)

    def handle_record(record: SQSRecord) -> None:
        settled = outcome.settled[record.message_id]
        for part in settled.parts or (settled,):  # a bundle: each of its deliveries
            report(part)
        if settled.comes_back:
            if settled.error and settled.parts:  # a single delivery's error is in its own line above
                logger.warning("bundle could not be settled, it comes back", extra={"error": settled.error})
            raise RetryLater(settled.error or settled.step.reason)

    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
