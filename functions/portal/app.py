"""portal: the tenant portal's pages (``/portal``), signed in with a one-time link.

Orders, each order's timeline with its callbacks, deliveries (problems first) with replays, and
the tenant's endpoints (add, edit, enable/disable, rotate the signing secret, send a test event),
scoped to the session's tenant like the admin API. The pages and their rules live in
``order_hub.portal``; this handler only validates the environment and hands the request over.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from order_hub.config import require
from order_hub.observability import logger, metrics, traced


@traced
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    require("portal")  # first invocation: a missing or malformed variable fails here, named
    from order_hub.portal.web import handle

    return handle(event, context)
