"""The one Logger and Metrics of the hub. Import these; never instantiate new ones.

Both are cheap to construct (no I/O); the service name and namespace come from the
POWERTOOLS_* environment variables set in template.yaml.

Every log line goes through :class:`RedactingFormatter`: consignee personal data (names, phones, e-mails,
addresses, zipcodes) is masked in extra keys, appended keys, messages, exception texts and stack traces
before the JSON line is written. The rules live in :mod:`order_hub.redaction` (standard library only).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar, cast

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


def tracing_enabled() -> bool:
    """The Tracing parameter as the functions see it: ``POWERTOOLS_TRACE_DISABLED`` (template.yaml sets
    ``false`` only when Tracing is Enabled; unset counts as off)."""
    import os

    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "true").strip().lower() not in ("1", "true")


_HandlerT = TypeVar("_HandlerT", bound=Callable[..., Any])


def traced(handler: _HandlerT) -> _HandlerT:
    """A function's handler, run under Powertools Tracer when tracing is on.

    Decided on the first invocation, not at import: with tracing off the X-Ray SDK is never imported
    (Powertools' ``Tracer()`` imports it even when disabled) and the handler runs as it is. With
    tracing on, ``Tracer`` patches boto3 and requests (a subsegment per AWS or HTTP call) and wraps
    the handler in a ``## lambda_handler`` subsegment annotated with the cold start. Neither the
    response nor the error is copied into the trace: they carry personal data the log redaction
    masks and X-Ray would not.
    """
    chosen: list[Callable[..., Any]] = []

    @functools.wraps(handler)
    def entry(event: Any, context: Any) -> Any:
        if not chosen:
            if tracing_enabled():
                from aws_lambda_powertools import Tracer

                chosen.append(Tracer().capture_lambda_handler(handler, capture_response=False, capture_error=False))
            else:
                chosen.append(handler)
        return chosen[0](event, context)

    return cast(_HandlerT, entry)
