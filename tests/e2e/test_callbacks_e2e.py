"""Callback delivery through the local stack (issue: callback delivery).

The session stack registers one demo-tenant endpoint per format on the demo receiver; failed
deliveries are retried after 1, 1 and 2 s (``DeliveryRetrySchedule=1,1,2``: four attempts), then
go to the delivery DLQ. The receiver plays the client side: it checks each format's auth, dedupes
like a client would and can be told to fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from standardwebhooks import Webhook

from tests.e2e.client import OMS, Hub, full_order, payload

FORMATS = ("shipper", "increff", "unicommerce", "standard")


@pytest.fixture
def hub(stack: dict[str, Any]) -> Iterator[Hub]:
    hub = Hub(stack)
    yield hub
    hub.receiver("POST", "/_demo/config", {fmt: {"down": False, "fail_next": 0, "status": None} for fmt in FORMATS})
    hub.receiver("POST", "/_demo/config", {"increff": {"increff_has_error": False}})


def _create(hub: Hub, **overrides: Any) -> str:
    body = full_order(**overrides)
    response = hub.api("POST", OMS, json=body)
    assert response.status_code == 200, response.text
    return str(body["so_number"])


def _ship(hub: Hub, so: str) -> dict[str, Any]:
    hub.forwarded(so)
    hub.advance(so, "SHIPPED")
    return hub.wait_for(so, lambda d: d["so_status"] == "CLOSED" and bool(d["shipments"]), "CLOSED")


def hub_admin(stack_file: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "order_hub.admin_cli", "--stack", stack_file, *args], capture_output=True, text=True, timeout=60
    )


def _admin_json(hub: Hub, stack_process: Any, *args: str) -> Any:
    done = hub_admin(str(stack_process.state_file), *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_an_order_lifecycle_reaches_every_format_in_order(hub: Hub, stack: dict[str, Any]) -> None:
    so = _create(hub)
    closed = _ship(hub, so)
    awb = closed["shipments"][0]["awb"]

    standard = hub.wait_received(
        "standard", so, lambda rs: any(payload(r)["type"] == "order.shipped" for r in rs), "order.shipped"
    )
    shipper = hub.wait_received("shipper", so, lambda rs: len(rs) >= 2, "confirmation + PGI")
    increff = hub.wait_received(
        "increff", so, lambda rs: any(payload(r)["eventType"] == "OUTWARD_ORDER_COMPLETE" for r in rs), "COMPLETE"
    )
    unicommerce = hub.wait_received("unicommerce", so, lambda rs: any(r["outcome"] == "accepted" for r in rs), "dispatch")

    # standard: every event, signed (checked with the reference implementation), in order
    webhook = Webhook(stack["demo_receiver"]["standard_secret"])
    for record in standard:
        assert webhook.verify(record["body"], record["headers"])["data"]["order_no"] == so
    seqs = [payload(r)["data"]["seq"] for r in standard]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert standard[0]["json"]["type"] == "order.created"
    assert all(r["headers"]["webhook-id"].startswith(payload(r)["data"]["event_id"]) for r in standard)
    # shipper: order confirmation, then the PGI with the shipment's AWB
    assert "delivery_no" not in shipper[0]["json"] and shipper[0]["json"]["doc_no"] == so
    pgi = shipper[-1]["json"]
    assert (pgi["doc_no"], pgi["delivery_no"], pgi["warehouse_id"]) == (so, awb, "WH-TGR04")
    assert sum(d["qty_shipped"] for d in pgi["details"]) == 3 and len(pgi["pgi_date"]) == 19
    # increff: create then complete, messageId = the order's event seq (monotonic)
    accepted = [payload(r) for r in increff if r["outcome"] == "accepted"]
    assert [p["eventType"] for p in accepted] == ["OUTWARD_ORDER_CREATE", "OUTWARD_ORDER_COMPLETE"]
    assert accepted[0]["messageId"] < accepted[1]["messageId"]
    assert accepted[1]["shipments"][0]["shipmentItems"][0]["taxItems"][0]["type"] == "IGST"
    # unicommerce: one dispatch of the shipment with a bearer token from the POS token route
    (dispatch,) = [r for r in unicommerce if r["outcome"] == "accepted"]
    code = closed["shipments"][0]["shipment_code"]
    assert dispatch["path"].endswith(f"/v1/shipment/{code}") and dispatch["headers"]["authorization"].startswith("bearer ")
    assert dispatch["json"]["trackingNumber"] == awb and dispatch["json"]["facilityCode"] == "FAC-WH-TGR04"
    # seed 002 step 7: the PGI also goes back to the warehouse (a shipper endpoint on the WMS)
    deadline = time.monotonic() + 30
    while hub.sim("GET", f"/_sim/orders/WH-TGR04/{so}")["order"]["pgi_confirmations"] < 1:
        assert time.monotonic() < deadline, "the WMS never got the PGI back"
        time.sleep(0.2)
    assert hub.sim("GET", f"/_sim/orders/WH-TGR04/{so}")["order"]["pgi_confirmations"] == 1


def test_a_receiver_down_for_a_while_gets_the_callback_once_it_recovers(hub: Hub, stack_process: Any) -> None:
    hub.receiver("POST", "/_demo/config", {"standard": {"down": True}})
    so = _create(hub)

    def two_failures_of_one_event(records: list[dict[str, Any]]) -> bool:
        ids = [r["headers"].get("webhook-id") for r in records]
        return any(ids.count(i) >= 2 for i in ids)

    failed = hub.wait_received("standard", so, two_failures_of_one_event, "two failed attempts of one event")
    hub.receiver("POST", "/_demo/config", {"standard": {"down": False}})

    records = hub.wait_received("standard", so, lambda rs: any(r["outcome"] == "accepted" for r in rs), "delivery after recovery")

    ids = [r["headers"]["webhook-id"] for r in failed]
    first_id = next(i for i in ids if ids.count(i) >= 2)
    created = [r for r in records if r["headers"]["webhook-id"] == first_id]
    assert [r["status"] for r in created][:2] == [503, 503] and created[-1]["outcome"] == "accepted"
    delivery = _admin_json(hub, stack_process, "deliveries", "show", first_id)
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]][:2] == [503, 503]
    assert delivery["attempts"][-1]["outcome"] == "delivered"


def test_a_permanently_failing_receiver_ends_in_the_dlq_and_a_redrive_delivers(hub: Hub, stack_process: Any) -> None:
    hub.receiver("POST", "/_demo/config", {"standard": {"status": 500}})
    so = _create(hub)
    records = hub.wait_received("standard", so, lambda rs: len(rs) >= 4, "four attempts")
    delivery_id = records[0]["headers"]["webhook-id"]

    def dead() -> dict[str, Any]:
        for _ in range(100):
            found: dict[str, Any] = _admin_json(hub, stack_process, "deliveries", "show", delivery_id)
            if found["status"] == "failed":
                return found
        pytest.fail(f"delivery {delivery_id} never failed for good")

    failed = dead()
    assert failed["attempt_count"] == 4 and "the last" in failed["last_error"]
    assert len(failed["attempts"]) == 3 and failed["attempts_dropped"] == 1  # the last 3 in full, older counted
    failures = _admin_json(hub, stack_process, "deliveries", "failures", "demo")
    assert delivery_id in [d["delivery_id"] for d in failures]

    hub.receiver("POST", "/_demo/config", {"standard": {"status": None}})
    redriven = _admin_json(hub, stack_process, "deliveries", "redrive-dlq")
    assert redriven["moved"] >= 1 and set(redriven) == {"moved", "skipped", "failed"}

    after = hub.wait_received("standard", so, lambda rs: any(r["outcome"] == "accepted" for r in rs), "delivery after redrive")
    accepted = [r for r in after if r["outcome"] == "accepted" and r["headers"]["webhook-id"] == delivery_id]
    assert len(accepted) == 1  # same dedupe key as the failed attempts
    assert _admin_json(hub, stack_process, "deliveries", "show", delivery_id)["status"] == "delivered"


def test_a_single_delivery_can_be_replayed(hub: Hub, stack_process: Any) -> None:
    so = _create(hub)
    first = hub.wait_received("standard", so, lambda rs: any(r["outcome"] == "accepted" for r in rs), "created")
    delivery_id = first[0]["headers"]["webhook-id"]

    replayed = _admin_json(hub, stack_process, "deliveries", "replay", delivery_id)
    assert replayed["replays"] == 1

    again = hub.wait_received(
        "standard",
        so,
        lambda rs: any(r["outcome"] == "duplicate" and r["headers"]["webhook-id"] == delivery_id for r in rs),
        "replay",
    )
    assert len([r for r in again if r["headers"]["webhook-id"] == delivery_id]) == 2  # the receiver dedupes it


def test_unicommerce_token_expiry_is_refreshed_once_and_the_dispatch_succeeds(hub: Hub) -> None:
    warm = _create(hub)
    _ship(hub, warm)
    hub.wait_received("unicommerce", warm, lambda rs: any(r["outcome"] == "accepted" for r in rs), "first dispatch")
    before = hub.receiver("GET", "/_demo/stats")["formats"]["unicommerce"]["token_calls"]
    hub.receiver("POST", "/_demo/expire-tokens")

    so = _create(hub)
    _ship(hub, so)
    records = hub.wait_received("unicommerce", so, lambda rs: any(r["outcome"] == "accepted" for r in rs), "dispatch")

    assert [r["status"] for r in records] == [401, 200]  # the cached token is refused once, then a fresh one works
    assert hub.receiver("GET", "/_demo/stats")["formats"]["unicommerce"]["token_calls"] == before + 1


def test_increff_has_error_is_retried_with_the_same_message_id(hub: Hub) -> None:
    hub.receiver("POST", "/_demo/config", {"increff": {"increff_has_error": True}})
    so = _create(hub)
    hub.wait_received("increff", so, lambda rs: any(r["outcome"] == "failed" for r in rs), "a hasError answer")
    hub.receiver("POST", "/_demo/config", {"increff": {"increff_has_error": False}})

    records = hub.wait_received("increff", so, lambda rs: any(r["outcome"] == "accepted" for r in rs), "success after retry")

    creates = [r for r in records if payload(r)["eventType"] == "OUTWARD_ORDER_CREATE"]
    assert len({payload(r)["messageId"] for r in creates}) == 1 and creates[-1]["outcome"] == "accepted"
    assert any(r["outcome"] == "failed" for r in creates)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://10.0.0.7/hook", "private"),
        ("https://192.168.10.2/hook", "private"),
        ("https://[fd00::1]/hook", "private"),
        ("ftp://127.0.0.1/hook", "must use"),
    ],
)
def test_unsafe_endpoint_urls_are_refused_at_registration(stack_process: Any, url: str, reason: str) -> None:
    done = hub_admin(str(stack_process.state_file), "endpoint", "add", "demo", "ssrf-probe", "--format", "standard", "--url", url)

    assert done.returncode == 2 and reason in done.stderr


def test_demo_endpoints_are_listed_without_their_secrets(stack: dict[str, Any], stack_process: Any) -> None:
    done = hub_admin(str(stack_process.state_file), "endpoint", "list", "demo")

    assert done.returncode == 0, done.stderr
    listed = {e["endpoint_id"]: e for e in json.loads(done.stdout)}
    assert (
        set(listed)
        == set(stack["demo_receiver"]["endpoints"])
        == {
            "demo-shipper",
            "demo-increff",
            "demo-unicommerce",
            "demo-standard",
            "demo-wms-pgi",
        }
    )
    assert {e["format"] for e in listed.values()} == set(FORMATS)
    assert listed["demo-standard"]["secret_name"] == "hub/demo/endpoint/demo-standard"
    for secret in (stack["demo_receiver"]["standard_secret"], stack["demo_receiver"]["unicommerce"]["password"]):
        assert secret not in done.stdout


def test_a_second_package_ships_the_rest_and_increff_gets_dispatch_then_complete(hub: Hub) -> None:
    so = _create(hub)
    hub.forwarded(so)
    hub.advance(so, "SHIPPED", ship_qty={"TSHIRT-BLK-M": 1, "CAP-RED": 0})
    hub.wait_for(so, lambda d: len(d["shipments"]) == 1, "partially shipped")
    hub.sim("POST", f"/_sim/orders/WH-TGR04/{so}/ship-rest", {})
    done = hub.wait_for(so, lambda d: len(d["shipments"]) == 2, "the second package")
    assert done["so_status"] == "CLOSED" and len({s["awb"] for s in done["shipments"]}) == 2

    increff = hub.wait_received(
        "increff", so, lambda rs: any(payload(r)["eventType"] == "OUTWARD_ORDER_COMPLETE" for r in rs), "COMPLETE"
    )
    kinds = [payload(r)["eventType"] for r in increff if r["outcome"] == "accepted"]
    assert kinds == ["OUTWARD_ORDER_CREATE", "OUTWARD_ORDER_SHIPMENT_DISPATCH", "OUTWARD_ORDER_COMPLETE"], kinds
    deadline = time.monotonic() + 60  # the hub forwards both PGIs back to the warehouse (seed 002 step 7)
    while hub.sim("GET", f"/_sim/orders/WH-TGR04/{so}")["order"]["pgi_confirmations"] < 2:
        assert time.monotonic() < deadline, "the second package's PGI did not reach the warehouse"
        time.sleep(0.25)


def test_the_warehouse_cancels_the_rest_and_increff_gets_create_dispatch_then_partial_cancel(hub: Hub) -> None:
    so = _create(hub)
    hub.forwarded(so)
    hub.advance(so, "SHIPPED", ship_qty={"TSHIRT-BLK-M": 1, "CAP-RED": 0})
    hub.wait_for(so, lambda d: len(d["shipments"]) == 1 and d["partially_shipped"], "partially shipped")

    hub.sim("POST", f"/_sim/orders/WH-TGR04/{so}/cancel-rest", {})  # no webhook: the hub's poll finds it

    done = hub.wait_for(so, lambda d: any(line["qty_cancelled"] for line in d["details"]), "the rest cancelled")
    assert not done["partially_shipped"]
    assert done["so_status"] == "CLOSED" and len(done["shipments"]) == 1
    assert [(d["qty_ordered"], d["qty_shipped"], d["qty_cancelled"]) for d in done["details"]] == [(2, 1, 1), (1, 0, 1)]
    increff = hub.wait_received(
        "increff", so, lambda rs: any(payload(r)["eventType"] == "OUTWARD_ORDER_PARTIAL_CANCEL" for r in rs), "PARTIAL_CANCEL"
    )
    accepted = [payload(r) for r in increff if r["outcome"] == "accepted"]
    kinds = [body["eventType"] for body in accepted]
    assert kinds == ["OUTWARD_ORDER_CREATE", "OUTWARD_ORDER_SHIPMENT_DISPATCH", "OUTWARD_ORDER_PARTIAL_CANCEL"], kinds
    assert [body["messageId"] for body in accepted] == sorted(body["messageId"] for body in accepted)
    partial = accepted[-1]
    assert [i["cancelledQuantity"] for i in partial["orderItems"]] == [1, 1]
    assert [i["quantity"] for i in partial["shipments"][0]["shipmentItems"]] == [1]
    standard = hub.wait_received(
        "standard", so, lambda rs: any(payload(r)["type"] == "order.partially_cancelled" for r in rs), "order.partially_cancelled"
    )
    assert [payload(r)["type"] for r in standard].count("order.partially_cancelled") == 1
