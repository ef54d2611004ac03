"""DynamoDB's item limit: how items are sized, how texts are cut, and that an accepted order can
never outgrow the limit, whatever webhooks, poll repairs and cancels do to it (issue 12 item 2)."""

from __future__ import annotations

import base64
import json
import random
import string
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from order_hub.adapters.dynamodb import ITEM_LIMIT_BYTES, item_size
from order_hub.jsonutil import doc_text, pack_doc
from order_hub.models.api import CancelOrderRequest, CreateOrderRequest
from order_hub.models.logistics import LogisticsTrackingWebhook
from order_hub.models.order import Order, OrderEvent, ShipmentItem
from order_hub.models.status import ApiStatus
from order_hub.models.wms import OrderConfirmationWebhook, PgiDetail, PgiWebhook
from order_hub.services import limits
from order_hub.services.logistics import ingest_logistics_tracking
from order_hub.services.orders import cancel_order, create_order, make_event
from order_hub.services.status import Fact, apply_fact
from order_hub.services.webhooks import ingest_order_confirmation, ingest_pgi, ship
from tests.fakes import InMemoryOrderRepository
from tests.payloads import cancel_body, order_body
from tests.sizes import SIZING, TENANT, big_order, issue_line, largest_accepted, typical_line


def test_item_size_counts_as_aws_does() -> None:
    # names + values: S as UTF-8, N one byte per two significant digits + 1, B raw, BOOL 1, M/L 3 + 1 per element
    item = {
        "pk": {"S": "ORDER#a"},  # 2 + 7
        "version": {"N": "12345"},  # 7 + 4
        "doc": {"B": b"\x00\x01\x02\x03\x04"},  # 3 + 5
        "ok": {"BOOL": True},  # 2 + 1
        "name": {"S": "Budi €"},  # 4 + 8
        "tags": {"L": [{"S": "a"}, {"N": "7"}]},  # 4 + 3 + (1 + 1) + (1 + 2)
        "m": {"M": {"k": {"S": "vv"}}},  # 1 + 3 + (1 + 1 + 2)
    }
    assert item_size(item) == 9 + 11 + 8 + 3 + 12 + 12 + 8


def test_docs_are_stored_compressed_and_old_text_docs_still_read() -> None:
    text = '{"order_no":"SO-1","lines":[' + ",".join('{"sku":"A"}' for _ in range(100)) + "]}"
    packed = pack_doc(text)
    assert set(packed) == {"B"} and packed["B"][1] & 0x20  # zlib with a preset dictionary (FDICT)
    assert len(packed["B"]) < len(text) // 10
    assert doc_text(packed) == text
    assert doc_text({"B": zlib.compress(text.encode())}) == text  # items compressed without the dictionary
    assert doc_text({"S": text}) == text  # items written before compression
    assert doc_text({"B": base64.b64encode(packed["B"]).decode()}) == text  # a Lambda stream event's binary


def test_the_preset_dictionary_halves_a_small_order_document() -> None:
    order = json.dumps({"tenant_id": "acme", "consignee": {"name": "Budi", "full_address": "Jl. Sudirman 1"}, "history": []})
    assert len(pack_doc(order)["B"]) < len(zlib.compress(order.encode(), 9))


def test_clamp_cuts_by_the_bytes_a_text_takes_in_json() -> None:
    assert limits.clamp("abc", 5) == "abc"
    assert limits.clamp("€€€", 7) == "€€"  # 3 bytes each in UTF-8, never split
    assert limits.clamp('a"b', 3) == 'a"'  # a quote takes 2 bytes escaped
    assert limits.clamp("\x01\x02", 7) == "\x01"  # a control character takes 6 (\u0001)
    assert limits.json_bytes(limits.clamp("ü" * 1000, 200)) <= 200


def test_pgi_webhook_caps_match_the_shipment_item_caps() -> None:
    for name, cap in limits.ITEM_TEXT_BYTES.items():
        if name == "line_id":
            continue
        assert PgiDetail.model_fields[name].metadata[-1].max_length == cap, name


def test_request_text_caps_count_utf8_bytes() -> None:
    with pytest.raises(ValidationError) as refused:
        CreateOrderRequest.model_validate(order_body(notes="€" * 67))  # 67 characters, 201 bytes
    assert refused.value.errors()[0]["loc"] == ("notes",)
    assert "201 bytes" in refused.value.errors()[0]["msg"]
    assert CreateOrderRequest.model_validate(order_body(notes="€" * 66)).notes == "€" * 66


def test_the_limits_the_readme_states() -> None:
    assert limits.ITEM_LIMIT_BYTES - limits.SAFETY_BYTES == 401_408
    assert (limits.MAX_HISTORY, limits.MAX_FACTS, limits.MAX_SHIPMENTS, limits.EXTRA_SHIPMENT_ITEMS) == (30, 20, 10, 20)
    assert (limits.NOTE_BYTES, limits.ERROR_BYTES) == (200, 500)
    assert largest_accepted(typical_line) == 500
    assert largest_accepted(issue_line) == 218


# -- nothing an accepted order lives through can push it over ---------------------------------------
class SizedRepository(InMemoryOrderRepository):
    """The in-memory store, sizing every write as the DynamoDB adapter would store it."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def stored_size(self, order: Order, event: OrderEvent) -> int:
        return SIZING.stored_size(order, event)

    def _measure(self, order: Order, event: OrderEvent) -> None:
        size = self.stored_size(order, event)
        assert size <= ITEM_LIMIT_BYTES, f"{size} bytes would be refused by DynamoDB"
        self.largest = max(self.largest, size)

    def insert(self, order: Order, event: OrderEvent) -> Order | None:
        self._measure(order, event)
        return super().insert(order, event)

    def replace(self, order: Order, expected_version: int, event: OrderEvent) -> None:
        self._measure(order, event)
        super().replace(order, expected_version, event)


def _noise(pick: random.Random, size: int) -> str:
    return "".join(pick.choices(string.ascii_letters + string.digits + string.punctuation, k=size))


def test_the_largest_order_survives_every_kind_of_growth_within_the_limit() -> None:
    lines = largest_accepted(issue_line)
    repo = SizedRepository()
    body = big_order(lines, so_number="SO-EDGE")
    order = create_order(TENANT, CreateOrderRequest.model_validate(body), repo).order
    reserved = limits.check_fits(order, repo)
    assert reserved <= limits.ITEM_LIMIT_BYTES - limits.SAFETY_BYTES
    pick = random.Random(7)
    clock = iter(datetime(2026, 11, 23, tzinfo=UTC) + timedelta(seconds=n) for n in range(10_000))

    def now() -> datetime:
        return next(clock)

    confirmation = OrderConfirmationWebhook(order_no="SO-EDGE", warehouse_id="WH-TGR04", wms_order_no=_noise(pick, 64))
    assert ingest_order_confirmation("acme", confirmation, "{}", repo, now).outcome == "applied"
    # more PGIs than an order keeps shipments, each one detail per line with texts at their caps
    for n in range(limits.MAX_SHIPMENTS + 3):
        details = [
            PgiDetail(
                sku=item["sku"],
                qty_shipped=1 if n < limits.MAX_SHIPMENTS else 1_000_000,
                batch_no=_noise(pick, 64),
                serial_no=_noise(pick, 64),
                mfg_date=_noise(pick, 32),
                exp_date=_noise(pick, 32),
                receipt_date=_noise(pick, 32),
                stock_condition="N",
            )
            for item in body["items"]
        ]
        pgi = PgiWebhook(
            warehouse_id="WH-TGR04",
            doc_no="SO-EDGE",
            delivery_no=_noise(pick, 64),
            carrier_id=_noise(pick, 64),
            carrier_name=_noise(pick, 200),
            details=details,
        )
        ingest_pgi("acme", pgi, "{}", repo, now)
    # a poll repair with the WMS's own (unbounded) texts
    stored = repo.get("acme", "WH-TGR04", "SO-EDGE")
    assert stored is not None
    items = [ShipmentItem(sku=_noise(pick, 5000), qty=1) for _ in range(lines)]
    changed, event_type, _ = ship(stored, _noise(pick, 5000), "", _noise(pick, 5000), None, items, "poller", now)
    if changed is not None:
        repo.replace(changed, stored.version, make_event(changed, event_type, "poller", stored))
    # late and conflicting status facts, and logistics updates with long texts
    for n in range(limits.MAX_HISTORY + 10):
        current = repo.get("acme", "WH-TGR04", "SO-EDGE")
        assert current is not None
        late = (ApiStatus.PICKED, ApiStatus.PACKED)[n % 2]  # alternating, so each is recorded
        outcome = apply_fact(current, Fact("poller", now(), late, _noise(pick, 500), _noise(pick, 2000)))
        if outcome.order is not None:
            repo.replace(outcome.order, current.version, make_event(outcome.order, "order.fact_recorded", "poller", current))
    for code in range(limits.MAX_FACTS + 10):
        tracking = LogisticsTrackingWebhook.model_validate(
            {
                "tracking_id": _noise(pick, 64),
                "external_id": "SO-EDGE",
                "status_date": (datetime(2026, 11, 24, tzinfo=UTC) + timedelta(minutes=code)).isoformat(),
                "external_status": {"code": 1050 + code, "name": _noise(pick, 3000), "description": _noise(pick, 3000)},
                "awb": _noise(pick, 64),
            }
        )
        ingest_logistics_tracking("acme", ["WH-TGR04"], tracking, "{}", repo, now)

    final = repo.get("acme", "WH-TGR04", "SO-EDGE")
    assert final is not None
    assert len(final.shipments) == limits.MAX_SHIPMENTS
    assert sum(len(s.items) for s in final.shipments) == limits.shipment_item_budget(final)
    assert len(final.history) == limits.MAX_HISTORY and len(final.logistics) <= limits.MAX_FACTS
    assert repo.largest <= reserved + limits.SAFETY_BYTES


def test_a_cancel_of_the_largest_order_fits() -> None:
    repo = SizedRepository()
    lines = largest_accepted(issue_line)
    order = create_order(TENANT, CreateOrderRequest.model_validate(big_order(lines)), repo).order
    reserved = limits.check_fits(order, repo)
    cancelled = cancel_order(TENANT, _cancellation(), repo).order
    assert cancelled.status.value == "CANCELLED"
    assert repo.largest <= reserved


def _cancellation() -> Any:
    return CancelOrderRequest.model_validate(cancel_body(reason="ü" * 25)).data.cancellation
