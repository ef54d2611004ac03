"""The portal function under moto: one-time links, the session cookie, CSRF, tenant scoping and
escaping, driven through the real handlers (admin API for the link, portal for the pages)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from local_stack.harness import FakeContext, api_event
from order_hub import lifecycle, wiring
from tests.integration.conftest import Hub, Invoke, seed_delivery
from tests.payloads import order_body

pytestmark = pytest.mark.usefixtures("example_dns")


@dataclass
class Page:
    status: int
    html: str
    headers: dict[str, str]
    cookies: list[str]

    def csrf(self) -> str:
        match = re.search(r'name="csrf" value="([^"]+)"', self.html)
        assert match, self.html[:2000]
        return match.group(1)


Browser = Callable[..., Page]


def _link(hub: Hub, tenant: str = "acme") -> str:
    from functions.admin_api.app import lambda_handler

    event = api_event("admin_api/register_endpoint", hub.api_keys[tenant], None)
    event["path"] = event["resource"] = "/hub/v1/portal/sessions"
    raw = lambda_handler(event, FakeContext())
    assert raw["statusCode"] == 200, raw["body"]
    data = json.loads(raw["body"])["data"]
    assert set(data) == {"url", "expires_at"}
    return str(data["url"])


@pytest.fixture
def browser(hub: Hub) -> Browser:
    from functions.portal.app import lambda_handler

    def call(method: str, target: str, form: dict[str, Any] | None = None, cookie: str | None = None) -> Page:
        url = urlsplit(target)
        headers = {"Host": "abc.execute-api.us-east-1.amazonaws.com"}
        if cookie:
            headers["Cookie"] = cookie
        if form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        event = api_event(
            "admin_api/list_endpoints", None, urlencode(form, doseq=True) if form is not None else None, headers=headers
        )
        event["httpMethod"] = method
        event["path"] = url.path
        event["resource"] = "/portal/{proxy+}" if url.path != "/portal" else "/portal"
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        event["queryStringParameters"] = query or None
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
        raw = lambda_handler(event, FakeContext())
        multi = raw.get("multiValueHeaders") or {}
        headers_out = {**(raw.get("headers") or {}), **{k: v[-1] for k, v in multi.items() if v}}
        cookies = list(multi.get("Set-Cookie") or [])
        return Page(status=raw["statusCode"], html=raw["body"], headers=headers_out, cookies=cookies)

    return call


def _sign_in(hub: Hub, browser: Browser, tenant: str = "acme") -> tuple[str, str]:
    """(cookie, csrf) of a fresh session."""
    url = urlsplit(_link(hub, tenant))
    page = browser("GET", f"{url.path}?{url.query}")
    assert page.status == 200, page.html
    (cookie,) = page.cookies
    return cookie.split(";")[0], page.csrf()


def test_a_link_works_once_and_sets_a_strict_http_only_secure_cookie(hub: Hub, browser: Browser) -> None:
    url = urlsplit(_link(hub))
    assert url.path == "/portal/login"
    first = browser("GET", f"{url.path}?{url.query}")
    assert first.status == 200
    (cookie,) = first.cookies
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite", "path", "max-age"} <= attributes
    assert "SameSite=Strict" in cookie and "Max-Age=1800" in cookie
    second = browser("GET", f"{url.path}?{url.query}")
    assert second.status == 403
    assert "already used or has expired" in second.html
    assert second.cookies == []
    assert browser("GET", "/portal/login?token=acme.forged-token-forged-token-forged-token-xx").status == 403


def test_pages_need_a_session_and_carry_the_security_headers(hub: Hub, browser: Browser) -> None:
    assert browser("GET", "/portal/orders").status == 401
    assert browser("GET", "/portal/orders", cookie="hub_portal=acme.nonsense").status == 401
    cookie, _ = _sign_in(hub, browser)
    page = browser("GET", "/portal/orders", cookie=cookie)
    assert page.status == 200
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["Cache-Control"] == "no-store"
    assert browser("GET", "/portal/static/portal.js").status == 200
    assert browser("GET", "/portal/static/..%2Ftemplates%2Fbase.html").status == 404


def test_every_form_needs_the_session_csrf_token(hub: Hub, browser: Browser) -> None:
    cookie, csrf = _sign_in(hub, browser)
    form = {"endpoint_id": "erp", "format": "standard", "url": "https://erp.example.com/hooks"}
    refused = browser("POST", "/portal/endpoints", form, cookie=cookie)
    assert refused.status == 403
    assert wiring.endpoint_registry().get_endpoint("acme", "erp") is None
    other_cookie, other_csrf = _sign_in(hub, browser)
    assert browser("POST", "/portal/endpoints", {**form, "csrf": other_csrf}, cookie=cookie).status == 403
    assert browser("POST", "/portal/endpoints", {**form, **{f"f{n}": "x" for n in range(300)}}, cookie=cookie).status == 400
    added = browser("POST", "/portal/endpoints", {**form, "csrf": csrf}, cookie=cookie)
    assert added.status == 201, added.html
    assert re.search(r'id="signing-secret">whsec_', added.html)  # shown once
    assert wiring.endpoint_registry().get_endpoint("acme", "erp") is not None
    shown_again = browser("GET", "/portal/endpoints/erp", cookie=other_cookie)
    assert "whsec_" not in shown_again.html


def test_another_tenants_order_and_endpoint_are_not_found(hub: Hub, browser: Browser, invoke: Invoke) -> None:
    body = order_body(so_number="SO-RIVAL-1", warehouse_id="WH-TGR04")
    assert invoke("create_order", body, tenant="rival").status == 200
    cookie, csrf = _sign_in(hub, browser, "acme")
    assert browser("GET", "/portal/orders/WH-TGR04/SO-RIVAL-1", cookie=cookie).status == 404
    listed = browser("GET", "/portal/orders?so_number=SO-RIVAL-1", cookie=cookie)
    assert listed.status == 200 and "SO-RIVAL-1" not in listed.html.replace('value="SO-RIVAL-1"', "")
    rival_cookie, _ = _sign_in(hub, browser, "rival")
    assert browser("GET", "/portal/orders/WH-TGR04/SO-RIVAL-1", cookie=rival_cookie).status == 200
    form = {"endpoint_id": "erp", "format": "standard", "url": "https://erp.example.com/hooks", "csrf": csrf}
    assert browser("POST", "/portal/endpoints", form, cookie=cookie).status == 201
    assert browser("GET", "/portal/endpoints/erp", cookie=rival_cookie).status == 404


def test_order_fields_are_rendered_as_text(hub: Hub, browser: Browser, invoke: Invoke) -> None:
    body = order_body(so_number="SO-XSS-1", warehouse_id="WH-TGR04")
    body["notes"] = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    assert invoke("create_order", body).status == 200, body
    cookie, _ = _sign_in(hub, browser)
    page = browser("GET", "/portal/orders/WH-TGR04/SO-XSS-1", cookie=cookie)
    assert page.status == 200
    assert "<script>alert" not in page.html and "<img src=x" not in page.html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page.html


def test_a_session_expires_and_logout_ends_it(hub: Hub, browser: Browser, monkeypatch: pytest.MonkeyPatch) -> None:
    cookie, csrf = _sign_in(hub, browser)
    assert browser("POST", "/portal/logout", {"csrf": csrf}, cookie=cookie).status == 200
    assert browser("GET", "/portal", cookie=cookie).status == 401

    monkeypatch.setenv("PORTAL_SESSION_SECONDS", "1")
    lifecycle.reset()
    short, _ = _sign_in(hub, browser)
    assert browser("GET", "/portal/endpoints", cookie=short).status == 200
    time.sleep(1.1)
    expired = browser("GET", "/portal/endpoints", cookie=short)
    assert expired.status == 401
    assert "ended or has expired" in expired.html


def test_links_and_sessions_are_stored_as_digests_under_the_tenant(hub: Hub, browser: Browser) -> None:
    url = urlsplit(_link(hub))
    token = parse_qs(url.query)["token"][0]
    cookie, _ = _sign_in(hub, browser)
    items = hub.dynamodb.query(
        TableName=hub.tables["TenantsTable"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "PORTAL#acme"}},
    )["Items"]
    kinds = sorted(item["sk"]["S"].split("#")[0] for item in items)
    assert kinds == ["LINK", "LINK", "SESSION"]
    stored = json.dumps(items)
    assert token.split(".")[1] not in stored and cookie.split(".")[1] not in stored
    assert all(int(item["expires_at"]["N"]) > time.time() for item in items)


def test_a_link_expires_after_its_lifetime_unused(hub: Hub) -> None:
    from order_hub.services import portal_access

    now = int(time.time())
    store = wiring.portal_store()
    late = portal_access.issue_link(store, wiring.tenant_directory(), "acme", now, 600)
    assert late.expires_at == now + 600  # PORTAL_LINK_SECONDS' default: 10 minutes
    assert portal_access.open_link(store, late.token, now + 600, 1800) is None
    on_time = portal_access.issue_link(store, wiring.tenant_directory(), "acme", now, 600)
    assert portal_access.open_link(store, on_time.token, now + 599, 1800) is not None
    assert portal_access.open_link(store, on_time.token, now + 599, 1800) is None  # once
    assert portal_access.open_link(store, "rival." + on_time.token.split(".")[1], now, 1800) is None  # tenant in the key


def test_the_order_list_filters_and_pages_like_the_list_api(hub: Hub, browser: Browser, invoke: Invoke) -> None:
    for n in range(23):
        warehouse = "WH-CGK09" if n % 8 == 0 else "WH-TGR04"
        assert invoke("create_order", order_body(so_number=f"SO-PAGE-{n:02d}", warehouse_id=warehouse)).status == 200
    cookie, _ = _sign_in(hub, browser)
    first = browser("GET", "/portal/orders", cookie=cookie)
    assert "23 orders." in first.html and "page 1 of 2" in first.html
    assert len(re.findall(r'class="order-link"', first.html)) == 20
    second = browser("GET", "/portal/orders?page=2", cookie=cookie)
    assert len(re.findall(r'class="order-link"', second.html)) == 3
    assert 'id="prev"' in second.html and 'id="next"' not in second.html
    by_warehouse = browser("GET", "/portal/orders?warehouse_id=WH-CGK09", cookie=cookie)
    assert sorted(re.findall(r">(SO-PAGE-\d\d)</a>", by_warehouse.html)) == ["SO-PAGE-00", "SO-PAGE-08", "SO-PAGE-16"]
    assert "0 orders." in browser("GET", "/portal/orders?status=CLOSED", cookie=cookie).html
    today = time.strftime("%Y-%m-%d", time.gmtime())
    dated = browser("GET", f"/portal/orders?created_start={today}&created_end={today}&status=REGISTERED", cookie=cookie)
    assert "23 orders." in dated.html
    found = browser("GET", "/portal/orders?so_number=SO-PAGE-08", cookie=cookie)
    assert re.findall(r">(SO-PAGE-\d\d)</a>", found.html) == ["SO-PAGE-08"]
    refused = browser("GET", "/portal/orders?warehouse_id=WH-ELSEWHERE", cookie=cookie)
    assert refused.status == 400 and "is not one of yours" in refused.html
    assert browser("GET", "/portal/orders?created_start=yesterday", cookie=cookie).status == 400


def test_edit_rotate_and_enable_an_endpoint(hub: Hub, browser: Browser) -> None:
    import boto3

    cookie, csrf = _sign_in(hub, browser)
    form = {
        "endpoint_id": "erp",
        "format": "standard",
        "url": "https://erp.example.com/hooks",
        "headers": "X-Team: ops",
        "csrf": csrf,
    }
    added = browser("POST", "/portal/endpoints", form, cookie=cookie)
    assert added.status == 201
    first_secret = re.search(r'id="signing-secret">(whsec_[^<]+)<', added.html)
    assert first_secret

    edit = {"url": "https://erp2.example.com/hooks", "events": ["order.shipped", "order.created"], "description": "ERP <v2>"}
    saved = browser("POST", "/portal/endpoints/erp", {**edit, "timeout_seconds": "20", "csrf": csrf}, cookie=cookie)
    assert saved.status == 303 and saved.headers["Location"] == "/portal/endpoints/erp?notice=saved"
    stored = wiring.endpoint_registry().get_endpoint("acme", "erp")
    assert stored is not None
    assert (stored.url, stored.events, stored.timeout_seconds, stored.description) == (
        "https://erp2.example.com/hooks",
        ["order.created", "order.shipped"],
        20.0,
        "ERP <v2>",
    )
    bad = browser("POST", "/portal/endpoints/erp", {"url": "http://10.0.0.1/x", "csrf": csrf}, cookie=cookie)
    assert bad.status == 400 and 'id="form-error"' in bad.html

    rotated = browser("POST", "/portal/endpoints/erp/rotate", {"csrf": csrf}, cookie=cookie)
    second_secret = re.search(r'id="signing-secret">(whsec_[^<]+)<', rotated.html)
    assert second_secret and second_secret.group(1) != first_secret.group(1)
    assert stored.secret_name
    kept = json.loads(
        boto3.client("secretsmanager", region_name="us-east-1").get_secret_value(SecretId=stored.secret_name)["SecretString"]
    )
    assert kept == {"headers": {"X-Team": "ops"}, "secret": second_secret.group(1)}
    assert second_secret.group(1) not in browser("GET", "/portal/endpoints/erp", cookie=cookie).html

    no_reason = browser("POST", "/portal/endpoints/erp/enabled", {"enabled": "false", "csrf": csrf}, cookie=cookie)
    assert no_reason.status == 400
    off = browser("POST", "/portal/endpoints/erp/enabled", {"enabled": "false", "reason": "paused", "csrf": csrf}, cookie=cookie)
    assert off.status == 303
    assert wiring.endpoint_registry().get_endpoint("acme", "erp").enabled is False  # type: ignore[union-attr]
    assert browser("POST", "/portal/endpoints/erp/enabled", {"enabled": "true", "csrf": csrf}, cookie=cookie).status == 303
    assert wiring.endpoint_registry().get_endpoint("acme", "erp").enabled is True  # type: ignore[union-attr]


def _seed_delivery(status: str, n: int, tenant: str = "acme", endpoint: str = "erp") -> str:
    from datetime import UTC, datetime, timedelta

    answer = "<script>alert(1)</script>" if status != "delivered" else "ok"  # a receiver's answer stays text
    at = datetime.now(UTC) - timedelta(days=3, minutes=n)
    return seed_delivery(status, n, at, tenant=tenant, endpoint=endpoint, response=answer)


def test_deliveries_show_the_tenants_problems_and_replay_them(hub: Hub, browser: Browser) -> None:
    import boto3

    failed = _seed_delivery("failed", 1)
    retrying = _seed_delivery("retrying", 2)
    _seed_delivery("delivered", 3)
    theirs = _seed_delivery("failed", 4, tenant="rival")
    cookie, csrf = _sign_in(hub, browser)
    form = {"endpoint_id": "erp", "format": "standard", "url": "https://erp.example.com/hooks", "csrf": csrf}
    assert browser("POST", "/portal/endpoints", form, cookie=cookie).status == 201
    page = browser("GET", "/portal/deliveries", cookie=cookie)
    problems = page.html.split('id="problems"')[1].split("</table>")[0]
    assert "SO-1" in problems and "SO-2" in problems  # three days old: problems are shown whatever their age
    assert "SO-3" not in problems and "SO-4" not in problems
    recent = browser("GET", "/portal/deliveries?endpoint_id=erp&since=2020-01-01T00:00", cookie=cookie)
    assert "SO-3" in recent.html.split('id="recent"')[1]
    shown = browser("GET", f"/portal/deliveries/{retrying}", cookie=cookie)
    assert shown.status == 200 and "&lt;script&gt;alert(1)&lt;/script&gt;" in shown.html and "<script>alert" not in shown.html
    assert browser("GET", f"/portal/deliveries/{theirs}", cookie=cookie).status == 404
    assert browser("POST", f"/portal/deliveries/{theirs}/replay", {"csrf": csrf}, cookie=cookie).status == 404

    replayed = browser("POST", f"/portal/deliveries/{failed}/replay", {"csrf": csrf, "back": "order"}, cookie=cookie)
    assert replayed.status == 303 and replayed.headers["Location"] == "/portal/orders/WH-TGR04/SO-1?notice=replayed"
    assert wiring.delivery_log().get(failed).status == "pending"  # type: ignore[union-attr]
    sqs = boto3.client("sqs", region_name="us-east-1")
    queued = sqs.receive_message(QueueUrl=hub.tables["DeliveryQueue"], MaxNumberOfMessages=10).get("Messages", [])
    assert [json.loads(m["Body"])["delivery_id"] for m in queued] == [failed]

    since = browser("POST", "/portal/endpoints/erp/replay", {"since": "2020-01-01T00:00", "csrf": csrf}, cookie=cookie)
    assert since.status == 303 and "replayed=1" in since.headers["Location"]  # the retrying one (SO-1 is pending already)
    assert wiring.delivery_log().get(retrying).status == "pending"  # type: ignore[union-attr]
    assert (
        browser("POST", "/portal/endpoints/nope/replay", {"since": "2020-01-01T00:00", "csrf": csrf}, cookie=cookie).status == 404
    )
