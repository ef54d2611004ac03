"""admin_api under moto: a tenant manages its own callback endpoints and deliveries with its API key."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from local_stack.harness import FakeContext, api_event
from order_hub import wiring
from tests.integration.conftest import PUBLIC_ADDRESS, Hub, Reply, seed_delivery

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
SECRET_VALUES = ("hunter2", "whsec_", "s3cr3t-header")

Admin = Callable[..., Reply]
pytestmark = pytest.mark.usefixtures("example_dns")


@pytest.fixture
def admin(hub: Hub) -> Admin:
    from functions.admin_api.app import lambda_handler

    def call(
        method: str,
        path: str,
        body: Any = None,
        tenant: str | None = "acme",
        api_key: str | None = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        key = api_key if api_key is not None else (hub.api_keys[tenant] if tenant else None)
        event = api_event("admin_api/register_endpoint", key, body, query=query, headers=headers)
        event["httpMethod"] = method
        event["path"] = event["resource"] = path
        raw = lambda_handler(event, FakeContext())
        headers_out = {k.lower(): v for k, v in (raw.get("headers") or {}).items()}
        return Reply(status=raw["statusCode"], body=json.loads(raw["body"]), headers=headers_out)

    return call


def _register(admin: Admin, tenant: str = "acme", **fields: Any) -> Reply:
    body = {"endpoint_id": "erp", "url": "https://erp.example.com/hooks", "format": "standard", **fields}
    return admin("POST", "/hub/v1/endpoints", body, tenant=tenant)


def _secret(name: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(
        boto3.client("secretsmanager", region_name="us-east-1").get_secret_value(SecretId=name)["SecretString"]
    )
    return value


def _seed_delivery(status: str, n: int = 1, tenant: str = "acme", endpoint: str = "erp") -> str:
    return seed_delivery(
        status,
        n,
        T0 + timedelta(minutes=n),
        claimed_at=T0,
        tenant=tenant,
        endpoint=endpoint,
        status_code=500 if status != "delivered" else 200,
    )


def _queued(hub: Hub) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    messages = sqs.receive_message(QueueUrl=hub.tables["DeliveryQueue"], MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


# -- endpoints ----------------------------------------------------------------------------------


def test_the_committed_event_registers_a_standard_endpoint_and_shows_its_secret_once(admin: Admin) -> None:
    reply = admin("POST", "/hub/v1/endpoints", ...)

    assert reply.status == 201 and reply.body["metadata"]["http_status_code"] == 201
    assert reply.headers["x-request-id"] == "example-admin-1"
    data = reply.body["data"]
    assert data["endpoint_id"] == "erp" and data["auth"] == "standard_webhooks" and data["events"] == ["order.created"]
    assert data["signing_secret"].startswith("whsec_")
    assert _secret("hub/acme/endpoint/erp") == {"secret": data["signing_secret"]}

    shown = admin("GET", "/hub/v1/endpoints/erp")
    assert shown.status == 200 and "signing_secret" not in shown.body["data"]
    assert "whsec_" not in json.dumps(admin("GET", "/hub/v1/endpoints").body)


@pytest.mark.parametrize(
    ("fields", "auth", "secret"),
    [
        ({"format": "shipper"}, "none", None),
        (
            {"format": "shipper", "auth": "headers", "headers": {"x-token": "s3cr3t-header"}},
            "headers",
            {"headers": {"x-token": "s3cr3t-header"}},
        ),
        (
            {"format": "increff", "headers": {"authUsername": "u", "authPassword": "s3cr3t-header"}},
            "headers",
            {"headers": {"authUsername": "u", "authPassword": "s3cr3t-header"}},
        ),
        (
            {
                "format": "unicommerce",
                "username": "pos-user",
                "password": "hunter2",
                "settings": {"facility_codes": {"WH-TGR04": "DEL6"}},
            },
            "unicommerce_token",
            {"username": "pos-user", "password": "hunter2"},
        ),
        ({"format": "standard", "signing_secret": "whsec_c2VjcmV0"}, "standard_webhooks", {"secret": "whsec_c2VjcmV0"}),
    ],
)
def test_every_format_registers_with_its_secrets_in_secrets_manager_only(
    admin: Admin, fields: dict[str, Any], auth: str, secret: dict[str, Any] | None
) -> None:
    reply = _register(admin, **fields)

    assert reply.status == 201, reply.body
    assert reply.body["data"]["auth"] == auth and reply.body["data"]["format"] == fields["format"]
    assert "signing_secret" not in reply.body["data"]  # only a generated secret is shown
    assert reply.body["data"]["settings"]["facility_codes"] == fields.get("settings", {}).get("facility_codes", {})
    for text in (json.dumps(reply.body), json.dumps(admin("GET", "/hub/v1/endpoints/erp").body)):
        assert not any(value in text for value in SECRET_VALUES)
    if secret is None:
        assert reply.body["data"]["secret_name"] is None
    else:
        assert reply.body["data"]["secret_name"] == "hub/acme/endpoint/erp"
        assert _secret("hub/acme/endpoint/erp") == secret


def test_unicommerce_needs_username_and_password(admin: Admin) -> None:
    reply = _register(admin, format="unicommerce", username="pos-user")
    assert reply.status == 400 and reply.codes == [810] and reply.fields == ["username"]


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.1/hooks",
        "https://127.0.0.1/hooks",
        f"http://{PUBLIC_ADDRESS}/",
    ],
)
def test_unsafe_urls_are_refused_naming_url(admin: Admin, url: str) -> None:
    reply = _register(admin, url=url)
    assert reply.status == 400 and reply.codes == [810] and reply.fields == ["url"]
    assert admin("GET", "/hub/v1/endpoints").body["data"]["endpoints"] == []


def test_an_unsafe_credential_url_is_refused_naming_it(admin: Admin) -> None:
    reply = _register(admin, format="increff", auth="increff_credential", credential_url="https://192.168.1.1/credential")
    assert reply.status == 400 and reply.fields == ["credential_url"]


def test_a_duplicate_endpoint_id_is_a_400_and_keeps_the_first(admin: Admin) -> None:
    first = _register(admin)
    again = _register(admin, url="https://other.example.com/hooks")

    assert first.status == 201
    assert again.status == 400 and again.codes == [810] and again.fields == ["endpoint_id"]
    assert admin("GET", "/hub/v1/endpoints/erp").body["data"]["url"] == "https://erp.example.com/hooks"
    assert _secret("hub/acme/endpoint/erp") == {"secret": first.body["data"]["signing_secret"]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"endpoint_id": "erp", "url": "https://erp.example.com/", "format": "standard", "colour": "red"}, "colour"),
        ({"endpoint_id": "erp", "url": "https://erp.example.com/", "format": "soap"}, "format"),
        ({"endpoint_id": "erp", "format": "standard"}, "url"),
        ({"endpoint_id": "ERP!", "url": "https://erp.example.com/", "format": "standard"}, "endpoint_id"),
        ({"endpoint_id": "erp", "url": "https://erp.example.com/", "format": "standard", "events": ["order.exploded"]}, "events"),
        ({"endpoint_id": "erp", "url": "https://erp.example.com/", "format": "shipper", "auth": "standard_webhooks"}, "auth"),
        (
            {"endpoint_id": "erp", "url": "https://erp.example.com/", "format": "standard", "timeout_seconds": 90},
            "timeout_seconds",
        ),
        (
            {"endpoint_id": "erp", "url": "https://erp.example.com/", "format": "standard", "signing_secret": "plain"},
            "signing_secret",
        ),
        (
            {"endpoint_id": "erp", "url": "https://erp.example.com/", "format": "increff", "settings": {"nope": 1}},
            "settings.nope",
        ),
        ("{not json", "body"),
        (None, "body"),
        ("[]", "body"),
        *[
            ({"endpoint_id": "erp", "url": "https://erp.example.com/", "format": "shipper", "headers": headers}, "headers")
            for headers in (
                {"x-token": "a\r\nx-evil: 1"},  # CR/LF: header injection
                {"x-token": "a\nb"},
                {"x-bad name": "v"},  # not an RFC 9110 token
                {"x-token:": "v"},
                {"Host": "internal.example.com"},
                {"Content-Length": "0"},
                {"transfer-encoding": "chunked"},
                {"Connection": "close"},
                {"webhook-signature": "v1,forged"},
            )
        ],
    ],
)
def test_bad_registration_bodies_are_400_810_naming_the_field(admin: Admin, body: Any, field: str) -> None:
    reply = admin("POST", "/hub/v1/endpoints", body)
    assert reply.status == 400 and 810 in reply.codes and field in reply.fields, reply.body
    assert "Traceback" not in json.dumps(reply.body)


def test_a_non_json_body_is_415(admin: Admin) -> None:
    reply = admin("POST", "/hub/v1/endpoints", "endpoint_id=erp", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 415 and reply.codes == [810] and reply.fields == ["Content-Type"]


def test_list_show_disable_and_enable(admin: Admin) -> None:
    _register(admin)
    _register(admin, endpoint_id="pos", format="unicommerce", url="https://pos.example.com", username="u", password="hunter2")

    listed = admin("GET", "/hub/v1/endpoints")
    assert listed.status == 200 and sorted(e["endpoint_id"] for e in listed.body["data"]["endpoints"]) == ["erp", "pos"]

    disabled = admin("PATCH", "/hub/v1/endpoints/erp", {"enabled": False, "reason": "maintenance"})
    assert disabled.status == 200 and disabled.body["data"]["enabled"] is False
    assert disabled.body["data"]["disabled_reason"] == "maintenance"
    assert admin("GET", "/hub/v1/endpoints/erp").body["data"]["enabled"] is False
    endpoint = wiring.endpoint_registry().get_endpoint("acme", "erp")
    assert endpoint is not None and not endpoint.enabled

    enabled = admin("PATCH", "/hub/v1/endpoints/erp", {"enabled": True})
    assert enabled.status == 200 and enabled.body["data"]["enabled"] is True and enabled.body["data"]["disabled_reason"] == ""


@pytest.mark.parametrize(("body", "field"), [({}, "enabled"), ({"enabled": "no"}, "enabled"), ({"enabled": True, "x": 1}, "x")])
def test_bad_patch_bodies_name_the_field(admin: Admin, body: dict[str, Any], field: str) -> None:
    _register(admin)
    reply = admin("PATCH", "/hub/v1/endpoints/erp", body)
    assert reply.status == 400 and reply.fields == [field]


def test_unknown_endpoints_are_404(admin: Admin) -> None:
    assert admin("GET", "/hub/v1/endpoints/nope").status == 404
    reply = admin("PATCH", "/hub/v1/endpoints/nope", {"enabled": False})
    assert reply.status == 404 and reply.codes == [810] and reply.fields == ["endpoint_id"]
    assert admin("POST", "/hub/v1/endpoints/nope/replay", {"since": "2026-11-01T00:00:00Z"}).status == 404


def test_another_tenants_endpoint_is_a_404_and_never_touched(admin: Admin) -> None:
    _register(admin)

    assert admin("GET", "/hub/v1/endpoints/erp", tenant="rival").status == 404
    assert admin("PATCH", "/hub/v1/endpoints/erp", {"enabled": False}, tenant="rival").status == 404
    assert admin("POST", "/hub/v1/endpoints/erp/replay", {"since": "2026-11-01T00:00:00Z"}, tenant="rival").status == 404
    assert admin("GET", "/hub/v1/endpoints", tenant="rival").body["data"]["endpoints"] == []
    assert admin("GET", "/hub/v1/endpoints/erp").body["data"]["enabled"] is True
    # the same id is free for the other tenant, with its own secret
    assert _register(admin, tenant="rival").status == 201
    assert _secret("hub/rival/endpoint/erp") != _secret("hub/acme/endpoint/erp")


@pytest.mark.parametrize("api_key", ["", "ohk_deadbeef_unknown", "garbage"])
def test_missing_or_unknown_key_is_401_802(admin: Admin, api_key: str) -> None:
    reply = admin("GET", "/hub/v1/endpoints", api_key=api_key or None, tenant=None)
    assert reply.status == 401 and reply.codes == [802]
    assert _register(admin).status == 201  # nothing stored by the refused call before it


def test_an_unknown_route_is_404_810(admin: Admin) -> None:
    reply = admin("DELETE", "/hub/v1/endpoints/erp")
    assert reply.status in (404, 405) and reply.codes == [810]


# -- deliveries ---------------------------------------------------------------------------------


def test_problem_deliveries_are_listed_newest_first_for_the_caller_only(admin: Admin) -> None:
    _seed_delivery("retrying", 1)
    _seed_delivery("failed", 2)
    _seed_delivery("delivered", 3)
    _seed_delivery("failed", 4, tenant="rival")

    reply = admin("GET", "/hub/v1/deliveries", query={"status": "problems", "limit": "10"})

    assert reply.status == 200
    assert [d["delivery_id"] for d in reply.body["data"]["deliveries"]] == ["ev-2.erp", "ev-1.erp"]
    assert [d["delivery_id"] for d in admin("GET", "/hub/v1/deliveries", query={"limit": "1"}).body["data"]["deliveries"]] == [
        "ev-2.erp"
    ]
    assert [d["delivery_id"] for d in admin("GET", "/hub/v1/deliveries", tenant="rival").body["data"]["deliveries"]] == [
        "ev-4.erp"
    ]


@pytest.mark.parametrize(
    ("query", "field"), [({"limit": "0"}, "limit"), ({"limit": "lots"}, "limit"), ({"status": "all"}, "status")]
)
def test_bad_delivery_queries_name_the_field(admin: Admin, query: dict[str, str], field: str) -> None:
    reply = admin("GET", "/hub/v1/deliveries", query=query)
    assert reply.status == 400 and reply.fields == [field]


def test_a_delivery_is_shown_with_its_attempts_and_is_404_for_others(admin: Admin) -> None:
    delivery_id = _seed_delivery("failed")

    reply = admin("GET", f"/hub/v1/deliveries/{delivery_id}")

    assert reply.status == 200 and reply.body["data"]["status"] == "failed"
    assert [a["status_code"] for a in reply.body["data"]["attempts"]] == [500]
    assert admin("GET", f"/hub/v1/deliveries/{delivery_id}", tenant="rival").status == 404
    missing = admin("GET", "/hub/v1/deliveries/nope.erp")
    assert missing.status == 404 and missing.fields == ["delivery_id"]


def test_replaying_a_delivery_reopens_it_and_queues_it(hub: Hub, admin: Admin) -> None:
    delivery_id = _seed_delivery("failed")

    assert admin("POST", f"/hub/v1/deliveries/{delivery_id}/replay", tenant="rival").status == 404
    assert _queued(hub) == []
    reply = admin("POST", f"/hub/v1/deliveries/{delivery_id}/replay")

    assert reply.status == 200 and reply.body["data"]["status"] == "pending" and reply.body["data"]["replays"] == 1
    (message,) = _queued(hub)
    assert message["delivery_id"] == delivery_id and message["tenant_id"] == "acme" and message["endpoint_id"] == "erp"
    assert admin("POST", "/hub/v1/deliveries/nope.erp/replay").status == 404


def test_replaying_an_endpoint_since_a_time(hub: Hub, admin: Admin) -> None:
    _register(admin)
    _seed_delivery("failed", 1)
    _seed_delivery("delivered", 2)
    _seed_delivery("retrying", 3)

    reply = admin("POST", "/hub/v1/endpoints/erp/replay", {"since": "2026-11-23T08:02:00Z"})

    assert reply.status == 200 and reply.body["data"] == {"replayed": 1, "delivery_ids": ["ev-3.erp"]}
    assert [m["delivery_id"] for m in _queued(hub)] == ["ev-3.erp"]

    everything = admin("POST", "/hub/v1/endpoints/erp/replay", {"since": "2026-11-23T08:00:00", "include_delivered": True})
    assert everything.body["data"]["delivery_ids"] == ["ev-1.erp", "ev-2.erp"]  # ev-3 is pending already


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "since"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-11-01T00:00:00Z", "include_delivered": "yes"}, "include_delivered"),
    ],
)
def test_bad_replay_bodies_name_the_field(admin: Admin, body: dict[str, Any], field: str) -> None:
    _register(admin)
    reply = admin("POST", "/hub/v1/endpoints/erp/replay", body)
    assert reply.status == 400 and reply.fields == [field]
