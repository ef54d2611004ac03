"""The dispatcher sends a stream batch's messages per queue in SendMessageBatch calls of up to 10
entries (issue 15), and reports exactly the records whose messages a queue did not accept, with
every record after them (Lambda retries the shard from the first one reported)."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from local_stack.harness import FakeContext, api_event, load_event
from local_stack.testkit import MotoHubFactory
from order_hub import wiring
from order_hub.adapters import queues
from order_hub.models.admin import RegisterEndpointRequest
from order_hub.services.endpoints import register_endpoint

WH = "WH-TGR04"
RECORDS = 25


@pytest.fixture
def hub(moto_hub_factory: MotoHubFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("HUB_ENV", "local")  # the endpoints are on loopback
    made = moto_hub_factory(tenants={"demo": [WH]})
    wiring.reset()
    for endpoint_id in ("erp", "crm"):
        request = RegisterEndpointRequest(endpoint_id=endpoint_id, url=f"http://127.0.0.1:9/{endpoint_id}", format="standard")
        register_endpoint(request, "demo", wiring.endpoint_ports())
    yield {"resources": made.resources, "key": made.api_keys["demo"]}


def _records(hub: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """``count`` created orders, as the stream hands their first versions to the dispatcher."""
    from functions.orders_api.app import lambda_handler as orders_api

    body = json.loads(api_event("orders_api/create_order", hub["key"])["body"])
    client = boto3.client("dynamodb", region_name="us-east-1")
    template = load_event("dispatcher/order_created")["Records"][0]
    records = []
    for n in range(count):
        so = f"SO-B-{n:03d}"
        response = orders_api(api_event("orders_api/create_order", hub["key"], body={**body, "so_number": so}), FakeContext())
        assert response["statusCode"] == 200, response
        item: dict[str, Any] = client.get_item(
            TableName=hub["resources"]["OrdersTable"], Key={"pk": {"S": f"ORDER#demo#{WH}#{so}"}, "sk": {"S": "ORDER"}}
        )["Item"]
        item["doc"] = {"B": base64.b64encode(item["doc"]["B"]).decode("ascii")}  # binary is base64 text in Lambda's JSON
        record = copy.deepcopy(template)
        record["dynamodb"].update(NewImage=item, Keys={"pk": item["pk"], "sk": item["sk"]}, SequenceNumber=f"{1000 + n}")
        records.append(record)
    return records


def _drain(queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    bodies: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [json.loads(m["Body"]) for m in messages]
        sqs.delete_message_batch(
            QueueUrl=queue_url, Entries=[{"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in messages]
        )
    return bodies


class Calls:
    """Wraps the SQS client's SendMessageBatch: counts calls per queue, and can refuse one entry."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, refuse: tuple[str, int] | None = None) -> None:
        self.calls: list[tuple[str, int]] = []
        self.refuse = refuse
        client = queues.sqs_client()
        real = client.send_message_batch

        def send_message_batch(**kwargs: Any) -> Any:
            name = kwargs["QueueUrl"].rsplit("/", 1)[-1]
            entries = kwargs["Entries"]
            self.calls.append((name, len(entries)))
            refuse = self.refuse
            refused = [e for e in entries if refuse is not None and name.endswith(refuse[0]) and e["Id"] == str(refuse[1])]
            response = real(**{**kwargs, "Entries": [e for e in entries if e not in refused]})
            response["Failed"] = [{"Id": e["Id"], "SenderFault": False, "Code": "InternalError"} for e in refused]
            return response

        monkeypatch.setattr(client, "send_message_batch", send_message_batch)


def _pairs(bundles: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(d["order_no"], d["endpoint_id"]) for b in bundles for d in b.get("deliveries", [b])}


def _orders(numbers: range) -> set[tuple[str, str]]:
    return {(f"SO-B-{n:03d}", endpoint) for n in numbers for endpoint in ("crm", "erp")}


def test_25_records_go_out_in_3_send_message_batch_calls_and_their_deliveries_in_bundles(
    hub: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.dispatcher.app import lambda_handler as dispatcher

    records = _records(hub, RECORDS)
    calls = Calls(monkeypatch)

    assert dispatcher({"Records": records}, FakeContext()) == {"batchItemFailures": []}

    forward_queue, delivery_queue = (hub["resources"][name].rsplit("/", 1)[-1] for name in ("WmsForwardQueue", "DeliveryQueue"))
    # 25 forwards in 3 calls; 50 deliveries (2 endpoints) in 5 bundles of 10, one call
    assert calls.calls == [(forward_queue, 10), (forward_queue, 10), (forward_queue, 5), (delivery_queue, 5)]
    forwards = _drain(hub["resources"]["WmsForwardQueue"])
    assert sorted(f["order_no"] for f in forwards) == [f"SO-B-{n:03d}" for n in range(RECORDS)]
    bundles = _drain(hub["resources"]["DeliveryQueue"])
    assert [len(b["deliveries"]) for b in bundles] == [10] * 5
    assert _pairs(bundles) == _orders(range(RECORDS))  # every event's both endpoints, each once


def test_a_batch_reads_each_tenants_endpoints_once(hub: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.dispatcher.app import lambda_handler as dispatcher

    records = _records(hub, 5)
    registry = wiring.endpoint_registry()
    reads: list[str] = []
    real = registry.list_endpoints

    def list_endpoints(tenant_id: str) -> Any:
        reads.append(tenant_id)
        return real(tenant_id)

    monkeypatch.setattr(registry, "list_endpoints", list_endpoints)
    assert dispatcher({"Records": records[:3]}, FakeContext()) == {"batchItemFailures": []}
    assert reads == ["demo"]  # 3 events of one tenant: one read
    request = RegisterEndpointRequest(endpoint_id="wms-audit", url="http://127.0.0.1:9/audit", format="standard")
    register_endpoint(request, "demo", wiring.endpoint_ports())
    assert dispatcher({"Records": records[3:]}, FakeContext()) == {"batchItemFailures": []}
    assert reads == ["demo", "demo"]  # the next batch reads again, and sees the new endpoint
    bundles = _drain(hub["resources"]["DeliveryQueue"])
    audited = {d["order_no"] for b in bundles for d in b["deliveries"] if d["endpoint_id"] == "wms-audit"}
    assert audited == {"SO-B-003", "SO-B-004"}


def test_a_refused_message_fails_its_records_and_every_later_one(hub: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.dispatcher.app import lambda_handler as dispatcher

    records = _records(hub, RECORDS)
    calls = Calls(monkeypatch, refuse=("WmsForwardQueue", 13))  # the forward queue refuses record 13's forward

    result = dispatcher({"Records": records}, FakeContext())

    assert result == {"batchItemFailures": [{"itemIdentifier": f"{1000 + n}"} for n in range(13, RECORDS)]}
    sent = _pairs(_drain(hub["resources"]["DeliveryQueue"]))
    assert sent == _orders(range(13))  # nothing of record 13 or later goes to the delivery queue

    # Lambda retries the shard from the first reported record: nothing is lost
    calls.refuse = ("DeliveryQueue", 1)  # now the delivery queue refuses the bundle of records 18-22
    result = dispatcher({"Records": records[13:]}, FakeContext())
    assert result == {"batchItemFailures": [{"itemIdentifier": f"{1000 + n}"} for n in range(18, RECORDS)]}
    sent |= _pairs(_drain(hub["resources"]["DeliveryQueue"]))
    calls.refuse = None
    assert dispatcher({"Records": records[18:]}, FakeContext()) == {"batchItemFailures": []}
    sent |= _pairs(_drain(hub["resources"]["DeliveryQueue"]))
    assert sent == _orders(range(RECORDS))


def test_a_send_message_batch_call_stays_within_10_entries_and_256_kb(
    hub: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = Calls(monkeypatch)
    big = ["x" * (30 * 1024)] * 12  # 8 of them fit in 256 KiB, 9 do not
    small = ["{}"] * 12

    assert queues.send_accepted(hub["resources"]["DeliveryQueue"], big) == 12
    assert queues.send_accepted(hub["resources"]["DeliveryQueue"], small) == 12

    assert [n for _, n in calls.calls] == [8, 4, 10, 2]
    sqs = boto3.client("sqs", region_name="us-east-1")
    attributes = sqs.get_queue_attributes(
        QueueUrl=hub["resources"]["DeliveryQueue"], AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "24"
