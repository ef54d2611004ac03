"""status_poller: on a schedule, read every tenant's WMS order list and repair missed changes."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from order_hub import wiring
from order_hub.config import require
from order_hub.observability import logger, metrics, traced
from order_hub.services.polling import poll_all

SAFETY_MARGIN_MS = 30_000


@traced
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    require("status_poller")  # first invocation: a missing or malformed variable fails here, named
    run = poll_all(
        wiring.tenant_directory(),
        wiring.wms_directory(),
        wiring.order_repository(),
        out_of_time=lambda: context.get_remaining_time_in_millis() < SAFETY_MARGIN_MS,
        lease_seconds=context.get_remaining_time_in_millis() // 1000 + 30,  # this invocation's time, and a margin
    )
    total = run.total
    if run.failed_warehouses:
        metrics.add_metric(name="WmsErrors", unit="Count", value=run.failed_warehouses)
    for name, value in (
        ("PollOrdersSeen", total.seen),
        ("PollWrites", total.written),
        ("StatusConflicts", total.conflicts),
        ("PollUnknownOrders", total.unknown_orders),
    ):
        metrics.add_metric(name=name, unit="Count", value=value)
    metrics.add_metric(name="PollLagSeconds", unit="Seconds", value=total.lag_seconds)
    summary = run.summary()
    logger.info("poll finished", extra=summary)
    return summary
