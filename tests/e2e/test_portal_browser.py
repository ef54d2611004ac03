"""The tenant portal in a real browser: Debian's headless Chromium driven by Playwright, against
the session's local stack. No browser is downloaded: the system's ``/usr/bin/chromium`` runs
(``.ci/run`` installs it). Every page visited is saved as a screenshot under ``artifacts/portal/``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, expect, sync_playwright

from tests.e2e.client import OMS, WH, Hub
from tests.e2e.conftest import REPO_ROOT, StackProcess
from tests.payloads import order_body

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = REPO_ROOT / "artifacts" / "portal"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'

Shot = Callable[[Page, str], None]


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium chromium-driver (.ci/run does)"
    with sync_playwright() as running:
        yield running


@pytest.fixture
def browser(playwright: Playwright, tmp_path: Path) -> Iterator[BrowserContext]:
    """A fresh Chromium profile per test (its own cookies): ``--user-data-dir`` is a new folder."""
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, args=ARGS, headless=True, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(15_000)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)  # each test overwrites its own pages' files
    return SCREENSHOTS


@pytest.fixture
def shot(screenshots: Path) -> Shot:
    def save(page: Page, name: str) -> None:
        page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)

    return save


def _link(hub: Hub) -> str:
    response = hub.api("POST", "/hub/v1/portal/sessions")
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["url"])


def _admin(stack_process: StackProcess, *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "order_hub.admin_cli", "--stack", str(stack_process.state_file), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _sign_in(browser: BrowserContext, link: str) -> Page:
    page = browser.new_page()
    page.goto(link)
    expect(page.locator("h1")).to_have_text("Signed in")
    page.click("#continue")
    expect(page.locator("h1")).to_have_text("Overview")
    return page


def _until(page: Page, check: Callable[[], bool], what: str, timeout: float = 40.0) -> None:
    """Reload the page until ``check`` holds (the pumps deliver in the background)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not seen within {timeout:.0f} s")
        time.sleep(0.5)
        page.reload()


def test_the_printed_link_works_once_and_the_overview_draws_its_charts(
    stack: dict[str, Any], browser: BrowserContext, shot: Shot
) -> None:
    hub = Hub(stack)
    so = hub.create()
    hub.wait_received("standard", so, bool, "a callback for today's order")
    page = browser.new_page()
    page.goto(stack["portal_url"])  # what `make run` prints
    expect(page.locator("h1")).to_have_text("Signed in")
    cookie = next(c for c in browser.cookies() if c["name"] == "hub_portal")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/portal"
    page.click("#continue")
    expect(page.locator("#orders-chart rect.bar")).to_have_count(7)
    assert int(page.locator("#orders-chart rect.bar").last.get_attribute("height") or 0) > 0  # today's orders
    expect(page.locator('#success-chart title:text("demo-standard: 100%")')).to_have_count(1)
    shot(page, "01-overview")

    again = browser.new_page()
    again.goto(stack["portal_url"])
    expect(again.locator("#reason")).to_contain_text("already used or has expired")
    shot(again, "02-link-used-twice")


def test_find_an_order_see_its_failed_delivery_replay_it_and_see_it_delivered(
    stack: dict[str, Any], browser: BrowserContext, shot: Shot
) -> None:
    hub = Hub(stack)
    page = _sign_in(browser, _link(hub))
    # The standard receiver fails for good (the stack retries after 1, 1 and 2 s) and answers with markup.
    hub.receiver("POST", "/_demo/config", {"standard": {"status": 500, "error_message": XSS}})
    try:
        so = f"PORTAL-{uuid.uuid4().hex[:8].upper()}"
        body = order_body(so_number=so, notes=XSS, consignee="Budi <b>bold</b>")
        assert hub.api("POST", OMS, json=body).status_code == 200

        page.goto(f"{stack['api_url']}/portal/orders")
        expect(page.locator("#orders")).to_be_visible()
        shot(page, "03-orders")
        page.fill("#so_number", so)
        page.click("#search")
        expect(page.locator("#orders .order-link")).to_have_text([so])
        shot(page, "04-orders-search")
        page.click("#orders .order-link")
        expect(page.locator("#order-no")).to_have_text(so)

        standard = page.locator('.event .delivery[data-delivery-id$=".demo-standard"]').first
        _until(page, lambda: standard.count() == 1 and "failed" in standard.locator(".status").inner_text(), "a failed delivery")
        # Whatever the order and the receiver sent is text: no script ran, no element was made of it.
        expect(page.locator("#notes")).to_have_text(XSS)
        expect(page.locator("#consignee")).to_contain_text("Budi <b>bold</b>")
        expect(standard.locator("code.response").first).to_contain_text("<script>")
        assert page.evaluate("window.__xss") is None
        assert page.locator("#notes script, #notes img, #consignee b, code.response script").count() == 0
        shot(page, "05-order-timeline-failed")
    finally:
        hub.receiver("POST", "/_demo/config", {"standard": {"status": None, "error_message": "simulated failure"}})

    delivery_id = standard.get_attribute("data-delivery-id")
    failed = page.locator(f'.delivery[data-delivery-id="{delivery_id}"]')
    failed.locator("button.replay").click()
    expect(page.locator(".notice")).to_contain_text("queued again")
    _until(page, lambda: "delivered" in failed.locator(".status").inner_text(), "the replayed delivery delivered")
    expect(failed.locator(".attempts tbody tr").last).to_contain_text("delivered")
    shot(page, "06-order-timeline-replayed")

    page.goto(f"{stack['api_url']}/portal/deliveries?endpoint_id=demo-standard")
    expect(page.locator("#recent")).to_contain_text(so)
    shot(page, "07-deliveries")
    page.goto(f"{stack['api_url']}/portal/deliveries/{delivery_id}")
    expect(page.locator(".delivery .status")).to_have_text("delivered")
    expect(page.locator(".attempts tbody tr").first).to_contain_text("retry")  # the failed attempts are kept
    expect(page.locator(".attempts tbody tr").last).to_contain_text("delivered")  # then the replay's
    shot(page, "07b-delivery")


def test_add_an_endpoint_send_a_test_event_and_disable_it(stack: dict[str, Any], browser: BrowserContext, shot: Shot) -> None:
    hub = Hub(stack)
    page = _sign_in(browser, _link(hub))
    page.goto(f"{stack['api_url']}/portal/endpoints")
    shot(page, "08-endpoints")
    endpoint_id = f"portal-{uuid.uuid4().hex[:6]}"
    page.fill("#endpoint_id", endpoint_id)
    page.select_option("#format", "shipper")
    expect(page.locator('.format-fields[data-format="standard"]')).to_be_hidden()  # the vendored script
    page.fill("#url", stack["demo_receiver"]["endpoints"]["demo-shipper"])
    page.click("#add")
    expect(page.locator("#endpoint-id")).to_have_text(endpoint_id)
    expect(page.locator("#endpoint-state")).to_have_text("enabled")

    page.click("#send-test")
    expect(page.locator("#test-status")).to_have_text("200")
    shot(page, "09-endpoint-test-event")
    received = hub.receiver("GET", "/_demo/received?format=shipper")["received"]
    assert any((r.get("json") or {}).get("type") == "hub.test" for r in received), received[-3:]

    page.fill("#reason", "paused <i>for</i> maintenance")
    page.click("#toggle-button")
    expect(page.locator(".notice")).to_have_text("Endpoint disabled.")
    expect(page.locator("#endpoint-state")).to_have_text("disabled")
    expect(page.locator("#disabled-reason")).to_have_text("paused <i>for</i> maintenance")
    shot(page, "10-endpoint-disabled")
    shown = hub.api("GET", f"/hub/v1/endpoints/{endpoint_id}").json()["data"]
    assert shown["enabled"] is False and shown["disabled_reason"] == "paused <i>for</i> maintenance"


def test_another_tenants_order_is_not_found_and_sessions_end(
    stack: dict[str, Any], stack_process: StackProcess, browser: BrowserContext, shot: Shot
) -> None:
    hub = Hub(stack)
    so = hub.create()
    other = f"p{uuid.uuid4().hex[:8]}"
    _admin(stack_process, "tenant", "create", other, "--name", "Other Seller", "--warehouse", WH)
    link = _admin(stack_process, "portal", "link", other)
    assert set(link) == {"url", "expires_at"}
    page = _sign_in(browser, link["url"])
    response = page.goto(f"{stack['api_url']}/portal/orders/{WH}/{so}")
    assert response is not None and response.status == 404
    shot(page, "11-other-tenant-404")
    page.goto(f"{stack['api_url']}/portal/orders?so_number={so}")
    expect(page.locator("#orders .order-link")).to_have_count(0)

    page.click("#logout")
    expect(page.locator("#reason")).to_have_text("You are signed out.")
    response = page.goto(f"{stack['api_url']}/portal/orders")
    assert response is not None and response.status == 401
    expect(page.locator("#reason")).to_contain_text("ended or has expired")
    shot(page, "12-signed-out")


def test_an_expired_session_is_refused(stack: dict[str, Any], browser: BrowserContext, shot: Shot) -> None:
    """The session's end is stored with it: moving it into the past (as time would) ends the session."""
    import boto3

    hub = Hub(stack)
    page = _sign_in(browser, _link(hub))
    cookie = next(c for c in browser.cookies() if c["name"] == "hub_portal")
    assert cookie["expires"] - time.time() == pytest.approx(1800, abs=60)  # the documented lifetime
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=stack["aws_endpoint_url"],
        region_name=stack["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    table = stack["tables"]["TenantsTable"]
    sessions = dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :s)",
        ExpressionAttributeValues={":pk": {"S": f"PORTAL#{stack['tenant_id']}"}, ":s": {"S": "SESSION#"}},
    )["Items"]
    for item in sessions:
        dynamodb.update_item(
            TableName=table,
            Key={"pk": item["pk"], "sk": item["sk"]},
            UpdateExpression="SET expires_at = :past",
            ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
        )
    response = page.goto(f"{stack['api_url']}/portal/endpoints")
    assert response is not None and response.status == 401
    expect(page.locator("#reason")).to_contain_text("ended or has expired")
    shot(page, "13-session-expired")


def test_the_pages_work_without_javascript(stack: dict[str, Any], playwright: Playwright, tmp_path: Path, shot: Shot) -> None:
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, args=ARGS, headless=True, java_script_enabled=False
    )
    try:
        page = _sign_in(context, _link(Hub(stack)))
        page.goto(f"{stack['api_url']}/portal/endpoints")
        expect(page.locator('.format-fields[data-format="standard"]')).to_be_visible()  # no script: every format's fields
        endpoint_id = f"nojs-{uuid.uuid4().hex[:6]}"
        page.fill("#endpoint_id", endpoint_id)
        page.select_option("#format", "standard")
        page.fill("#url", stack["demo_receiver"]["endpoints"]["demo-standard"])
        page.click("#add")
        expect(page.locator("#endpoint-id")).to_have_text(endpoint_id)
        expect(page.locator("#signing-secret")).to_contain_text("whsec_")
        shot(page, "14-endpoint-added-without-javascript")
    finally:
        context.close()
