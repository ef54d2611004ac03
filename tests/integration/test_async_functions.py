"""dispatcher, wms_forwarder and status_poller under moto, against the WMS simulator on loopback."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from local_stack.harness import FakeContext, api_event, load_event
from local_stack.testkit import MotoHubFactory
from local_stack.wms_simulator import TenantConfig, WmsSimulator
from order_hub import wiring
from order_hub.secret_names import wms_secret_name
from order_hub.services.orders import event_id_for

NO, WH = "SO-2026-0001", "WH-TGR04"


@pytest.fixture
def env(moto_hub_factory: MotoHubFactory) -> Iterator[dict[str, Any]]:
    simulator = WmsSimulator(port=0, tenants={"demo": TenantConfig(api_key="wms-key", webhook_secret="whsec")})
    simulator.start()
    try:
        hub = moto_hub_factory(
            tenants={"demo": [WH]},
            secrets={wms_secret_name("demo"): {"base_url": simulator.url, "api_key": "wms-key"}},
            settings={"WMS_RETRY_BACKOFF_SECONDS": "7,70"},
        )
        yield {"resources": hub.resources, "key": hub.api_keys["demo"], "sim": simulator}
    finally:
        simulator.stop()


def _create(env: dict[str, Any]) -> None:
    from functions.orders_api.app import lambda_handler

    assert lambda_handler(api_event("orders_api/create_order", env["key"]), FakeContext())["statusCode"] == 200


def _stream_event_for_first_event(env: dict[str, Any]) -> dict[str, Any]:
    """The sample stream event, with the NewImage of the order item really stored (its first version)."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    item: dict[str, Any] = client.get_item(
        TableName=env["resources"]["OrdersTable"], Key={"pk": {"S": f"ORDER#demo#{WH}#{NO}"}, "sk": {"S": "ORDER"}}
    )["Item"]
    item["doc"] = {"B": base64.b64encode(item["doc"]["B"]).decode("ascii")}  # binary is base64 text in Lambda's JSON
    event = load_event("dispatcher/order_created")
    event["Records"][0]["dynamodb"]["NewImage"] = item
    event["Records"][0]["dynamodb"]["Keys"] = {"pk": item["pk"], "sk": item["sk"]}
    return event


def _queued(env: dict[str, Any]) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    messages = sqs.receive_message(QueueUrl=env["resources"]["WmsForwardQueue"], MaxNumberOfMessages=10, AttributeNames=["All"])
    return [dict(message) for message in messages.get("Messages", [])]


def _order(env: dict[str, Any]) -> dict[str, Any]:
    from order_hub import wiring as w

    order = w.order_repository().get("demo", WH, NO)
    assert order is not None
    return order.model_dump(mode="json")


def test_dispatcher_enqueues_one_forward_per_order_event(env: dict[str, Any]) -> None:
    from functions.dispatcher.app import lambda_handler

    _create(env)
    result = lambda_handler(_stream_event_for_first_event(env), FakeContext())
    assert result == {"batchItemFailures": []}
    (message,) = _queued(env)
    body = json.loads(message["Body"])
    assert body["order_no"] == NO and body["seq"] == 1
    assert body["event_id"] == event_id_for(_order_model(env))


def _order_model(env: dict[str, Any]) -> Any:
    order = wiring.order_repository().get("demo", WH, NO)
    assert order is not None
    return order.model_copy(update={"version": 1})


def test_dispatcher_reports_a_broken_record_without_losing_the_others(env: dict[str, Any]) -> None:
    from functions.dispatcher.app import lambda_handler

    _create(env)
    good = _stream_event_for_first_event(env)
    broken = json.loads(json.dumps(good["Records"][0]))
    broken["dynamodb"]["NewImage"]["doc"] = {"S": "{not json"}
    broken["dynamodb"]["SequenceNumber"] = "222"
    result = lambda_handler({"Records": [broken, good["Records"][0]]}, FakeContext())
    assert result == {"batchItemFailures": [{"itemIdentifier": "222"}]}
    assert len(_queued(env)) == 1


def test_forwarder_creates_in_the_wms_once(env: dict[str, Any]) -> None:
    from functions.wms_forwarder.app import lambda_handler

    _create(env)
    event = load_event("wms_forwarder/forward_order")
    assert lambda_handler(event, FakeContext()) == {"batchItemFailures": []}
    assert lambda_handler(event, FakeContext()) == {"batchItemFailures": []}  # redelivered: nothing more
    orders = [o for o in env["sim"].orders() if o["order_no"] == NO]
    assert len(orders) == 1 and orders[0]["status"] == "OPEN"
    order = _order(env)
    assert order["status"] == "CREATED" and order["forward"]["state"] == "forwarded"


def test_forwarder_backs_off_through_sqs_visibility_when_the_wms_is_down(env: dict[str, Any]) -> None:
    from functions.wms_forwarder.app import lambda_handler

    _create(env)
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue = env["resources"]["WmsForwardQueue"]
    sqs.send_message(QueueUrl=queue, MessageBody=load_event("wms_forwarder/forward_order")["Records"][0]["body"])
    (message,) = sqs.receive_message(QueueUrl=queue, AttributeNames=["All"], VisibilityTimeout=1)["Messages"]
    event = load_event("wms_forwarder/forward_order")
    record = event["Records"][0]
    record.update(messageId=message["MessageId"], receiptHandle=message["ReceiptHandle"], body=message["Body"])
    env["sim"].set_faults("error", status=503, count=5)

    result = lambda_handler(event, FakeContext())
    assert result == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
    assert sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0).get("Messages") is None  # hidden for 7 s, not 1 s
    order = _order(env)
    assert order["forward"]["state"] == "retrying" and "503" in order["forward"]["last_error"]


def test_poller_reads_every_tenant_and_applies_changes(env: dict[str, Any]) -> None:
    from functions.status_poller.app import lambda_handler as poll
    from functions.wms_forwarder.app import lambda_handler as forward

    _create(env)
    forward(load_event("wms_forwarder/forward_order"), FakeContext())
    env["sim"].advance(WH, NO, to="PICKING")
    summary = poll(load_event("status_poller/scheduled"), FakeContext(remaining_ms=290_000))
    assert summary["seen"] == 1 and summary["written"] == 1 and summary["completed"]
    assert _order(env)["status"] == "ALLOCATED"
    again = poll(load_event("status_poller/scheduled"), FakeContext(remaining_ms=290_000))
    assert again["written"] == 0


def test_a_poll_that_read_a_stale_order_applies_the_change_on_the_latest_within_its_policy(
    env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The poll's batch read is eventually consistent: a version a moment old loses its conditional
    write; the order is read again (the same BatchGetItem its policy grants, consistently) and the
    change applied in the same run. The session's IAM guard fails the test on any call outside it."""
    from functions.status_poller.app import lambda_handler as poll
    from functions.wms_forwarder.app import lambda_handler as forward

    _create(env)
    repo = wiring.order_repository()
    stale = repo.get("demo", WH, NO)
    forward(load_event("wms_forwarder/forward_order"), FakeContext())
    env["sim"].advance(WH, NO, to="PICKING")
    real = repo.get_many
    replica = {NO: stale}

    def get_many(tenant_id: str, warehouse_id: str, order_nos: list[str], consistent: bool = True) -> Any:
        found = real(tenant_id, warehouse_id, order_nos, consistent)
        return {**found, **{no: replica.pop(no) for no in order_nos if no in replica}} if not consistent else found

    monkeypatch.setattr(repo, "get_many", get_many)
    summary = poll(load_event("status_poller/scheduled"), FakeContext(remaining_ms=290_000))

    assert replica == {} and (summary["written"], summary["raced"], summary["completed"]) == (1, 0, True)
    order = _order(env)
    assert order["status"] == "ALLOCATED" and order["forward"]["state"] == "forwarded"


def test_poller_survives_a_warehouse_outage(env: dict[str, Any]) -> None:
    from functions.status_poller.app import lambda_handler as poll

    env["sim"].set_faults("error", status=500, count=10)
    summary = poll(load_event("status_poller/scheduled"), FakeContext(remaining_ms=290_000))
    assert summary["failed_warehouses"] == 1 and summary["written"] == 0


def test_poller_out_of_time_stops_and_keeps_its_place(env: dict[str, Any]) -> None:
    from functions.status_poller.app import lambda_handler as poll

    summary = poll(load_event("status_poller/scheduled"), FakeContext(remaining_ms=10_000))
    assert summary["completed"] is False and summary["pages"] == 0
    cursor = wiring.tenant_directory().get_cursor("demo", WH)
    assert cursor is not None and cursor["next_page"] == 1


def _planned_endpoints(env: dict[str, Any]) -> list[str]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue = env["resources"]["DeliveryQueue"]
    found: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return sorted(found)
        for message in messages:
            found.append(json.loads(message["Body"])["endpoint_id"])
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])


def _event_record(env: dict[str, Any]) -> Any:
    return wiring.event_store().get_events([("demo", WH, NO, 1)]).get(("demo", WH, NO, 1))


def test_the_dispatcher_sees_an_endpoint_change_at_the_next_event(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """No cache window: an endpoint registered or disabled a moment ago counts for the next event."""
    from functions.dispatcher.app import lambda_handler as dispatch
    from order_hub.models.admin import RegisterEndpointRequest
    from order_hub.services.endpoints import register_endpoint, set_enabled

    monkeypatch.setenv("HUB_ENV", "local")  # the endpoint is on loopback
    wiring.reset()
    _create(env)
    event = _stream_event_for_first_event(env)
    assert dispatch(event, FakeContext()) == {"batchItemFailures": []}
    assert _planned_endpoints(env) == []
    assert _event_record(env) is None  # no delivery: nothing to keep for the worker

    request = RegisterEndpointRequest(endpoint_id="erp", url="http://127.0.0.1:9/hook", format="standard")
    register_endpoint(request, "demo", wiring.endpoint_ports())
    assert dispatch(event, FakeContext()) == {"batchItemFailures": []}
    assert _planned_endpoints(env) == ["erp"]
    stored = _event_record(env)  # what the worker renders and a replay sends again
    assert stored is not None and stored.type == "order.created" and stored.event_id == event_id_for(_order_model(env))

    set_enabled(wiring.endpoint_registry(), "demo", "erp", False, "paused")
    assert dispatch(event, FakeContext()) == {"batchItemFailures": []}
    assert _planned_endpoints(env) == []


def _planned(env: dict[str, Any]) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue = env["resources"]["DeliveryQueue"]
    found: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            body = json.loads(message["Body"])
            found.extend(body.get("deliveries", [body]))  # a bundle's deliveries, or a single one
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return sorted(found, key=lambda m: (m["seq"], m["endpoint_id"]))


def test_the_dispatcher_links_each_delivery_to_the_orders_previous_event_at_its_endpoint(
    env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stored event carries the chain; a stream record seen again (another batch) keeps its links
    and Increff message ids; the ids come from one counter write per block."""
    from functions.dispatcher.app import lambda_handler as dispatch
    from functions.orders_api.app import lambda_handler as orders_api
    from order_hub.models.admin import RegisterEndpointRequest
    from order_hub.services.endpoints import register_endpoint
    from tests.outbox import stream_images

    monkeypatch.setenv("HUB_ENV", "local")  # the endpoints are on loopback
    wiring.reset()
    for endpoint_id, fmt in (("erp", "standard"), ("omni", "increff")):
        request = RegisterEndpointRequest(endpoint_id=endpoint_id, url=f"http://127.0.0.1:9/{endpoint_id}", format=fmt)
        register_endpoint(request, "demo", wiring.endpoint_ports())
    _create(env)
    cancel = {"data": {"cancellation": {"order_no": NO, "warehouse_id": WH, "cancel_reason": "test"}}}
    assert orders_api(api_event("orders_api/cancel_order", env["key"], body=cancel), FakeContext())["statusCode"] == 200
    template = load_event("dispatcher/order_created")["Records"][0]
    records = []
    for n, image in enumerate(
        i for i in stream_images(env["resources"]["OrdersTable"]) if i["pk"]["S"] == f"ORDER#demo#{WH}#{NO}"
    ):
        record = json.loads(json.dumps(template))
        record["dynamodb"].update(
            NewImage={**image, "doc": {"B": base64.b64encode(image["doc"]["B"]).decode("ascii")}},
            Keys={"pk": image["pk"], "sk": image["sk"]},
            SequenceNumber=str(100 + n),
        )
        records.append(record)
    assert len(records) == 2

    assert dispatch({"Records": records}, FakeContext()) == {"batchItemFailures": []}  # one batch: created, cancelled
    first = _planned(env)
    assert dispatch({"Records": records[1:]}, FakeContext()) == {"batchItemFailures": []}  # the cancel again, later
    again = _planned(env)

    links = [(m["seq"], m["endpoint_id"], m["prev_seq"], m["message_id"]) for m in first]
    assert links == [(1, "erp", None, None), (1, "omni", None, 1), (2, "erp", 1, None), (2, "omni", 1, 2)]
    assert again == first[2:]  # the same links and the same messageId
    client = boto3.client("dynamodb", region_name="us-east-1")
    stored = client.get_item(
        TableName=env["resources"]["OrdersTable"], Key={"pk": {"S": f"ORDER#demo#{WH}#{NO}"}, "sk": {"S": f"EVENT#{2:012d}"}}
    )["Item"]
    assert stored["last_at"] == {"M": {"erp": {"N": "2"}, "omni": {"N": "2"}}}
    assert stored["prev_at"] == {"M": {"erp": {"N": "1"}, "omni": {"N": "1"}}}
    assert stored["message_ids"] == {"M": {"omni": {"N": "2"}}}
    counter = client.get_item(
        TableName=env["resources"]["DeliveriesTable"], Key={"pk": {"S": "COUNTER#demo#omni"}, "sk": {"S": "MESSAGE_ID"}}
    )["Item"]
    assert counter["n"] == {"N": "100"}  # one block of 100 taken: one write for both ids


# -- updates of orders the WMS holds are decided with the WMS, synchronously ------------------------


def _forwarded(env: dict[str, Any]) -> None:
    from functions.wms_forwarder.app import lambda_handler

    _create(env)
    assert lambda_handler(load_event("wms_forwarder/forward_order"), FakeContext()) == {"batchItemFailures": []}
    assert _order(env)["forward"]["state"] == "forwarded"


def _put(env: dict[str, Any], **changes: Any) -> dict[str, Any]:
    from functions.orders_api.app import lambda_handler

    body = json.loads(load_event("orders_api/create_order")["body"])
    body.update(changes)
    response: dict[str, Any] = lambda_handler(api_event("orders_api/update_order", env["key"], body=body), FakeContext())
    return {"status": response["statusCode"], "body": json.loads(response["body"])}


def _lines_in_the_wms(env: dict[str, Any]) -> list[tuple[str, int]]:
    return [(line["sku"], line["qty_ordered"]) for line in env["sim"].order(WH, NO)["lines"]]


BIGGER = [
    {"sku": "TSHIRT-BLK-M", "name": "T-Shirt Black M", "uom": "PCS", "qty": 5, "unit_price": 75000},
]


def test_an_update_of_a_forwarded_order_reaches_the_wms_before_the_answer(env: dict[str, Any]) -> None:
    _forwarded(env)
    reply = _put(env, items=BIGGER)
    assert reply["status"] == 200, reply
    assert _lines_in_the_wms(env) == [("TSHIRT-BLK-M", 5)]  # the warehouse has it now, not after a queue hop
    order = _order(env)
    assert [(line["sku"], line["qty_ordered"]) for line in order["lines"]] == [("TSHIRT-BLK-M", 5)]
    assert order["forward"]["forwarded_body_hash"] == order["body_hash"]


def test_an_update_after_the_wms_allocated_is_400_and_changes_nothing(env: dict[str, Any]) -> None:
    _forwarded(env)
    env["sim"].advance(WH, NO, to="ALLOCATED")  # the hub has not polled yet: it still says CREATED
    before = _order(env)

    reply = _put(env, items=BIGGER)

    assert reply["status"] == 400 and [e["code"] for e in reply["body"]["metadata"]["errors"]] == [810]
    assert "the warehouse refused" in reply["body"]["metadata"]["errors"][0]["message"]
    assert _order(env) == before and _lines_in_the_wms(env) == [("TSHIRT-BLK-M", 2), ("CAP-RED", 1)]


def test_an_update_while_the_wms_is_down_is_503_and_changes_nothing(env: dict[str, Any]) -> None:
    _forwarded(env)
    env["sim"].set_faults("error", status=503, count=1)
    before = _order(env)

    reply = _put(env, items=BIGGER)

    assert reply["status"] == 503 and [e["code"] for e in reply["body"]["metadata"]["errors"]] == [803]
    assert _order(env) == before and _lines_in_the_wms(env) == [("TSHIRT-BLK-M", 2), ("CAP-RED", 1)]


def test_an_identical_update_of_an_allocated_order_says_so(env: dict[str, Any]) -> None:
    from functions.status_poller.app import lambda_handler

    _forwarded(env)
    assert _put(env)["status"] == 200  # identical, still changeable: nothing to do
    env["sim"].advance(WH, NO, to="ALLOCATED")
    lambda_handler(load_event("status_poller/scheduled"), FakeContext(remaining_ms=290_000))
    assert _order(env)["status"] == "ALLOCATED"

    reply = _put(env)

    assert reply["status"] == 400
    message = reply["body"]["metadata"]["errors"][0]["message"]
    assert "already allocated stock (status ALLOCATED)" in message and "its details already equal this body" in message


def test_the_poll_finds_the_rest_of_a_partly_shipped_order_cancelled_by_the_wms(env: dict[str, Any]) -> None:
    from functions.status_poller.app import lambda_handler as poll

    _forwarded(env)
    sim = env["sim"]
    sim.set_webhooks(enabled=False)  # no hub URL in this test: the poll repairs the PGI
    sim.advance(WH, NO, to="SHIPPED", ship_qty={"TSHIRT-BLK-M": 1, "CAP-RED": 0})
    summary = poll(load_event("status_poller/scheduled"), FakeContext(remaining_ms=290_000))
    assert summary["written"] == 1  # the PGI repair: one package, quantity still open
    order = _order(env)
    assert order["status"] == "CLOSED" and [line["qty_shipped"] for line in order["lines"]] == [1, 0]

    sim.cancel_rest(WH, NO)
    summary = poll(load_event("status_poller/scheduled"), FakeContext(remaining_ms=290_000))

    assert summary["written"] == 1 and summary["conflicts"] == 0
    order = _order(env)
    assert order["status"] == "CLOSED" and order["wms_status"] == "CLOSED"
    assert [(line["qty_shipped"], line["qty_cancelled"]) for line in order["lines"]] == [(1, 1), (0, 1)]
    again = poll(load_event("status_poller/scheduled"), FakeContext(remaining_ms=290_000))
    assert again["written"] == 0
