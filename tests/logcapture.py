"""Reading what the hub's shared logger writes, through its own handler and formatter."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

from order_hub.observability import logger


@contextmanager
def logger_output() -> Iterator[io.StringIO]:
    """Everything the shared logger writes while the block runs, with its level lowered to DEBUG."""
    handler = logger.registered_handler
    buffer = io.StringIO()
    previous_stream, previous_level = handler.setStream(buffer), logger.log_level  # type: ignore[attr-defined]
    logger.setLevel("DEBUG")
    try:
        yield buffer
    finally:
        handler.setStream(previous_stream)  # type: ignore[attr-defined]
        logger.setLevel(previous_level)
