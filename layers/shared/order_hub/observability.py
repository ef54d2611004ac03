"""The one Logger and Metrics of the hub. Import these; never instantiate new ones.

Both are cheap to construct (no I/O); the service name and namespace come from the
POWERTOOLS_* environment variables set in template.yaml.

Every log line goes through :class:`RedactingFormatter`: consignee personal data (names, phones, e-mails,
addresses, zipcodes) is masked in extra keys, appended keys, messages, exception texts and stack traces
before the JSON line is written. The rules live in :mod:`order_hub.redaction` (standard library only).
"""

from __future__ import annotations

import warnings
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from order_hub.redaction import redact, scrub

# Keys Powertools fills itself (never personal data): written as they are, not scrubbed.
_TRUSTED_KEYS = frozenset(
    {
        "level",
        "location",
        "timestamp",
        "service",
        "sampling_rate",
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "xray_trace_id",
        "exception_name",
    }
)


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter, with PII masked in the structured record just before serialisation."""

    def serialize(self, log: dict[str, Any]) -> str:  # type: ignore[override]
        safe = {key: value if key in _TRUSTED_KEYS else redact({key: value})[key] for key, value in log.items()}
        return super().serialize(safe)

    def formatException(self, ei: Any) -> str:
        return scrub(super().formatException(ei))


logger = Logger(service="outbound-order-hub", logger_formatter=RedactingFormatter())
metrics = Metrics(namespace="OutboundOrderHub")

# Read-only requests emit no business metric; Powertools would warn about it on every one of them.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
