"""POST /v3/fulfillment/pricing/domestic end to end: the orders_api handler in-process under moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from local_stack.harness import load_event, put_secret
from order_hub import wiring
from order_hub.adapters.ratecards import DynamoRateCardStore
from tests.integration.conftest import Hub, Invoke

EVENT = "pricing_domestic"


@pytest.fixture(autouse=True)
def _fresh_pricing() -> Iterator[None]:
    wiring.reset()  # the pricing service, its cache and provider choices are per container too
    yield
    wiring.reset()


def body(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = json.loads(load_event(f"orders_api/{EVENT}")["body"])
    base.update(changes)
    return base


def tenant_card(per_kg: int = 1000) -> dict[str, Any]:
    return {
        "zones": {"ALL": [4711, 1401]},
        "services": [
            {
                "logistic": {"id": 900, "name": "Own Fleet", "code": "own"},
                "rate": {"id": 901, "name": "Van", "type": "regular"},
                "lanes": [
                    {"origin": "ALL", "destination": "ALL", "base_price": 0, "per_kg_price": per_kg, "min_day": 1, "max_day": 1}
                ],
            }
        ],
    }


def test_prices_with_the_built_in_card_cheapest_first(invoke: Invoke) -> None:
    reply = invoke(EVENT)

    assert reply.status == 200 and reply.headers["x-cache"] == "miss"
    assert reply.headers["x-request-id"] == "example-pricing-1"
    metadata = reply.body["metadata"]
    assert (
        metadata["path"] == "/v3/fulfillment/pricing/domestic"
        and metadata["http_status_code"] == 200
        and "errors" not in metadata
    )
    data = reply.body["data"]
    # 3 kg chargeable (2 x 1 kg volumetric + 0.4 kg volumetric = 2.4 -> 3), JAKARTA -> BANDUNG, COD 3 % of 185 000,
    # insurance 0.2 % of 185 000 = 370 -> the 1 000 minimum
    assert data["pricings"] == [
        {
            "logistic": {"id": 6, "name": "SiCepat", "code": "sicepat"},
            "rate": {"id": 20, "name": "REG", "type": "regular"},
            "final_price": 34500 - 1725 + 1000 + 5550,
            "insurance_fee": 1000,
            "discount": 1725,
            "min_day": 2,
            "max_day": 3,
            "currency": "IDR",
        },
        {
            "logistic": {"id": 4, "name": "JNE", "code": "jne"},
            "rate": {"id": 4, "name": "REG", "type": "regular"},
            "final_price": 2000 + 36000 + 1000 + 5550,
            "insurance_fee": 1000,
            "discount": 0,
            "min_day": 2,
            "max_day": 3,
            "currency": "IDR",
        },
    ]
    assert data["pricing_errors"] == []


def test_every_rate_type_when_none_is_asked_and_not_served_couriers_are_listed(invoke: Invoke) -> None:
    reply = invoke(EVENT, body=body(rate_type_id=None, cod=False))
    assert reply.status == 200
    prices = [p["final_price"] for p in reply.body["data"]["pricings"]]
    assert prices == sorted(prices) and {p["rate"]["type"] for p in reply.body["data"]["pricings"]} == {"regular", "express"}
    assert {e["logistic_id"] for e in reply.body["data"]["pricing_errors"]} == {21}  # GoSend: same city only
    assert all(e["code"] == 810 for e in reply.body["data"]["pricing_errors"])


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"origin": {"lat": "-6.2", "lng": "106.8"}}, ["origin.area_id"]),
        ({"rate_type_id": "instant", "origin": {"area_id": 4711}}, ["origin.lat", "origin.lng"]),
        ({"rate_type_id": "same-day", "destination": {"area_id": 1401, "lat": "-6.9"}}, ["destination.lng"]),
        ({"rate_type_id": "overnight"}, ["rate_type_id"]),
        ({"skus": []}, ["skus"]),
        ({"for_order": "yes"}, ["for_order"]),
        ({"skus": [{"height": 1, "length": 1, "width": 1, "weight": "1"}]}, ["skus[0].weight"]),
        ({"skus": [{"height": 1.5, "length": 1, "width": 1, "weight": 1, "qty": 0}]}, ["skus[0].height", "skus[0].qty"]),
        ({"order_price": 10.5}, ["order_price"]),
        ({"surprise": 1}, ["surprise"]),
    ],
)
def test_invalid_requests_are_810_naming_the_field(invoke: Invoke, changes: dict[str, Any], fields: list[str]) -> None:
    reply = invoke(EVENT, body=body(**changes))
    assert reply.status == 400 and set(reply.codes) == {810}
    assert reply.fields == fields


def test_missing_for_order_and_body_are_named(invoke: Invoke) -> None:
    without = body()
    del without["for_order"]
    assert invoke(EVENT, body=without).fields == ["for_order"]
    assert invoke(EVENT, body="{nope").fields == ["body"]


def test_without_an_api_key_it_is_802(invoke: Invoke) -> None:
    reply = invoke(EVENT, tenant=None)
    assert reply.status == 401 and reply.codes == [802]


def test_an_identical_request_is_served_from_the_cache_without_aws_calls(hub: Hub, invoke: Invoke) -> None:
    first = invoke(EVENT)  # warms the auth cache, the provider choice (RATECARD read) and the pricing cache
    assert "GetItem" in hub.calls
    hub.calls.clear()

    again = invoke(EVENT)

    assert again.status == 200 and again.headers["x-cache"] == "hit"
    assert again.body["data"] == first.body["data"]
    assert hub.calls == []  # no AWS call: auth is cached, the request counter is added five requests at a time


def test_a_new_request_reuses_the_provider_choice(hub: Hub, invoke: Invoke) -> None:
    invoke(EVENT)
    hub.calls.clear()
    reply = invoke(EVENT, body=body(order_price=200000))
    assert reply.status == 200 and reply.headers["x-cache"] == "miss"
    assert hub.calls == []  # the request counter is added five requests at a time


def test_a_stored_tenant_card_replaces_the_built_in_one(hub: Hub, invoke: Invoke) -> None:
    DynamoRateCardStore(hub.tables["TenantsTable"]).put_rate_card("acme", tenant_card())
    reply = invoke(EVENT, body=body(cod=False, with_insurance=False))
    assert [(p["logistic"]["code"], p["final_price"]) for p in reply.body["data"]["pricings"]] == [("own", 3000)]
    other = invoke(EVENT, tenant="rival")  # other tenants keep the built-in card
    assert {p["logistic"]["code"] for p in other.body["data"]["pricings"]} == {"jne", "sicepat"}


def test_logistics_credentials_win_over_a_stored_card_even_when_shipper_is_down(hub: Hub, invoke: Invoke) -> None:
    put_secret("hub/acme/logistics", {"base_url": "http://127.0.0.1:9", "api_key": "k"})  # nothing listens there
    DynamoRateCardStore(hub.tables["TenantsTable"]).put_rate_card("acme", tenant_card())

    reply = invoke(EVENT)

    # first match wins: the account prices with Shipper logistics only; its card is no fallback
    assert reply.status == 503 and reply.codes == [803]
    assert reply.body["metadata"]["errors"][0]["message"].startswith(
        "No shipping price is available right now: shipper-logistics: Shipper logistics unreachable"
    )
    assert "data" not in reply.body
    assert invoke(EVENT).headers.get("x-cache") != "hit"  # a failure is not cached


def test_trucking_with_no_trucking_courier_says_why(invoke: Invoke) -> None:
    reply = invoke(EVENT, body=body(rate_type_id="trucking"))
    assert reply.status == 200
    assert reply.body["data"] == {
        "pricings": [],
        "pricing_errors": [
            {
                "code": 810,
                "message": "no courier of this account offers rate type 'trucking' "
                "(offered: express, instant, regular, same-day)",
                "logistic_id": None,
            }
        ],
    }


def test_a_price_beyond_the_input_bound_is_declined_per_courier(invoke: Invoke) -> None:
    biggest = {"height": 10_000, "length": 10_000, "width": 10_000, "weight": 100_000, "qty": 100_000, "price": 10**13}
    reply = invoke(EVENT, body=body(rate_type_id="regular", skus=[biggest] * 100, order_price=10**13))
    assert reply.status == 200
    data = reply.body["data"]
    assert data["pricings"] == []
    assert [(e["code"], e["logistic_id"]) for e in data["pricing_errors"]] == [(810, 4), (810, 6)]
    assert all("the price would exceed 10,000,000,000,000 IDR" in e["message"] for e in data["pricing_errors"])


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, invoke: Invoke) -> None:
    monkeypatch.setenv("PRICING_CACHE_TTL_SECONDS", "0")
    wiring.reset()
    invoke(EVENT)
    assert invoke(EVENT).headers["x-cache"] == "miss"
