"""Shipper's response envelope: ``metadata{path, http_status_code, http_status, timestamp, errors[]}``."""

from __future__ import annotations

import time
from http import HTTPStatus
from typing import Any


def http_status_text(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def envelope(
    path: str,
    status: int,
    data: Any = None,
    errors: list[dict[str, Any]] | None = None,
    pagination: dict[str, int] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "path": path,
        "http_status_code": status,
        "http_status": http_status_text(status),
        "timestamp": int(time.time()),
    }
    if errors:
        metadata["errors"] = errors
    body: dict[str, Any] = {"metadata": metadata}
    if data is not None:
        body["data"] = data
    if pagination is not None:
        body["pagination"] = pagination
    return body


def pagination_block(page: int, limit: int, current: int, total: int, exact: bool = True) -> dict[str, int | bool]:
    """Shipper's pagination block; ``total_exact`` (the hub's addition) is False when ``total_elements``
    counts the matches only up to the end of the next page (filtered lists of large tenants)."""
    return {
        "current_page": page,
        "current_elements": current,
        "total_pages": (total + limit - 1) // limit,
        "total_elements": total,
        "total_exact": exact,
    }
