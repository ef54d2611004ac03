"""orders_api under moto: HTTP-shaped event in, stored state and envelope out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from order_hub import wiring
from order_hub.models.status import ApiStatus
from tests.integration.conftest import Hub, Invoke
from tests.outbox import event_types, order_events
from tests.payloads import cancel_body, order_body

ORDER_PK = "ORDER#acme#WH-TGR04#SO-2026-0001"
DETAIL = {"warehouse_id": "WH-TGR04", "order_no": "SO-2026-0001"}


def _set_status(status: ApiStatus) -> None:
    repo = wiring.order_repository()
    order = repo.get("acme", "WH-TGR04", "SO-2026-0001")
    assert order is not None
    moved = order.model_copy(update={"status": status, "version": order.version + 1})
    from order_hub.services.orders import make_event

    repo.replace(moved, order.version, make_event(moved, "order.status_changed", "poller"))


def test_create_stores_the_order_and_its_event_in_one_write(hub: Hub, invoke: Invoke) -> None:
    invoke("list_orders")  # warms the auth cache
    hub.calls.clear()

    reply = invoke("create_order")

    assert reply.status == 200
    assert reply.body["metadata"]["http_status_code"] == 200 and "errors" not in reply.body["metadata"]
    assert reply.body["data"]["so_status"] == "REGISTERED" and reply.body["data"]["version"] == 1
    assert reply.headers["x-request-id"] == "example-request-1"
    assert reply.headers["x-idempotent-replay"] == "false"
    # the day's count, then the order's conditional put (no transaction); auth served from cache, the
    # tenant's request counted in memory (services.request_limits: no counter write below a batch)
    assert hub.calls == ["UpdateItem", "PutItem"]
    items = {item["sk"]["S"]: item for item in hub.raw_items(ORDER_PK)}
    assert set(items) == {"ORDER"}  # the event rides on the order's own write: the stream is the outbox
    assert items["ORDER"]["version"]["N"] == "1"
    [event] = order_events(hub.tables["OrdersTable"], ORDER_PK)
    assert event.type == "order.created" and event.order.payment.cod_amount == 185000


def _day_counts(hub: Hub, tenant: str = "acme") -> dict[str, int]:
    return {
        f"{item['sk']['S']}/{name}": int(value["N"])
        for item in hub.raw_items(f"COUNTS#{tenant}")
        for name, value in item.items()
        if name.startswith("c") and len(name) == 3
    }


def test_identical_create_returns_the_original_and_writes_nothing(hub: Hub, invoke: Invoke) -> None:
    first = invoke("create_order")
    again = invoke("create_order")

    assert again.status == 200 and again.headers["x-idempotent-replay"] == "true"
    assert again.body["data"] == first.body["data"]
    assert len(hub.raw_items(ORDER_PK)) == 1
    assert len(order_events(hub.tables["OrdersTable"], ORDER_PK)) == 1
    assert list(_day_counts(hub).values()) == [1]  # the replay took its count back: counted once
    unfiltered = invoke("list_orders", query={"page": "1", "limit": "20"})  # its total is the day counts' sum
    assert unfiltered.body["pagination"]["total_elements"] == 1


def test_a_create_interrupted_between_its_two_writes_counts_one_too_many_never_too_few(
    hub: Hub, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The day's count is written first, then the order: a function that stops in between leaves the count
    one high (the client's retry stores the order and counts it again), so the order is still listed."""
    from order_hub.adapters.aws import dynamodb_client

    client = dynamodb_client()
    real_put = client.put_item

    def dies_before_the_put(**request: Any) -> Any:
        raise TimeoutError("the function stopped here")

    monkeypatch.setattr(client, "put_item", dies_before_the_put)
    assert invoke("create_order").status == 500
    monkeypatch.setattr(client, "put_item", real_put)
    assert hub.raw_items(ORDER_PK) == [] and list(_day_counts(hub).values()) == [1]

    retried = invoke("create_order")

    assert retried.status == 200 and retried.headers["x-idempotent-replay"] == "false"
    assert list(_day_counts(hub).values()) == [2]  # one too many, never too few
    listed = invoke("list_orders", query={"page": "1", "limit": "20"}).body  # its total is the day counts' sum
    assert [item["order_no"] for item in listed["data"]["outbounds"]] == ["SO-2026-0001"]
    assert listed["pagination"]["total_elements"] == 2


def test_a_create_put_the_sdk_retried_after_a_lost_answer_is_counted_once(
    hub: Hub, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The put reached DynamoDB but its answer was lost: the SDK's retry meets the order it stored itself."""
    from order_hub.adapters.aws import dynamodb_client

    client = dynamodb_client()
    real_put = client.put_item

    def stored_then_retried(**request: Any) -> Any:
        real_put(**request)
        return real_put(**request)

    monkeypatch.setattr(client, "put_item", stored_then_retried)
    created = invoke("create_order")
    monkeypatch.setattr(client, "put_item", real_put)

    assert created.status == 200 and created.headers["x-idempotent-replay"] == "false"
    assert list(_day_counts(hub).values()) == [1]


def test_create_with_another_body_is_a_409_conflict(invoke: Invoke) -> None:
    invoke("create_order")
    reply = invoke("create_order", body=order_body(consignee="Someone Else"))
    assert reply.status == 409 and reply.codes == [810]
    assert "different body" in reply.body["metadata"]["errors"][0]["message"]


def test_invalid_create_names_each_field_and_stores_nothing(hub: Hub, invoke: Invoke) -> None:
    reply = invoke("create_order_invalid")
    assert reply.status == 400 and set(reply.codes) == {810}
    assert {"so_number", "items"} <= set(reply.fields)
    assert hub.raw_items("ORDER#acme#WH-TGR04#BAD#NO") == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("{not json", "body"),
        (None, "body"),
        ("[]", "body"),
        (
            json.dumps(order_body(payment={"method": "COD", "currency": "IDR", "total_amount": "lots"})),
            "payment.total_amount",
        ),
        (json.dumps(order_body(warehouse_id="WH-NOT-MINE")), "warehouse_id"),
        # '.' and '..' are path steps: the WMS detail URL would normalise them away
        (json.dumps(order_body(so_number=".")), "so_number"),
        (json.dumps(order_body(so_number="..")), "so_number"),
    ],
)
def test_malformed_bodies_are_400_810_never_5xx(invoke: Invoke, body: str | None, field: str) -> None:
    reply = invoke("create_order", body=body)
    assert reply.status == 400 and 810 in reply.codes
    assert field in reply.fields
    assert "Traceback" not in json.dumps(reply.body)


@pytest.mark.parametrize("api_key", ["", "ohk_deadbeef_unknown", "garbage"])
def test_missing_or_unknown_key_is_401_802(invoke: Invoke, api_key: str) -> None:
    reply = invoke("create_order", api_key=api_key or None, tenant=None)
    assert reply.status == 401 and reply.codes == [802]


def test_revoked_key_is_refused(hub: Hub, invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    from order_hub.services import tenants

    directory = wiring.tenant_directory()
    key_id = directory.list_keys("acme")[0].key_id
    tenants.revoke_api_key(directory, "acme", key_id)
    wiring.authenticator.cache_clear()  # a fresh container; warm ones follow within AUTH_CACHE_TTL_SECONDS
    assert invoke("list_orders").codes == [802]


def test_other_tenants_see_404_not_403(invoke: Invoke) -> None:
    invoke("create_order")
    assert invoke("detail_oms", tenant="rival", path_parameters=DETAIL).status == 404
    assert invoke("cancel_order", tenant="rival").status == 404
    listed = invoke("list_orders", tenant="rival")
    assert listed.body["data"]["outbounds"] == [] and listed.body["pagination"]["total_elements"] == 0
    assert invoke("detail_oms", path_parameters=DETAIL).status == 200


def test_update_before_allocation_then_refused_after(hub: Hub, invoke: Invoke) -> None:
    invoke("create_order")
    updated = invoke("update_order")
    assert updated.status == 200 and updated.body["data"]["version"] == 2
    detail = invoke("detail_oms", path_parameters=DETAIL).body["data"]["outbound"]
    assert detail["consignee_name"] == "Siti Rahma" and detail["notes"] == "call before delivery"

    _set_status(ApiStatus.ALLOCATED)
    refused = invoke("update_order", body=order_body(notes="too late"))
    assert refused.status == 400 and refused.codes == [810]
    assert "allocated" in refused.body["metadata"]["errors"][0]["message"]


def test_update_of_an_unknown_order_is_404(invoke: Invoke) -> None:
    assert invoke("update_order").status == 404


def test_cancel_follows_the_seed(hub: Hub, invoke: Invoke) -> None:
    invoke("create_order")
    reply = invoke("cancel_order")
    assert reply.status == 200 and set(reply.body) == {"metadata"}
    assert reply.body["metadata"]["path"] == "/v3/fulfillment/outbound/oms/cancel"

    detail = invoke("detail_oms", path_parameters=DETAIL).body["data"]["outbound"]
    assert detail["so_status"] == "CANCELLED" and detail["cancel_reason"] == "buyer cancelled"
    assert all(line["qty_cancelled"] == line["qty_ordered"] for line in detail["details"])
    assert event_types(hub.tables["OrdersTable"], ORDER_PK) == ["order.created", "order.cancelled"]

    assert reply.headers["x-idempotent-replay"] == "false"
    again = invoke("cancel_order")  # a client that lost the first answer retries: the same success
    assert again.status == 200 and again.headers["x-idempotent-replay"] == "true"
    assert len(event_types(hub.tables["OrdersTable"], ORDER_PK)) == 2

    other_reason = invoke("cancel_order", cancel_body(reason="changed my mind"))
    assert other_reason.status == 400 and "already CANCELLED" in other_reason.body["metadata"]["errors"][0]["message"]


def test_cancel_after_allocation_is_810(invoke: Invoke) -> None:
    invoke("create_order")
    _set_status(ApiStatus.ALLOCATED)
    reply = invoke("cancel_order")
    assert reply.status == 400 and reply.codes == [810]
    assert "allocated stock" in reply.body["metadata"]["errors"][0]["message"]


def test_cancel_body_in_another_shape_names_the_field(invoke: Invoke) -> None:
    reply = invoke("cancel_order", body={"cancellation": cancel_body()["data"]["cancellation"]})
    assert reply.status == 400 and {"data", "cancellation"} <= set(reply.fields)


def test_list_queries_an_index_pages_and_filters(hub: Hub, invoke: Invoke) -> None:
    for n in range(5):
        warehouse = "WH-TGR04" if n % 2 == 0 else "WH-CGK09"
        assert invoke("create_order", body=order_body(so_number=f"SO-{n}", warehouse_id=warehouse)).status == 200
    hub.calls.clear()

    page = invoke("list_orders", query={"page": "2", "limit": "2"})
    assert page.status == 200
    assert page.body["pagination"] == {
        "current_page": 2,
        "current_elements": 2,
        "total_pages": 3,
        "total_elements": 5,
        "total_exact": True,
    }
    assert [o["order_no"] for o in page.body["data"]["outbounds"]] == ["SO-2", "SO-1"]
    assert "Scan" not in hub.calls and "Query" in hub.calls

    tgr = invoke("list_orders", query={"warehouse_id": "WH-TGR04", "so_status": "REGISTERED"})
    assert {o["order_no"] for o in tgr.body["data"]["outbounds"]} == {"SO-0", "SO-2", "SO-4"}
    assert invoke("list_orders", query={"so_status": "CANCELLED"}).body["pagination"]["total_elements"] == 0
    wms = invoke("list_orders", path_parameters={"outbound_type": "WMS"}, query={})
    assert wms.status == 200 and wms.body["pagination"]["total_elements"] == 0  # all still REGISTERED


@pytest.mark.parametrize(
    "query",
    [
        {"page": "0"},
        {"limit": "1000"},
        {"created_start": "23-11-2026"},
        {"so_status": "SHIPPED"},
        {"order_type": "XX"},
        {"updated_start": "0"},
        {"created_end": "1700000000"},
        {"updated_start": "2026-03-02", "updated_end": "2026-03-01"},
    ],
)
def test_bad_list_filters_are_810(invoke: Invoke, query: dict[str, str]) -> None:
    reply = invoke("list_orders", query=query)
    assert reply.status == 400 and 810 in reply.codes


def test_created_and_updated_ranges_combine(invoke: Invoke) -> None:
    invoke("create_order")
    today = invoke("list_orders").body["data"]["outbounds"][0]["created_at"][:10]
    both = invoke("list_orders", query={"created_start": today, "updated_end": today})
    assert both.status == 200 and both.body["pagination"]["total_elements"] == 1
    none = invoke("list_orders", query={"created_start": today, "updated_end": "2000-01-01"})
    assert none.status == 200 and none.body["pagination"]["total_elements"] == 0


@pytest.mark.parametrize("query", [{"created_end": "2000-01-01"}, {"created_start": "2000-01-01"}, {"updated_end": "2099-12-31"}])
def test_open_ended_ranges_work(invoke: Invoke, query: dict[str, str]) -> None:
    invoke("create_order")
    reply = invoke("list_orders", query=query)
    assert reply.status == 200
    expected = 0 if query.get("created_end") == "2000-01-01" else 1
    assert reply.body["pagination"]["total_elements"] == expected


def test_unroutable_path_parameters_are_404_not_500(invoke: Invoke) -> None:
    reply = invoke("detail_oms", path_parameters={"warehouse_id": " ", "order_no": "\U0006f2a0"})
    assert reply.status in (400, 404) and reply.codes == [810]


def test_non_json_content_type_is_415_810(invoke: Invoke) -> None:
    reply = invoke("cancel_order", headers={"Content-Type": "text/plain"})
    assert reply.status == 415 and reply.codes == [810] and reply.fields == ["Content-Type"]


def test_undecodable_body_is_400(invoke: Invoke) -> None:
    reply = invoke("cancel_order", base64_body=b"\xce")
    assert reply.status == 400 and reply.fields == ["body"]


def test_detail_oms_and_wms_use_shipper_fields(invoke: Invoke) -> None:
    invoke("create_order")
    oms = invoke("detail_oms", path_parameters=DETAIL)
    outbound = oms.body["data"]["outbound"]
    assert outbound["payment_type"] == "COD" and outbound["currency"] == "IDR" and outbound["total_amount"] == 185000
    assert outbound["so_reference_2"] == "SO-2026-0001" and outbound["order_time"] == "2026-11-23T02:15:00Z"
    assert [d["line_id"] for d in outbound["details"]] == ["SO-2026-0001-1", "L-2"]

    not_yet = invoke("detail_wms", path_parameters=DETAIL)
    assert not_yet.status == 404 and "REGISTERED" in not_yet.body["metadata"]["errors"][0]["message"]
    _set_status(ApiStatus.CREATED)
    wms = invoke("detail_wms", path_parameters=DETAIL).body["data"]["outbound"]
    assert [d["order_line"] for d in wms["details"]] == [0, 1] and wms["details"][0]["qty_ordered"] == 2


def test_a_client_reads_its_own_writes_the_detail_read_is_strongly_consistent(invoke: Invoke) -> None:
    from order_hub.adapters.aws import dynamodb_client

    reads: list[tuple[str, bool]] = []

    def seen(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key", {}).get("sk", {}).get("S") == "ORDER":
            reads.append((params["Key"]["pk"]["S"], bool(params.get("ConsistentRead"))))

    client = dynamodb_client()
    client.meta.events.register("provide-client-params.dynamodb.GetItem", seen)
    try:
        invoke("create_order")
        assert invoke("detail_oms", path_parameters=DETAIL).status == 200
        assert invoke("update_order", body=order_body(notes="later")).status == 200
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb.GetItem", seen)
    assert len(reads) >= 2 and all(consistent for _, consistent in reads)  # a replica a moment behind could miss the create


def test_unknown_order_and_warehouse_are_404(invoke: Invoke) -> None:
    assert invoke("detail_oms", path_parameters={"warehouse_id": "WH-TGR04", "order_no": "NOPE"}).status == 404
    assert invoke("detail_oms", path_parameters={"warehouse_id": "WH-ELSE", "order_no": "NOPE"}).status == 404


def test_internal_errors_are_500_803_without_internals(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*_: object, **__: object) -> None:
        raise RuntimeError("secret connection string")

    monkeypatch.setattr(wiring.order_repository(), "insert", explode)
    reply = invoke("create_order")
    assert reply.status == 500 and reply.codes == [803]
    assert "secret" not in json.dumps(reply.body)


def test_request_id_is_generated_when_absent(invoke: Invoke) -> None:
    reply = invoke("list_orders", headers={"x-request-id": "has spaces so it is not echoed"})
    assert reply.headers["x-request-id"] and " " not in reply.headers["x-request-id"]


def test_a_fulfilment_logistics_tenant_must_send_the_tracking_id(hub: Hub, invoke: Invoke) -> None:
    from order_hub.services import tenants

    tenants.set_require_tracking_id(wiring.tenant_directory(), "acme", True)
    wiring.authenticator.cache_clear()  # the key's tenant profile is cached per container

    refused = invoke("create_order", order_body(so_number="SO-FL-1"))
    created = invoke("create_order", order_body(so_number="SO-FL-2", tracking_id="2CQJADENEAU"))

    assert (refused.status, refused.codes, refused.fields) == (400, [810], ["tracking_id"])
    assert created.status == 200
    assert [item["sk"]["S"] for item in hub.raw_items("ORDER#acme#WH-TGR04#SO-FL-1")] == []
