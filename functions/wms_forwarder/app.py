"""wms_forwarder: brings each queued order's WMS copy in line with the hub (create, update, cancel).

A warehouse that is down makes the message fail; it comes back after a growing delay (SQS
visibility, not sleeps) and goes to the DLQ after the queue's maxReceiveCount.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from order_hub import wiring
from order_hub.adapters.queues import retry_later
from order_hub.config import WorkerSettings, load
from order_hub.errors import WmsUnavailable
from order_hub.observability import logger, metrics
from order_hub.services.forwarding import forward_order

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def backoff_for(receive_count: int, schedule: tuple[int, ...]) -> int:
    """The delay after the ``receive_count``-th failed attempt (the last step repeats)."""
    return schedule[min(max(receive_count, 1), len(schedule)) - 1]


def handle_record(record: SQSRecord) -> None:
    message = json.loads(record.body)
    tenant_id, warehouse_id, order_no = message["tenant_id"], message["warehouse_id"], message["order_no"]
    logger.append_keys(tenant_id=tenant_id, warehouse_id=warehouse_id, order_no=order_no)
    try:
        result = forward_order(
            tenant_id, warehouse_id, order_no, wiring.order_repository(), wiring.wms_directory().client_for(tenant_id)
        )
    except WmsUnavailable as error:
        receives = int(record.attributes.approximate_receive_count or 1)
        settings = load(WorkerSettings)
        delay = backoff_for(receives, settings.retry_backoff)
        metrics.add_metric(name="WmsErrors", unit="Count", value=1)
        logger.warning("warehouse unavailable, retrying later", extra={"error": str(error), "receives": receives, "delay": delay})
        retry_later(settings.WMS_FORWARD_QUEUE_URL, record.receipt_handle, delay)
        raise
    metrics.add_metric(name=f"WmsForward_{result.action}", unit="Count", value=1)
    logger.info("forward done", extra={"action": result.action})


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
