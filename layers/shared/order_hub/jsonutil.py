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


# A preset zlib dictionary: the skeleton of an order event (field names, enum values, timestamps)
# that every stored document repeats, so a small document compresses to about half of what plain
# zlib achieves (a created order: 892 -> ~500 bytes). Never edit it: stored documents name it by
# its Adler-32 (zlib's DICTID) and need it to be read back; add a new one to ``_dictionaries()`` instead.
_DOC_DICTIONARY = (
    b'{"event_id":"","type":"order.status_changed","tenant_id":"","warehouse_id":"","order_no":"","seq":2,'
    b'"at":"2026-01-01T00:00:00.000000Z","source":"wms_webhook","previous_status":"REGISTERED","order":{"t'
    b'enant_id":"","warehouse_id":"WH-","order_no":"","order_type":"SO","customer_id":"","tenant_name":"",'
    b'"order_source":"","platform":"","order_identification_code":1,"internal_order_status":"","seller_nic'
    b'k":"","order_time":"2026-01-01T00:00:00Z","notes":"","consignee":{"name":"","phone":"+62 ","email":"'
    b'","mobile":"","full_address":"","state":"","province":"","city":"","area":"","town":"","zipcode":"",'
    b'"doc_type":null},"courier":{"express_code":"","rate_type":"","tracking_id":"","awb":""},"payment":{"'
    b'method":"PREPAID","currency":"IDR","total_amount":0,"total_discount":0,"seller_discount":0,"buyer_pa'
    b'id_shipping_fee":0,"cod_amount":0},"lines":[{"line_id":"","sku":"","name":"","uom":"","qty_ordered":'
    b'1,"qty_cancelled":0,"qty_allocated":0,"qty_picked":0,"qty_shipped":0,"unit_price":0,"discount":0,"ex'
    b't":null}],"shipments":[{"shipment_code":"","awb":"","carrier_id":"","carrier_name":"","status":"SHIP'
    b'PED","pgi_at":"2026-01-01T00:00:00Z","items":[{"line_id":"","sku":"","qty":1,"batch_no":"","serial_n'
    b'o":"","mfg_date":"","exp_date":"","stock_condition":""}],"items_omitted":0,"tracking_id":"","logisti'
    b'cs_status":null,"delivered_at":null}],"ext":null,"status":"CREATED","wms_status":"","version":1,"cre'
    b'ated_at":"2026-01-01T00:00:00.000000Z","updated_at":"2026-01-01T00:00:00.000000Z","history":[{"at":"'
    b'2026-01-01T00:00:00.000000Z","source":"api","from_status":null,"to_status":"REGISTERED","applied":tr'
    b'ue,"note":""},{"at":"2026-01-01T00:00:00.000000Z","source":"wms_webhook","from_status":"REGISTERED",'
    b'"to_status":"CREATED","applied":true,"note":""}],"logistics":[],"cancel":null,"forward":{"state":"fo'
    b'rwarded","wms_order_no":"","forwarded_body_hash":"","attempts":1,"last_error":"","last_attempt_at":"'
    b'2026-01-01T00:00:00.000000Z"},"create_hash":"","body_hash":""}}'
)


def _dictionaries() -> dict[int, bytes]:
    import zlib

    return {zlib.adler32(_DOC_DICTIONARY): _DOC_DICTIONARY}


def pack_doc(text: str) -> dict[str, Any]:
    """A JSON document as the orders table stores it: zlib-compressed with the preset dictionary, as a Binary attribute."""
    import zlib

    packer = zlib.compressobj(9, zdict=_DOC_DICTIONARY)
    return {"B": packer.compress(text.encode()) + packer.flush()}


def unpack(raw: bytes) -> bytes:
    """The bytes of a compressed document: with a preset dictionary (zlib's FDICT flag) or plain zlib."""
    import zlib

    if len(raw) > 6 and raw[1] & 0x20:  # FDICT: the next 4 bytes are the dictionary's Adler-32
        dictionary = _dictionaries().get(int.from_bytes(raw[2:6], "big"))
        if dictionary is None:
            raise ValueError("document compressed with an unknown dictionary")
        unpacker = zlib.decompressobj(zdict=dictionary)
        return unpacker.decompress(raw) + unpacker.flush()
    return zlib.decompress(raw)


def doc_text(value: Any) -> str:
    """The JSON of a stored ``doc`` attribute: Binary (compressed, with or without the preset dictionary;
    bytes from boto3, base64 text in a Lambda stream event) or, for items written before compression, String."""
    if "S" in value:
        return str(value["S"])
    raw = value["B"]
    if isinstance(raw, str):
        import base64

        raw = base64.b64decode(raw)
    return unpack(bytes(raw)).decode()
