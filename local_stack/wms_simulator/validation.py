"""Reading request input for the WMS simulator: every refusal is a ``SimulatorError`` naming the field."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from local_stack.wms_simulator.model import Line, SimulatorError, whole_seconds

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise SimulatorError(400, "the body is not valid JSON") from None
    if not isinstance(value, dict):
        raise SimulatorError(400, "the body must be a JSON object")
    return value


def no_unknown(payload: Mapping[str, Any], known: set[str]) -> None:
    unknown = sorted(set(payload) - known)
    if unknown:
        raise SimulatorError(400, f"unknown field(s): {', '.join(unknown)}", field=unknown[0])


def require_int(value: Any, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise SimulatorError(400, f"{name} must be an integer", field=name)
    if minimum is not None and value < minimum:
        raise SimulatorError(400, f"{name} must be >= {minimum}", field=name)
    if maximum is not None and value > maximum:
        raise SimulatorError(400, f"{name} must be <= {maximum}", field=name)
    return value


def optional_type(payload: Mapping[str, Any], name: str, kind: type | tuple[type, ...], message: str) -> Any:
    """``payload[name]`` if absent/None or of ``kind``; otherwise a 400 with ``message``."""
    value = payload.get(name)
    if value is not None and not isinstance(value, kind):
        raise SimulatorError(400, message, field=name)
    return value


def text(source: Mapping[str, Any], name: str, max_length: int, prefix: str = "", required: bool = True) -> str:
    value = source.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise SimulatorError(400, f"{prefix}{name} is required (a non-empty string)", field=f"{prefix}{name}")
    if len(value) > max_length:
        raise SimulatorError(400, f"{prefix}{name} is longer than {max_length}", field=f"{prefix}{name}")
    return value


def _order_time(body: Mapping[str, Any]) -> datetime | None:
    raw_time = body.get("order_time")
    if not isinstance(raw_time, str) or not raw_time:
        return None
    try:
        return whole_seconds(datetime.fromisoformat(raw_time))
    except ValueError:
        raise SimulatorError(400, "order_time is not ISO 8601", field="order_time") from None


def _line(item: Any, index: int) -> Line:
    where = f"items[{index}]"
    if not isinstance(item, dict):
        raise SimulatorError(400, f"{where} must be an object", field=where)
    sku = text(item, "sku", 50, f"{where}.")
    qty = item.get("qty")
    if not isinstance(qty, int) or isinstance(qty, bool) or qty < 1:
        raise SimulatorError(400, f"{where}.qty must be a positive integer", field=f"{where}.qty")
    return Line(sku, qty)


def order_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """What the warehouse needs from a create/update body (the hub validates the rest)."""
    fields: dict[str, Any] = {
        "warehouse_id": text(body, "warehouse_id", 20),
        "so_number": text(body, "so_number", 50),
        "express_code": text(body, "express_code", 40, required=False),
        "customer_id": text(body, "customer_id", 50, required=False),
        "consignee": text(body, "consignee", 200, required=False),
        "order_time": _order_time(body),
    }
    items = body.get("items")
    if not isinstance(items, list) or not items:
        raise SimulatorError(400, "items must be a non-empty list", field="items")
    fields["lines"] = [_line(item, index) for index, item in enumerate(items)]
    return fields


def day(query: Mapping[str, str], name: str) -> date | None:
    raw = query.get(name)
    if not raw:
        return None
    try:
        if not _DAY.match(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise SimulatorError(400, f"{name} must be yyyy-MM-dd", field=name) from None


def int_param(query: Mapping[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise SimulatorError(400, f"{name} must be an integer", field=name)
    value = int(raw)
    if not minimum <= value <= maximum:
        raise SimulatorError(400, f"{name} must be between {minimum} and {maximum}", field=name)
    return value
