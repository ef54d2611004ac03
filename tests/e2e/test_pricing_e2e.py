"""Domestic pricing over HTTP through the local stack (built-in rate card, per-container cache)."""

from __future__ import annotations

import json
from typing import Any

import requests

from local_stack.harness import load_event

PATH = "/v3/fulfillment/pricing/domestic"


def _post(stack: dict[str, Any], body: Any, key: str | None = None) -> requests.Response:
    headers = {"x-api-key": key if key is not None else stack["api_key"]}
    return requests.post(stack["api_url"] + PATH, json=body, headers=headers, timeout=30)


def test_prices_come_back_cheapest_first_then_from_the_cache(stack: dict[str, Any]) -> None:
    body = json.loads(load_event("orders_api/pricing_domestic")["body"])

    first = _post(stack, body)
    again = _post(stack, body)

    assert first.status_code == 200, first.text
    pricings = first.json()["data"]["pricings"]
    assert pricings and [p["final_price"] for p in pricings] == sorted(p["final_price"] for p in pricings)
    assert all(isinstance(p["final_price"], int) and p["currency"] == "IDR" for p in pricings)
    assert first.headers["x-cache"] == "miss" and again.headers["x-cache"] == "hit"
    assert again.json()["data"] == first.json()["data"]


def test_instant_without_coordinates_names_the_fields_and_bad_keys_are_802(stack: dict[str, Any]) -> None:
    body = json.loads(load_event("orders_api/pricing_domestic")["body"])
    body["rate_type_id"] = "instant"
    del body["origin"]["lat"]

    refused = _post(stack, body)
    unauthorised = _post(stack, body, key="ohk_nope")

    assert refused.status_code == 400
    errors = refused.json()["metadata"]["errors"]
    assert {e["code"] for e in errors} == {810} and any("origin.lat" in json.dumps(e) for e in errors)
    assert unauthorised.status_code == 401 and unauthorised.json()["metadata"]["errors"][0]["code"] == 802


def test_trucking_without_a_courier_and_prices_beyond_the_bound_say_why(stack: dict[str, Any]) -> None:
    body = json.loads(load_event("orders_api/pricing_domestic")["body"])
    trucking = _post(stack, {**body, "rate_type_id": "trucking"})
    assert trucking.status_code == 200, trucking.text
    (why,) = trucking.json()["data"]["pricing_errors"]
    assert trucking.json()["data"]["pricings"] == [] and why["code"] == 810
    assert why["message"].startswith("no courier of this account offers rate type 'trucking'")

    biggest = {"height": 10_000, "length": 10_000, "width": 10_000, "weight": 100_000, "qty": 100_000, "price": 10**13}
    huge = _post(stack, {**body, "rate_type_id": "regular", "skus": [biggest] * 100, "order_price": 10**13})
    assert huge.status_code == 200, huge.text
    data = huge.json()["data"]
    assert data["pricings"] == [] and len(data["pricing_errors"]) == 2
    assert all("would exceed 10,000,000,000,000 IDR" in error["message"] for error in data["pricing_errors"])
