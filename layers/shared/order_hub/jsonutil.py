"""Compact JSON for the wire and for stored views (Decimals as numbers): used by renderers and adapters alike."""

from __future__ import annotations

from typing import Any


def _json_default(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(body: Any) -> str:
    import json

    return json.dumps(body, default=_json_default, separators=(",", ":"), ensure_ascii=False)
