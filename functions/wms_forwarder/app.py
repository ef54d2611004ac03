"""wms_forwarder: brings each queued order's WMS copy in line with the hub (create, update, cancel).

A warehouse that is down makes the message fail; it comes back after a growing delay (SQS
visibility, not sleeps) and goes to the DLQ after the queue's maxReceiveCount.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from order_hub import wiring
from order_hub.config import WorkerSettings, load, require
from order_hub.errors import WmsUnavailable
from order_hub.models.messages import WmsForwardMessage
from order_hub.observability import logger, metrics, traced
from order_hub.services.forwarding import forward_message

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def handle_record(record: SQSRecord) -> None:
    message = WmsForwardMessage.model_validate_json(record.body)
    logger.append_keys(tenant_id=message.tenant_id, warehouse_id=message.warehouse_id, order_no=message.order_no)
    receives = int(record.attributes.approximate_receive_count or 1)
    outcome = forward_message(
        message,
        wiring.order_repository(),
        wiring.wms_directory(),
        wiring.wms_forward_queue(),
        record.receipt_handle,
        receives,
        load(WorkerSettings).retry_backoff,
    )
    if outcome.result is None:
        metrics.add_metric(name="WmsErrors", unit="Count", value=1)
        logger.warning(
            "warehouse unavailable, retrying later",
            extra={"error": outcome.error, "receives": receives, "delay": outcome.retry_in},
        )
        raise WmsUnavailable(outcome.error)  # a batch item failure: SQS brings the message back after the delay
    metrics.add_metric(name=f"WmsForward_{outcome.result.action}", unit="Count", value=1)
    logger.info("forward done", extra={"action": outcome.result.action})


@traced
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    require("wms_forwarder")  # first invocation: a missing or malformed variable fails here, named
    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
