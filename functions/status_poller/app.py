"""status_poller: on a schedule, read every tenant's WMS order list and repair missed changes."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from order_hub import wiring
from order_hub.errors import WmsError
from order_hub.observability import logger, metrics
from order_hub.services.polling import PollStats, poll_warehouse

SAFETY_MARGIN_MS = 30_000


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    directory = wiring.tenant_directory()
    total = PollStats()
    failures = 0
    for tenant in directory.list_tenants():
        if tenant.status != "active":
            continue
        wms = wiring.wms_directory().client_for(tenant.tenant_id)
        if wms is None:
            continue
        for warehouse_id in tenant.warehouse_ids:
            try:
                stats = poll_warehouse(
                    tenant.tenant_id,
                    warehouse_id,
                    wms,
                    wiring.order_repository(),
                    directory,
                    out_of_time=lambda: context.get_remaining_time_in_millis() < SAFETY_MARGIN_MS,
                )
            except WmsError as error:  # this warehouse waits for the next run; the others go on
                failures += 1
                metrics.add_metric(name="WmsErrors", unit="Count", value=1)
                logger.warning(
                    "poll failed",
                    extra={"tenant_id": tenant.tenant_id, "warehouse_id": warehouse_id, "error": str(error)},
                )
                continue
            total.add(stats)
    for name, value in (
        ("PollOrdersSeen", total.seen),
        ("PollWrites", total.written),
        ("StatusConflicts", total.conflicts),
        ("PollUnknownOrders", total.unknown_orders),
    ):
        metrics.add_metric(name=name, unit="Count", value=value)
    metrics.add_metric(name="PollLagSeconds", unit="Seconds", value=total.lag_seconds)
    summary = {
        "pages": total.pages,
        "seen": total.seen,
        "written": total.written,
        "conflicts": total.conflicts,
        "unknown_orders": total.unknown_orders,
        "unknown_statuses": total.unknown_statuses,
        "raced": total.raced,
        "skipped": total.skipped,
        "completed": total.completed,
        "failed_warehouses": failures,
    }
    logger.info("poll finished", extra=summary)
    return summary
