"""Hostile input never answers 5xx: nesting, digits, dates and bytes are checked at the edge.

Each case here answered 500 or 502 before (a RecursionError in the JSON parser, ``int()`` of a
5,000-digit or non-ASCII timestamp, a date that cannot be moved to UTC, a number DynamoDB cannot
store, bytes that are not UTF-8). Unauthenticated webhooks are 401 before anything parses them.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time
from typing import Any

import pytest

from local_stack.harness import FakeContext, api_event, load_event, signed_webhook_event
from local_stack.testkit import MotoHubFactory
from order_hub.secret_names import logistics_secret_name, webhook_secret_name
from tests.integration.conftest import Invoke
from tests.integration.ingest import call_ingest, hub_with_one_order, rows_and_events
from tests.payloads import order_body

SECRET = "whsec-test-demo"
DEEP = "[" * 100_000 + "]" * 100_000
HUGE = "9" * 5_000


def _assert_810(status: int, body: dict[str, Any], field: str) -> None:
    assert status == 400, body
    errors = body["metadata"]["errors"]
    assert [e["code"] for e in errors] == [810] and field in [e.get("field") for e in errors], errors
    assert "Traceback" not in json.dumps(body)


# -- tenant APIs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        DEEP,
        '{"a":' * 10_000 + "1" + "}" * 10_000,
        json.dumps(order_body())[:-1] + ', "x": ' + HUGE + "}",
        '{"so_number": "SO-1", "qty": 1' + "0" * 40 + "}",
    ],
    ids=["nested-100000", "nested-10000", "integer-5000-digits", "integer-41-digits"],
)
@pytest.mark.parametrize("event_name", ["create_order", "pricing_domestic"])
def test_order_and_pricing_bodies_too_deep_or_too_long_are_810(invoke: Invoke, body: str, event_name: str) -> None:
    reply = invoke(event_name, body=body)
    _assert_810(reply.status, reply.body, "body")


def test_an_order_time_that_cannot_be_moved_to_utc_is_810(invoke: Invoke) -> None:
    reply = invoke("create_order", body=json.dumps(order_body(order_time="9999-12-31T23:59:59-14:00")))
    _assert_810(reply.status, reply.body, "order_time")


def test_invalid_utf8_is_810(invoke: Invoke) -> None:
    reply = invoke("create_order", base64_body=b'{"so_number": "\xff\xfe"}')
    _assert_810(reply.status, reply.body, "body")


def _admin(hub_key: str, body: str, path: str) -> tuple[int, dict[str, Any]]:
    from functions.admin_api.app import lambda_handler

    event = api_event("admin_api/register_endpoint", hub_key, body)
    event["path"] = event["resource"] = path
    raw = lambda_handler(event, FakeContext())
    return raw["statusCode"], json.loads(raw["body"])


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/hub/v1/endpoints", DEEP, "body"),
        ("/hub/v1/endpoints", '{"endpoint_id": "erp", "timeout_seconds": ' + HUGE + "}", "body"),
        ("/hub/v1/endpoints/demo-x/replay", '{"since": "9999-12-31T23:59:59-14:00"}', "since"),
    ],
)
def test_admin_bodies_are_810(hub: Any, path: str, body: str, field: str) -> None:
    status, reply = _admin(hub.api_keys["acme"], body, path)
    _assert_810(status, reply, field)


# -- webhooks ---------------------------------------------------------------------------------------


@pytest.fixture
def ingest_hub(moto_hub_factory: MotoHubFactory) -> dict[str, Any]:
    secrets = {
        webhook_secret_name("demo"): {"hmac_secret": SECRET},
        logistics_secret_name("demo"): {"api_key": "lg-key", "tracking_url": "https://hub.example.com/tracking"},
    }
    return hub_with_one_order(moto_hub_factory, secrets)


@pytest.mark.parametrize("timestamp", ["9" * 5_000, "²", "\uff11\uff12\uff13", "-1", ""])
def test_odd_timestamps_are_401_before_parsing(ingest_hub: dict[str, Any], timestamp: str) -> None:
    event = signed_webhook_event("webhook_ingest/pgi", SECRET)
    event["headers"]["x-hub-timestamp"] = timestamp
    status, body = call_ingest(event)
    assert status == 401, body
    assert rows_and_events(ingest_hub) == ({"ORDER"}, ["order.created"])  # nothing stored


def _tracking_event(body: str) -> dict[str, Any]:
    event = copy.deepcopy(load_event("webhook_ingest/logistics_tracking"))
    event["body"] = body
    return event


def test_a_deep_tracking_body_without_auth_is_401(ingest_hub: dict[str, Any]) -> None:
    status, body = call_ingest(_tracking_event('{"auth":' * 100_000 + "1" + "}" * 100_000))
    assert status == 401, body


def test_a_signed_webhook_that_is_not_utf8_is_810(ingest_hub: dict[str, Any]) -> None:
    raw = b'{"doc_no": "SO-2026-0001\xff"}'
    timestamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    event = signed_webhook_event("webhook_ingest/pgi", SECRET)
    event["body"] = base64.b64encode(raw).decode()
    event["isBase64Encoded"] = True
    event["headers"].update({"x-hub-timestamp": timestamp, "x-hub-signature": f"v1={digest}"})
    status, body = call_ingest(event)
    _assert_810(status, body, "body")


def _signed_tracking(code: str) -> dict[str, Any]:
    tracking = json.loads(load_event("webhook_ingest/logistics_tracking")["body"])
    tracking["auth"] = hashlib.md5(b"lg-keyhttps://hub.example.com/trackingjson", usedforsecurity=False).hexdigest()
    text = json.dumps(tracking).replace('"code": ' + json.dumps(tracking["external_status"]["code"]), '"code": ' + code, 1)
    return _tracking_event(text)


def test_a_tracking_code_of_4000_digits_is_refused(ingest_hub: dict[str, Any]) -> None:
    # As a number the body is refused before its ``auth`` is read: unauthenticated, 401.
    status, body = call_ingest(_signed_tracking("4" * 4_000))
    assert status == 401, body
    # As text it passes authentication and fails the model: 810 naming the field.
    status, body = call_ingest(_signed_tracking('"' + "4" * 4_000 + '"'))
    _assert_810(status, body, "internal_status.code")
    assert rows_and_events(ingest_hub) == ({"ORDER"}, ["order.created"])  # nothing applied
