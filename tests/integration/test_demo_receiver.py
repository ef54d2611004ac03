"""The demo receiver over real HTTP on 127.0.0.1: the four formats, their auth, failure modes, dedupe, control API, stop."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from standardwebhooks import Webhook

from local_stack import demo_receiver
from local_stack.demo_receiver import (
    DEFAULT_STANDARD_SECRET,
    DEFAULT_UNICOMMERCE_PASSWORD,
    DEFAULT_UNICOMMERCE_USERNAME,
    DemoReceiver,
    DemoReceiverError,
    verify_standard,
)
from local_stack.testkit import wait_until

OTHER_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def receiver() -> Iterator[DemoReceiver]:
    server = DemoReceiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def http(receiver: DemoReceiver) -> Iterator[requests.Session]:
    session = requests.Session()
    yield session
    session.close()


def pgi(doc_no: str = "SO-1", delivery_no: str = "JNE100000000001") -> dict[str, Any]:
    return {
        "warehouse_id": "WH-TGR04",
        "order_type": "SO",
        "doc_no": doc_no,
        "delivery_no": delivery_no,
        "carrier_name": "JNE REG",
        "pgi_date": "2026-01-10 12:04:14",
        "details": [{"sku": "SKU-1", "qty_shipped": 2}],
    }


def posting(message_id: int = 1, order_code: str = "SO-1") -> dict[str, Any]:
    return {"messageId": message_id, "orderCode": order_code, "eventType": "OUTWARD_ORDER_CREATE", "shipments": []}


def dispatch(code: str = "PKG-1") -> dict[str, Any]:
    return {"shipmentCode": code, "saleOrderID": "SO-1", "orderStatus": "COMPLETE"}


def signed(
    body: bytes, msg_id: str = "msg_1", secret: str = DEFAULT_STANDARD_SECRET, at: datetime | None = None
) -> dict[str, str]:
    moment = at or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, moment, body.decode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


def uc_token(http: requests.Session, receiver: DemoReceiver, username: str = DEFAULT_UNICOMMERCE_USERNAME) -> requests.Response:
    headers = {"username": username, "password": DEFAULT_UNICOMMERCE_PASSWORD, "grant_type": "password"}
    return http.post(f"{receiver.endpoint_urls()['unicommerce']}/v1/auth/Token", headers=headers, json={}, timeout=5)


def uc_ship(http: requests.Session, receiver: DemoReceiver, token: str | None, code: str = "PKG-1") -> requests.Response:
    headers = {"Authorization": f"bearer {token}"} if token else {}
    url = f"{receiver.endpoint_urls()['unicommerce']}/v1/shipment/{code}"
    return http.post(url, json=dispatch(code), headers=headers, timeout=5)


def control(receiver: DemoReceiver, method: str, route: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, f"{receiver.url}/_demo/{route}", timeout=5, **kwargs)


def configure(receiver: DemoReceiver, changes: dict[str, Any]) -> dict[str, Any]:
    reply = control(receiver, "POST", "config", json=changes)
    assert reply.status_code == 200, reply.text
    result: dict[str, Any] = reply.json()
    return result


def post_event(http: requests.Session, receiver: DemoReceiver, fmt: str, n: int = 1, **kwargs: Any) -> requests.Response:
    """One valid, authorised event of ``fmt`` (increff without auth, unicommerce with a fresh token)."""
    urls = receiver.endpoint_urls()
    if fmt == "shipper":
        return http.post(urls["shipper"], json=pgi(delivery_no=f"AWB-{n}"), timeout=5, **kwargs)
    if fmt == "increff":
        return http.post(urls["increff"], json=posting(n), timeout=5, **kwargs)
    if fmt == "unicommerce":
        token = receiver_token(receiver)
        return uc_ship(http, receiver, token, code=f"PKG-{n}")
    body = json.dumps({"type": "order.shipped", "n": n}).encode()
    return http.post(urls["standard"], data=body, headers=signed(body, f"msg_{n}"), timeout=5, **kwargs)


def receiver_token(receiver: DemoReceiver) -> str:
    """A Unicommerce token fetched without the failure modes of events getting in the way."""
    with requests.Session() as session:
        reply = uc_token(session, receiver)
        assert reply.status_code == 200, reply.text
        token: str = reply.json()["access_token"]
        return token


# --------------------------------------------------------------------------------------------
# Happy paths
# --------------------------------------------------------------------------------------------


def test_endpoint_urls_and_loopback_binding(receiver: DemoReceiver) -> None:
    urls = receiver.endpoint_urls()
    base = f"http://127.0.0.1:{receiver.port}"
    assert urls == {
        "shipper": f"{base}/shipper/callback",
        "increff": f"{base}/increff/callback",
        "unicommerce": f"{base}/unicommerce",
        "standard": f"{base}/standard/callback",
    }
    assert receiver.increff_credential_url == f"{base}/increff/credential"
    assert receiver._server is not None and receiver._server.server_address[0] == "127.0.0.1"
    assert control(receiver, "GET", "health").json() == {"ok": True}
    assert control(receiver, "GET", "endpoints").json() == {
        "endpoints": urls,
        "increff_credential_url": receiver.increff_credential_url,
    }


def test_shipper_pgi_and_confirmation(receiver: DemoReceiver, http: requests.Session) -> None:
    url = receiver.endpoint_urls()["shipper"]
    first = http.post(f"{url}/pgi", json=pgi(), timeout=5)
    assert first.status_code == 200
    assert first.headers["Content-Type"] == "application/json"
    metadata = first.json()["metadata"]
    assert metadata["http_status_code"] == 200 and metadata["http_status"] == "OK"
    assert metadata["path"] == "/shipper/callback/pgi" and isinstance(metadata["timestamp"], int)
    assert "errors" not in metadata

    assert http.post(f"{url}/pgi", json=pgi(), timeout=5).status_code == 200  # a retry: duplicate
    assert http.post(f"{url}/pgi", json=pgi(delivery_no="JNE-2"), timeout=5).status_code == 200  # second parcel
    confirmation = {"event": "order_confirmation", "doc_no": "SO-1", "so_status": "OPEN"}
    assert http.post(url, json=confirmation, timeout=5).status_code == 200

    records = receiver.received(format="shipper")
    assert [(r.dedupe_key, r.outcome) for r in records] == [
        ("SO-1#JNE100000000001", "accepted"),
        ("SO-1#JNE100000000001", "duplicate"),
        ("SO-1#JNE-2", "accepted"),
        ("SO-1", "accepted"),
    ]
    record = records[0]
    assert (record.kind, record.method, record.path, record.status, record.verified) == (
        "event",
        "POST",
        "/shipper/callback/pgi",
        200,
        None,
    )
    assert record.json == pgi() and json.loads(record.body) == pgi()
    assert record.headers["content-type"] == "application/json"
    assert all(name == name.lower() for name in record.headers)
    assert record.at.endswith("Z") and abs(record.received_at - time.time()) < 5
    stats = receiver.stats()["formats"]["shipper"]
    assert (stats["events"], stats["accepted"], stats["duplicates"], stats["unique_keys"]) == (4, 3, 1, 3)
    assert receiver.accepted_keys("shipper") == ["SO-1", "SO-1#JNE-2", "SO-1#JNE100000000001"]


def test_increff_without_auth_dedupes_on_message_id(receiver: DemoReceiver, http: requests.Session) -> None:
    url = receiver.endpoint_urls()["increff"]
    for message_id in (7, 7, 8):
        reply = http.post(url, json=posting(message_id), timeout=5)
        assert reply.status_code == 200
        assert reply.json() == {"hasError": False, "errorMessage": ""}
    assert [(r.dedupe_key, r.outcome, r.verified) for r in receiver.events("increff")] == [
        ("7", "accepted", None),
        ("7", "duplicate", None),
        ("8", "accepted", None),
    ]


def test_increff_static_headers(receiver: DemoReceiver, http: requests.Session) -> None:
    configure(receiver, {"increff": {"auth_mode": "static", "static_headers": {"X-Api-Key": "k1", "authDomain": "acme"}}})
    url = receiver.endpoint_urls()["increff"]
    missing = http.post(url, json=posting(1), timeout=5)
    assert missing.status_code == 401
    assert missing.json()["hasError"] is True and "authdomain" in missing.json()["errorMessage"]
    wrong = http.post(url, json=posting(1), headers={"x-api-key": "nope", "authdomain": "acme"}, timeout=5)
    assert wrong.status_code == 401 and wrong.json()["errorMessage"].endswith("x-api-key")
    right = http.post(url, json=posting(1), headers={"X-API-KEY": "k1", "AuthDomain": "acme"}, timeout=5)
    assert right.status_code == 200 and right.json() == {"hasError": False, "errorMessage": ""}
    assert [(r.status, r.verified, r.outcome) for r in receiver.events("increff")] == [
        (401, False, "rejected"),
        (401, False, "rejected"),
        (200, True, "accepted"),
    ]
    assert receiver.stats()["formats"]["increff"]["rejected"] == 2


def test_increff_dynamic_credentials(receiver: DemoReceiver, http: requests.Session) -> None:
    receiver.configure("increff", auth_mode="dynamic")
    url = receiver.endpoint_urls()["increff"]
    refused = http.post(url, json=posting(1), timeout=5)
    assert refused.status_code == 401 and refused.json()["hasError"] is True

    credential = http.get(receiver.increff_credential_url, timeout=5)
    assert credential.status_code == 200
    issued = credential.json()
    assert set(issued) == {"x-increff-token", "x-increff-client"}
    assert all(isinstance(value, str) and value for value in issued.values())
    assert http.post(url, json=posting(1), headers=issued, timeout=5).json() == {"hasError": False, "errorMessage": ""}
    forged = {**issued, "x-increff-token": "forged"}
    assert http.post(url, json=posting(2), headers=forged, timeout=5).status_code == 401
    other_client = {**issued, "x-increff-client": "someone-else"}
    assert http.post(url, json=posting(2), headers=other_client, timeout=5).status_code == 401

    assert control(receiver, "POST", "expire-tokens").json() == {"expired": {"unicommerce": 0, "increff": 1}}
    expired = http.post(url, json=posting(2), headers=issued, timeout=5)
    assert expired.status_code == 401 and expired.json()["errorMessage"] == "credential expired"
    fresh = http.get(receiver.increff_credential_url, timeout=5).json()
    assert fresh["x-increff-token"] != issued["x-increff-token"]
    assert http.post(url, json=posting(2), headers=fresh, timeout=5).status_code == 200

    events = receiver.events("increff")
    assert [(r.status, r.reason) for r in events] == [
        (401, "no credential headers"),
        (200, ""),
        (401, "unknown credential"),
        (401, "wrong x-increff-client"),
        (401, "credential expired"),
        (200, ""),
    ]
    credentials = receiver.received("increff", kind="credential")
    assert [(r.method, r.status, r.outcome) for r in credentials] == [("GET", 200, "issued")] * 2
    assert receiver.stats()["formats"]["increff"]["credential_calls"] == 2


def test_unicommerce_token_and_shipment(receiver: DemoReceiver, http: requests.Session) -> None:
    bad = uc_token(http, receiver, username="intruder")
    assert bad.status_code == 401
    assert bad.json() == {"status": "FAILED", "errorMessage": "Bad credentials"}
    no_grant = http.post(
        f"{receiver.endpoint_urls()['unicommerce']}/v1/auth/Token",
        headers={"username": DEFAULT_UNICOMMERCE_USERNAME, "password": DEFAULT_UNICOMMERCE_PASSWORD},
        timeout=5,
    )
    assert no_grant.status_code == 401 and no_grant.json()["status"] == "FAILED"

    good = uc_token(http, receiver)
    assert good.status_code == 200
    token_reply = good.json()
    assert token_reply["status"] == "SUCCESS" and token_reply["expires_in"] == 3600 and token_reply["access_token"]
    token = token_reply["access_token"]

    missing = uc_ship(http, receiver, None)
    assert missing.status_code == 401 and missing.json()["successful"] is False
    basic = http.post(
        f"{receiver.endpoint_urls()['unicommerce']}/v1/shipment/PKG-1",
        json=dispatch(),
        headers={"Authorization": f"Basic {token}"},
        timeout=5,
    )
    assert basic.status_code == 401
    shipped = uc_ship(http, receiver, token)
    assert shipped.status_code == 200
    reply = shipped.json()
    assert reply["successful"] is True and reply["errors"] == [] and reply["warnings"] == [] and reply["message"]
    assert uc_ship(http, receiver, token).json()["successful"] is True  # duplicate: still acknowledged

    assert control(receiver, "POST", "expire-tokens").json()["expired"] == {"unicommerce": 1, "increff": 0}
    expired = uc_ship(http, receiver, token, code="PKG-2")
    assert expired.status_code == 401
    fresh = uc_token(http, receiver).json()["access_token"]
    assert fresh != token
    assert uc_ship(http, receiver, fresh, code="PKG-2").status_code == 200

    assert [(r.dedupe_key, r.status, r.outcome, r.reason) for r in receiver.events("unicommerce")] == [
        ("PKG-1", 401, "rejected", "missing bearer token"),
        ("PKG-1", 401, "rejected", "missing bearer token"),
        ("PKG-1", 200, "accepted", ""),
        ("PKG-1", 200, "duplicate", ""),
        ("PKG-2", 401, "rejected", "token expired"),
        ("PKG-2", 200, "accepted", ""),
    ]
    tokens = receiver.received("unicommerce", kind="token")
    assert [(r.status, r.outcome, r.verified) for r in tokens] == [
        (401, "rejected", False),
        (401, "rejected", False),
        (200, "issued", True),
        (200, "issued", True),
    ]
    stats = receiver.stats()["formats"]["unicommerce"]
    assert (stats["token_calls"], stats["tokens_issued"], stats["accepted"], stats["duplicates"]) == (4, 2, 2, 1)


def test_unicommerce_token_ttl_and_credentials_config() -> None:
    now = [1000.0]
    receiver = DemoReceiver(unicommerce_username="pos-user", unicommerce_password="s3cret", clock=lambda: now[0])
    receiver.configure("unicommerce", token_ttl_s=60)
    with receiver, requests.Session() as http:
        url = f"{receiver.endpoint_urls()['unicommerce']}/v1/auth/token"  # the path is case-insensitive
        creds = {"username": "pos-user", "password": "s3cret", "grant_type": "password"}
        reply = http.post(url, headers=creds, timeout=5).json()
        assert reply["expires_in"] == 60
        now[0] += 59
        assert uc_ship(http, receiver, reply["access_token"]).status_code == 200
        now[0] += 1
        assert uc_ship(http, receiver, reply["access_token"], "PKG-2").status_code == 401
        assert receiver.events("unicommerce")[-1].reason == "token expired"
        assert http.post(url, headers={**creds, "password": "nope"}, timeout=5).json()["status"] == "FAILED"


def test_standard_webhooks_signature(receiver: DemoReceiver, http: requests.Session) -> None:
    url = receiver.endpoint_urls()["standard"]
    body = b'{"type":"order.shipped","data":{"order_no":"SO-1"}}'
    good = http.post(url, data=body, headers=signed(body, "msg_a"), timeout=5)
    assert good.status_code == 204 and good.content == b""
    again = http.post(url, data=body, headers=signed(body, "msg_a"), timeout=5)
    assert again.status_code == 204
    wrong_secret = http.post(url, data=body, headers=signed(body, "msg_b", secret=OTHER_SECRET), timeout=5)
    assert wrong_secret.status_code == 204  # recorded as unverified, still acknowledged by default
    stale = http.post(url, data=body, headers=signed(body, "msg_c", at=datetime.now(UTC) - timedelta(minutes=10)), timeout=5)
    assert stale.status_code == 204
    tampered = http.post(url, data=body.replace(b"SO-1", b"SO-2"), headers=signed(body, "msg_d"), timeout=5)
    assert tampered.status_code == 204
    unsigned = http.post(url, data=body, headers={"content-type": "application/json"}, timeout=5)
    assert unsigned.status_code == 204

    records = receiver.events("standard")
    assert [(r.dedupe_key, r.verified, r.outcome) for r in records] == [
        ("msg_a", True, "accepted"),
        ("msg_a", True, "duplicate"),
        ("msg_b", False, "accepted"),
        ("msg_c", False, "accepted"),
        ("msg_d", False, "accepted"),
        (None, False, "accepted"),
    ]
    assert records[0].reason == "" and "too old" in records[3].reason and "missing" in records[5].reason
    assert records[0].json == json.loads(body)

    receiver.configure("standard", require_signature=True)
    refused = http.post(url, data=body, headers=signed(body, "msg_e", secret=OTHER_SECRET), timeout=5)
    assert refused.status_code == 401 and "signature" in refused.json()["error"]
    assert http.post(url, data=body, headers=signed(body, "msg_e"), timeout=5).status_code == 204

    receiver.configure("standard", secret=OTHER_SECRET)
    assert http.post(url, data=body, headers=signed(body, "msg_f"), timeout=5).status_code == 401
    assert http.post(url, data=body, headers=signed(body, "msg_f", secret=OTHER_SECRET), timeout=5).status_code == 204


@pytest.mark.parametrize("library", [True, False], ids=["standardwebhooks", "hmac-fallback"])
def test_signature_check_with_and_without_the_library(monkeypatch: pytest.MonkeyPatch, library: bool) -> None:
    if not library:
        monkeypatch.setattr(demo_receiver, "_Webhook", None)
    body = b'{"a":1}'
    headers = signed(body, "msg_x")
    assert verify_standard(DEFAULT_STANDARD_SECRET, headers, body) == (True, "")
    assert verify_standard(DEFAULT_STANDARD_SECRET, {k.upper(): v for k, v in headers.items()}, body)[0]
    multi = {**headers, "webhook-signature": f"v2,abc v1,bm9wZQ== {headers['webhook-signature']}"}
    assert verify_standard(DEFAULT_STANDARD_SECRET, multi, body)[0]
    assert not verify_standard(OTHER_SECRET, headers, body)[0]
    assert not verify_standard(DEFAULT_STANDARD_SECRET, headers, b'{"a":2}')[0]
    assert not verify_standard(DEFAULT_STANDARD_SECRET, {**headers, "webhook-signature": "garbage"}, body)[0]
    assert not verify_standard(DEFAULT_STANDARD_SECRET, {**headers, "webhook-timestamp": "soon"}, body)[0]
    assert not verify_standard(DEFAULT_STANDARD_SECRET, {}, body)[0]
    assert not verify_standard(DEFAULT_STANDARD_SECRET, headers, b"\xff\xfe")[0]
    with DemoReceiver() as receiver:
        reply = requests.post(receiver.endpoint_urls()["standard"], data=body, headers=headers, timeout=5)
        assert reply.status_code == 204 and receiver.events("standard")[0].verified is True


def test_hmac_fallback_honours_the_timestamp_window() -> None:
    body = b"{}"
    headers = signed(body, "msg_t")
    sent = int(headers["webhook-timestamp"])
    assert verify_standard(DEFAULT_STANDARD_SECRET, headers, body, now=sent + 299) == (True, "")
    late = verify_standard(DEFAULT_STANDARD_SECRET, headers, body, now=sent + 301)
    assert late == (False, "webhook-timestamp outside the tolerance window")


# --------------------------------------------------------------------------------------------
# Failure modes
# --------------------------------------------------------------------------------------------


def _is_format_error(fmt: str, reply: requests.Response) -> bool:
    body = reply.json()
    if fmt == "shipper":
        metadata = body["metadata"]
        return bool(metadata["http_status_code"] == reply.status_code and metadata["errors"])
    if fmt == "increff":
        return body["hasError"] is True and bool(body["errorMessage"])
    if fmt == "unicommerce":
        return body["successful"] is False and bool(body["errors"])
    return bool(body["error"])


@pytest.mark.parametrize("fmt", demo_receiver.FORMATS)
def test_down_fail_next_and_status(fmt: str, receiver: DemoReceiver, http: requests.Session) -> None:
    ok = 204 if fmt == "standard" else 200

    configure(receiver, {fmt: {"down": True}})
    down = post_event(http, receiver, fmt, 1) if fmt != "unicommerce" else uc_ship(http, receiver, "whatever")
    assert down.status_code == 503 and _is_format_error(fmt, down)
    configure(receiver, {fmt: {"down": False}})

    configure(receiver, {fmt: {"fail_next": 2}})
    statuses = [post_event(http, receiver, fmt, n).status_code for n in (2, 3, 4, 5)]
    assert statuses == [500, 500, ok, ok]
    assert receiver.config()[fmt]["fail_next"] == 0

    receiver.configure(fmt, status=410, error_message="endpoint retired")
    gone = [post_event(http, receiver, fmt, n) for n in (6, 7)]
    assert [reply.status_code for reply in gone] == [410, 410]
    assert all(_is_format_error(fmt, reply) for reply in gone)
    assert "endpoint retired" in gone[0].text
    receiver.configure(fmt, status=None)
    assert post_event(http, receiver, fmt, 8).status_code == ok

    events = receiver.events(fmt)
    assert [(r.status, r.outcome) for r in events] == [
        (503, "failed"),
        (500, "failed"),
        (500, "failed"),
        (ok, "accepted"),
        (ok, "accepted"),
        (410, "failed"),
        (410, "failed"),
        (ok, "accepted"),
    ]
    stats = receiver.stats()["formats"][fmt]
    assert (stats["failed"], stats["accepted"]) == (5, 3)
    assert stats["statuses"] == dict(Counter(str(r.status) for r in receiver.received(fmt)))  # token calls too
    assert stats["statuses"]["500"] == 2 and stats["statuses"]["410"] == 2
    assert receiver.accepted_keys(fmt) == sorted(str(r.dedupe_key) for r in events if r.outcome == "accepted")


def test_down_covers_token_and_credential_routes(receiver: DemoReceiver, http: requests.Session) -> None:
    receiver.update_config({"increff": {"down": True, "auth_mode": "dynamic"}, "unicommerce": {"down": True}})
    token = uc_token(http, receiver)
    assert token.status_code == 503 and token.json() == {"status": "FAILED", "errorMessage": "simulated failure (down)"}
    credential = http.get(receiver.increff_credential_url, timeout=5)
    assert credential.status_code == 503 and credential.json()["hasError"] is True
    receiver.clear_failures()
    assert uc_token(http, receiver).status_code == 200
    assert http.get(receiver.increff_credential_url, timeout=5).status_code == 200
    assert receiver.config()["increff"]["auth_mode"] == "dynamic"  # auth settings survive clear_failures


def test_fail_next_is_not_spent_on_token_calls(receiver: DemoReceiver, http: requests.Session) -> None:
    receiver.configure("unicommerce", fail_next=1)
    token = uc_token(http, receiver).json()["access_token"]
    assert uc_ship(http, receiver, token).status_code == 500
    assert uc_ship(http, receiver, token).status_code == 200


def test_business_errors_with_http_200(receiver: DemoReceiver, http: requests.Session) -> None:
    configure(
        receiver,
        {
            "increff": {"increff_has_error": True, "error_message": "Order SO-1 not found"},
            "unicommerce": {"unicommerce_unsuccessful": True},
        },
    )
    increff = post_event(http, receiver, "increff", 1)
    assert increff.status_code == 200
    assert increff.json() == {"hasError": True, "errorMessage": "Order SO-1 not found"}
    token = uc_token(http, receiver).json()["access_token"]
    unicommerce = uc_ship(http, receiver, token)
    assert unicommerce.status_code == 200
    body = unicommerce.json()
    assert body["successful"] is False and body["warnings"] == []
    assert body["errors"][0]["message"] == "simulated failure" and set(body["errors"][0]) >= {"code", "fieldName", "description"}

    assert [(r.outcome, r.status) for r in receiver.events()] == [("failed", 200), ("failed", 200)]
    assert receiver.accepted_keys("increff") == [] and receiver.accepted_keys("unicommerce") == []
    receiver.clear_failures()
    assert post_event(http, receiver, "increff", 1).json()["hasError"] is False
    assert uc_ship(http, receiver, token).json()["successful"] is True
    assert receiver.accepted_keys("increff") == ["1"] and receiver.accepted_keys("unicommerce") == ["PKG-1"]


def test_delay_overlaps_concurrent_requests(receiver: DemoReceiver) -> None:
    receiver.configure("shipper", delay_ms=200)
    url = receiver.endpoint_urls()["shipper"]

    def call(n: int) -> tuple[int, float]:
        began = time.perf_counter()
        reply = requests.post(url, json=pgi(delivery_no=f"AWB-{n}"), timeout=5)
        return reply.status_code, time.perf_counter() - began

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(call, range(8)))
    elapsed = time.perf_counter() - began
    assert all(status == 200 and latency >= 0.2 for status, latency in results)
    assert elapsed < 0.8, elapsed  # serial would take 1.6 s
    assert receiver.stats()["formats"]["shipper"]["accepted"] == 8
    receiver.configure("shipper", delay_ms=0)
    began = time.perf_counter()
    requests.post(url, json=pgi(), timeout=5)
    assert time.perf_counter() - began < 0.15


# --------------------------------------------------------------------------------------------
# Control API
# --------------------------------------------------------------------------------------------


def test_config_over_http(receiver: DemoReceiver) -> None:
    config = control(receiver, "GET", "config").json()
    assert set(config) == set(demo_receiver.FORMATS)
    assert config["shipper"] == {
        "delay_ms": 0,
        "down": False,
        "error_message": "simulated failure",
        "fail_next": 0,
        "status": None,
    }
    assert config["increff"]["auth_mode"] == "none" and config["unicommerce"]["username"] == DEFAULT_UNICOMMERCE_USERNAME
    assert config["standard"]["secret"] == DEFAULT_STANDARD_SECRET and config["standard"]["require_signature"] is False

    updated = configure(receiver, {"shipper": {"delay_ms": 5}, "unicommerce": {"username": "u", "password": "p"}})
    assert updated["shipper"]["delay_ms"] == 5 and updated["unicommerce"]["username"] == "u"

    refusals: list[tuple[dict[str, Any], str]] = [
        ({"nope": {}}, "nope"),
        ({"shipper": {"increff_has_error": True}}, "shipper.increff_has_error"),
        ({"shipper": {"down": "yes"}}, "shipper.down"),
        ({"shipper": {"fail_next": -1}}, "shipper.fail_next"),
        ({"shipper": {"status": 200}}, "shipper.status"),
        ({"shipper": {"delay_ms": 1.5}}, "shipper.delay_ms"),
        ({"increff": {"auth_mode": "static"}}, "increff.static_headers"),
        ({"increff": {"auth_mode": "oauth"}}, "increff.auth_mode"),
        ({"increff": {"static_headers": {"a": 1}}}, "increff.static_headers"),
        ({"unicommerce": {"token_ttl_s": 0}}, "unicommerce.token_ttl_s"),
        ({"standard": {"secret": "whsec_!!!"}}, "standard.secret"),
        ({"standard": {"secret": ""}}, "standard.secret"),
        ({"shipper": []}, "shipper"),
    ]
    for body, field in refusals:
        # A valid change to another format travels with the bad one: nothing may be applied.
        reply = control(receiver, "POST", "config", json={"standard": {"down": True}, **body})
        assert reply.status_code == 400, body
        assert reply.json()["field"] == field, body
    assert control(receiver, "POST", "config", data=b"{not json").status_code == 400
    assert control(receiver, "POST", "config", json=[1]).status_code == 400
    assert receiver.config()["standard"]["down"] is False
    assert receiver.config() == control(receiver, "GET", "config").json()

    with pytest.raises(DemoReceiverError):
        receiver.configure("shipper", bogus=1)
    with pytest.raises(DemoReceiverError):
        receiver.configure("elsewhere", down=True)
    with pytest.raises(ValueError):
        DemoReceiver(standard_secret="whsec_")


def test_received_filters_stats_and_reset(receiver: DemoReceiver, http: requests.Session) -> None:
    for fmt in demo_receiver.FORMATS:
        assert post_event(http, receiver, fmt).ok
    listing = control(receiver, "GET", "received").json()
    assert [(item["format"], item["kind"]) for item in listing["received"]] == [
        ("shipper", "event"),
        ("increff", "event"),
        ("unicommerce", "token"),
        ("unicommerce", "event"),
        ("standard", "event"),
    ]
    assert listing["last_seq"] == 5 and [item["seq"] for item in listing["received"]] == [1, 2, 3, 4, 5]
    item = listing["received"][1]
    assert set(item) == {
        "seq",
        "format",
        "kind",
        "method",
        "path",
        "headers",
        "body",
        "json",
        "dedupe_key",
        "verified",
        "status",
        "outcome",
        "reason",
        "at",
        "received_at",
    }
    assert item["json"] == posting(1) and item["dedupe_key"] == "1"

    def seqs(**params: str) -> list[int]:
        reply = control(receiver, "GET", "received", params=params)
        assert reply.status_code == 200, reply.text
        return [entry["seq"] for entry in reply.json()["received"]]

    assert seqs(format="unicommerce") == [3, 4]
    assert seqs(format="unicommerce", kind="event") == [4]
    assert seqs(kind="token") == [3]
    assert seqs(outcome="issued") == [3]
    assert seqs(since="3") == [4, 5]
    assert seqs(format="", since="") == [1, 2, 3, 4, 5]
    for params in ({"format": "smtp"}, {"kind": "poll"}, {"outcome": "maybe"}, {"since": "-1"}, {"since": "x"}):
        assert control(receiver, "GET", "received", params=params).status_code == 400, params

    stats = control(receiver, "GET", "stats").json()
    assert stats["last_seq"] == 5 and stats["records_kept"] == 5
    assert {fmt: counters["accepted"] for fmt, counters in stats["formats"].items()} == dict.fromkeys(demo_receiver.FORMATS, 1)
    assert stats["formats"]["unicommerce"]["requests"] == 2 and stats["formats"]["unicommerce"]["events"] == 1

    receiver.configure("shipper", down=True)
    assert control(receiver, "POST", "reset").json() == {"reset": True}
    assert receiver.received() == [] and receiver.config()["shipper"]["down"] is False
    after = receiver.stats()
    assert after["last_seq"] == 5 and all(counters["requests"] == 0 for counters in after["formats"].values())
    assert post_event(http, receiver, "shipper").ok  # the same key is new again after a reset
    [record] = receiver.received()
    assert record.seq == 6 and record.outcome == "accepted"  # seq never goes back: `since` stays valid
    assert receiver.last_seq == 6


def test_reset_restores_constructor_settings_and_forgets_tokens() -> None:
    with DemoReceiver(increff_auth_mode="static", increff_static_headers={"x-key": "v"}) as receiver, requests.Session() as http:
        token = receiver_token(receiver)
        receiver.configure("increff", auth_mode="none")
        receiver.reset()
        assert receiver.config()["increff"]["auth_mode"] == "static"
        assert receiver.config()["increff"]["static_headers"] == {"x-key": "v"}
        assert uc_ship(http, receiver, token).status_code == 401
        assert receiver.events("unicommerce")[0].reason == "unknown token"


def test_routing_errors(receiver: DemoReceiver, http: requests.Session) -> None:
    assert http.get(f"{receiver.url}/nowhere", timeout=5).status_code == 404
    assert http.get(f"{receiver.url}/", timeout=5).status_code == 404
    assert control(receiver, "GET", "nothing").status_code == 404
    assert control(receiver, "DELETE", "config").status_code == 404
    assert receiver.received() == []  # nothing under a format prefix: nothing recorded

    assert http.get(receiver.endpoint_urls()["shipper"], timeout=5).status_code == 405
    assert http.post(f"{receiver.url}/unicommerce/v1/returns/PKG-1", json={}, timeout=5).status_code == 404
    assert http.post(f"{receiver.url}/unicommerce", json={}, timeout=5).status_code == 404
    not_json = http.post(receiver.endpoint_urls()["increff"], data=b"<xml/>", timeout=5)
    assert not_json.status_code == 400 and not_json.json()["hasError"] is True
    assert http.post(receiver.endpoint_urls()["shipper"], data=b"", timeout=5).status_code == 400
    assert [(r.format, r.kind, r.status, r.outcome) for r in receiver.received()] == [
        ("shipper", "event", 405, "rejected"),
        ("unicommerce", "unknown", 404, "rejected"),
        ("unicommerce", "unknown", 404, "rejected"),
        ("increff", "event", 400, "rejected"),
        ("shipper", "event", 400, "rejected"),
    ]
    assert receiver.received(format="increff")[0].body == "<xml/>"


def test_wait_for(receiver: DemoReceiver) -> None:
    def later() -> None:
        time.sleep(0.1)
        for n in (1, 2):
            requests.post(receiver.endpoint_urls()["increff"], json=posting(n), timeout=5)

    sender = threading.Thread(target=later)
    sender.start()
    began = time.perf_counter()
    found = receiver.wait_for(lambda r: r.format == "increff" and r.outcome == "accepted", timeout=5, count=2)
    sender.join()
    assert [r.dedupe_key for r in found] == ["1", "2"]
    assert time.perf_counter() - began < 2
    assert receiver.wait_for(timeout=0)[0].seq == 1
    with pytest.raises(TimeoutError, match="0 of 1"):
        receiver.wait_for(lambda r: r.format == "standard", timeout=0.1)


def test_max_records_keeps_the_newest(http: requests.Session) -> None:
    with DemoReceiver(max_records=3) as receiver:
        for n in range(5):
            post_event(http, receiver, "increff", n)
        assert [r.seq for r in receiver.received()] == [3, 4, 5]
        stats = receiver.stats()
        assert stats["records_kept"] == 3 and stats["formats"]["increff"]["accepted"] == 5


def test_keep_alive_requests_do_not_stall(receiver: DemoReceiver, http: requests.Session) -> None:
    timings = []
    for n in range(20):
        began = time.perf_counter()
        assert post_event(http, receiver, "standard", n).status_code == 204
        timings.append(time.perf_counter() - began)
    timings.sort()
    assert timings[len(timings) // 2] < 0.03, timings  # Nagle + delayed ACK would make it ~40 ms


# --------------------------------------------------------------------------------------------
# Lifecycle
# --------------------------------------------------------------------------------------------


def _swallow(url: str) -> None:
    with contextlib.suppress(requests.RequestException):
        requests.post(url, json=pgi(), timeout=10)


def test_stop_releases_port_and_threads() -> None:
    threads_before = set(threading.enumerate())
    receiver = DemoReceiver()
    receiver.start()
    url, port = receiver.url, receiver.port
    session = requests.Session()  # an idle keep-alive connection stays open
    assert session.post(receiver.endpoint_urls()["shipper"], json=pgi(), timeout=5).status_code == 200
    receiver.configure("shipper", delay_ms=10_000)
    slow = threading.Thread(target=_swallow, args=(receiver.endpoint_urls()["shipper"],))
    slow.start()
    receiver.wait_for(lambda r: True, timeout=1)
    wait_until(lambda: len(set(threading.enumerate()) - threads_before) >= 3, what="server and two connection threads")
    began = time.perf_counter()
    receiver.stop()
    slow.join(timeout=5)
    session.close()
    assert time.perf_counter() - began < 3
    assert not receiver.running
    assert set(threading.enumerate()) == threads_before
    assert len(receiver.received()) == 1  # the delayed request was released without an answer
    with socket.socket() as probe:  # the port is free again (closed connections linger in TIME_WAIT)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/_demo/health", timeout=1)

    receiver.start()  # restartable, on the same port, state kept
    assert receiver.url == url
    assert control(receiver, "GET", "stats").json()["last_seq"] == 1
    receiver.stop()
    receiver.stop()  # idempotent
    assert set(threading.enumerate()) == threads_before


def test_handle_without_a_socket() -> None:
    receiver = DemoReceiver()
    with pytest.raises(RuntimeError):
        _ = receiver.url
    reply = receiver.handle("POST", "/increff/x?debug=1", {"Content-Type": "application/json"}, json.dumps(posting(3)).encode())
    assert reply.status == 200 and reply.json() == {"hasError": False, "errorMessage": ""}
    assert receiver.received()[0].headers == {"content-type": "application/json"}
    assert receiver.handle("GET", "/_demo/stats", {}, b"").json()["formats"]["increff"]["accepted"] == 1
