"""delivery_worker: delivers queued callbacks to client endpoints, each in its format.

The batch's requests go out concurrently (one thread per endpoint and order, so one slow
endpoint holds up nobody else, and each order's events keep their order). Failed attempts come
back after the retry schedule's delay (SQS visibility, not sleeps); deliveries that fail for good
go to the delivery DLQ, from where ``hub-admin deliveries redrive-dlq`` or a replay sends them again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from order_hub import wiring
from order_hub.adapters.queues import retry_later, send_json
from order_hub.config import DeliverySettings, load
from order_hub.models.endpoints import Endpoint
from order_hub.observability import logger, metrics
from order_hub.services.delivery import DeliveryMessage, Step, Worker, attempt_batch
from order_hub.services.endpoints import set_enabled

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


def _disable(endpoint: Endpoint, reason: str) -> None:
    set_enabled(wiring.endpoint_registry(), endpoint.tenant_id, endpoint.endpoint_id, False, reason)
    metrics.add_metric(name="EndpointsDisabled", unit="Count", value=1)
    logger.warning("endpoint disabled", extra={"endpoint_id": endpoint.endpoint_id, "reason": reason})


def _steps(records: list[dict[str, Any]], settings: DeliverySettings) -> tuple[dict[str, Step], dict[str, DeliveryMessage]]:
    messages: dict[str, DeliveryMessage] = {}
    steps: dict[str, Step] = {}
    for record in records:
        try:
            messages[record["messageId"]] = DeliveryMessage.model_validate_json(record["body"])
        except ValidationError as error:
            steps[record["messageId"]] = Step(
                "dead", outcome="failed", reason=f"malformed delivery message: {error.errors()[0]['msg']}"
            )
    events = wiring.event_store().get_events([m.event_key for m in messages.values()])
    worker = Worker(
        log=wiring.delivery_log(),
        sender=wiring.callback_sender(),
        endpoint_of=wiring.endpoint_registry().get_endpoint,  # fresh: a disable or an edit counts for the next attempt
        disable_endpoint=_disable,
        retry_schedule=settings.retry_schedule,
        timeout_cap=settings.CALLBACK_TIMEOUT_SECONDS,
    )
    steps.update(attempt_batch(worker, messages, events, settings.DELIVERY_CONCURRENCY))
    now = datetime.now(UTC)
    pending_ages = [
        (now - events[m.event_key].at).total_seconds()
        for message_id, m in messages.items()
        if m.event_key in events and steps[message_id].outcome in ("retry", "deferred", "error")
    ]
    if pending_ages:
        metrics.add_metric(name="OldestPendingDeliveryAgeSeconds", unit="Seconds", value=max(pending_ages))
    return steps, messages


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    settings = load(DeliverySettings)
    steps, messages = _steps(list(event.get("Records") or []), settings)

    def handle_record(record: SQSRecord) -> None:
        step = steps[record.message_id]
        message = messages.get(record.message_id)
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
        if step.action == "retry":
            logger.info("delivery will be retried", extra={**keys, "delay": step.delay})
            retry_later(settings.DELIVERY_QUEUE_URL, record.receipt_handle, step.delay)
            raise RetryLater(step.reason)
        if step.action == "dead":
            body = {"raw_body": record.body[:200_000]} if message is None else message.model_dump(mode="json")
            send_json(settings.DELIVERY_DLQ_URL, [{**body, "dead_reason": step.reason[:1000]}])
            metrics.add_metric(name="DeliveryDeadLettered", unit="Count", value=1)
            logger.warning("delivery failed for good, moved to the DLQ", extra=keys)
            return
        logger.info("delivery done", extra=keys)

    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
