"""The one Logger and Metrics of the hub. Import these; never instantiate new ones.

Both are cheap to construct (no I/O); the service name and namespace come from the
POWERTOOLS_* environment variables set in template.yaml.
"""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="outbound-order-hub")
metrics = Metrics(namespace="OutboundOrderHub")

# Read-only requests emit no business metric; Powertools would warn about it on every one of them.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
