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


def pack_doc(text: str) -> dict[str, Any]:
    """A JSON document as the orders table stores it: zlib-compressed, as a Binary attribute."""
    import zlib

    return {"B": zlib.compress(text.encode(), 6)}


def doc_text(value: Any) -> str:
    """The JSON of a stored ``doc`` attribute: Binary (compressed; bytes from boto3, base64 text in a
    Lambda stream event) or, for items written before compression, String."""
    if "S" in value:
        return str(value["S"])
    import zlib

    raw = value["B"]
    if isinstance(raw, str):
        import base64

        raw = base64.b64decode(raw)
    return zlib.decompress(bytes(raw)).decode()
