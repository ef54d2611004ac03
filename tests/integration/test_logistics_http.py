"""The Shipper logistics pricing adapter over real HTTP against a scripted fake provider on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from local_stack.loopback_http import LoopbackHandler, LoopbackServer
from order_hub.adapters.logistics_http import ShipperLogisticsPricing, package_body
from order_hub.models.pricing import PricingErrorItem, PricingRequest
from order_hub.ports import ProviderError

API_KEY = "logistics-test-key"


@dataclass
class Scripted:
    status: int = 200
    body: Any = None  # an object is sent as JSON, text as is
    delay: float = 0.0


@dataclass
class FakeProvider:
    replies: list[Scripted] = field(default_factory=list)
    seen: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_reply(self, request: dict[str, Any]) -> Scripted:
        with self.lock:
            self.seen.append(request)
            return self.replies.pop(0) if self.replies else Scripted(500, {"message": "no reply scripted"})


class _Handler(LoopbackHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        raw = self.read_body() or b""
        reply = self.server.provider.next_reply(
            {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": json.loads(raw or b"null")}
        )
        if reply.delay:
            time.sleep(reply.delay)
        payload = (reply.body if isinstance(reply.body, str) else json.dumps(reply.body)).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            pass  # the client gave up (timeout)


class _Server(LoopbackServer):
    def __init__(self, provider: FakeProvider) -> None:
        self.provider = provider
        super().__init__(("127.0.0.1", 0), _Handler, "fake-logistics")


@pytest.fixture
def provider() -> Iterator[tuple[FakeProvider, str]]:
    fake = FakeProvider()
    server = _Server(fake)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join(timeout=2)
    server.close_connections()
    server.server_close()
    server.join_handler_threads(timeout=2)


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


def adapter(base_url: str, session: requests.Session, read_timeout: float = 2.0, budget: float = 5.0) -> ShipperLogisticsPricing:
    return ShipperLogisticsPricing(base_url, API_KEY, session, connect_timeout=1.0, read_timeout=read_timeout, budget=budget)


def pricing_request(**changes: Any) -> PricingRequest:
    body: dict[str, Any] = {
        "origin": {"area_id": 4711, "lat": "-6.2255", "lng": "106.8020"},
        "destination": {"area_id": 1401},
        "for_order": True,
        "cod": True,
        "skus": [
            {"height": 10, "length": 30, "width": 20, "weight": 0.45, "qty": 2, "price": 75000},
            {"height": 8, "length": 20, "width": 35, "weight": 0.2, "price": 35000},
        ],
    }
    body.update(changes)
    return PricingRequest.model_validate(body)


def shipper_pricing(logistic_id: int, name: str, final_price: Any, rate_type: str = "regular") -> dict[str, Any]:
    return {
        "logistic": {"id": logistic_id, "name": name, "code": name.lower(), "company_name": f"PT {name}"},
        "rate": {"id": logistic_id * 10, "name": "REG", "type": rate_type, "description": ""},
        "weight": 3,
        "min_day": 1,
        "max_day": 3,
        "unit_price": 12000,
        "final_price": final_price,
        "discount": 500.0,
        "discounted_price": 35500,
        "insurance_fee": 0,
        "must_use_insurance": False,
        "currency": "IDR",
    }


OK_BODY = {
    "metadata": {"path": "/v3/pricing/domestic", "http_status_code": 200, "http_status": "OK", "timestamp": 1},
    "data": {
        "pricings": [shipper_pricing(4, "JNE", 36000), shipper_pricing(6, "SiCepat", "35500.5")],
        "pricing_errors": [{"code": 40001, "message": "Anteraja: area not covered", "logistic_id": 9}],
    },
}


def test_request_mapping_and_success_mapping(provider: tuple[FakeProvider, str], session: requests.Session) -> None:
    fake, url = provider
    fake.replies.append(Scripted(200, OK_BODY))

    answer = adapter(url, session).quote(pricing_request(order_price=185000), "acme")

    (seen,) = fake.seen
    assert seen["path"] == "/v3/pricing/domestic" and seen["headers"]["x-api-key"] == API_KEY
    assert seen["body"] == {
        "origin": {"area_id": 4711, "lat": "-6.2255", "lng": "106.8020"},
        "destination": {"area_id": 1401},
        "for_order": True,
        "cod": True,
        "length": 30,
        "width": 35,
        "height": 28,
        "weight": 1.1,
        "item_value": 185000,
        "limit": 30,
        "page": 1,
        "sort_by": ["final_price"],
    }
    assert [(q.logistic.code, q.rate.id, q.final_price, q.discount, q.min_day, q.max_day) for q in answer.quotes] == [
        ("jne", 40, 36000, 500, 1, 3),
        ("sicepat", 60, 35501, 500, 1, 3),  # IDR integers, half up
    ]
    assert answer.errors == [PricingErrorItem(code=40001, message="Anteraja: area not covered", logistic_id=9)]


def test_rate_type_uses_the_rate_type_path_and_item_value_defaults_to_sku_prices(
    provider: tuple[FakeProvider, str], session: requests.Session
) -> None:
    fake, url = provider
    fake.replies.append(Scripted(200, {"data": {"pricings": []}}))
    body = pricing_request(rate_type_id="express")
    assert package_body(body)["item_value"] == 2 * 75000 + 35000
    answer = adapter(url, session).quote(body, "acme")
    assert fake.seen[0]["path"] == "/v3/pricing/domestic/express" and answer.quotes == [] and answer.errors == []


def test_a_5xx_is_retried_once(provider: tuple[FakeProvider, str], session: requests.Session) -> None:
    fake, url = provider
    fake.replies.extend([Scripted(502, {"message": "bad gateway"}), Scripted(200, OK_BODY)])
    assert len(adapter(url, session).quote(pricing_request(), "acme").quotes) == 2
    assert len(fake.seen) == 2


def test_two_5xx_are_a_provider_error(provider: tuple[FakeProvider, str], session: requests.Session) -> None:
    fake, url = provider
    fake.replies.extend([Scripted(503, {}), Scripted(500, {})])
    with pytest.raises(ProviderError, match="Shipper logistics HTTP 500 after 2 attempts"):
        adapter(url, session).quote(pricing_request(), "acme")


def test_a_timeout_is_retried_then_reported(provider: tuple[FakeProvider, str], session: requests.Session) -> None:
    fake, url = provider
    fake.replies.extend([Scripted(200, OK_BODY, delay=0.6), Scripted(200, OK_BODY)])
    assert len(adapter(url, session, read_timeout=0.3).quote(pricing_request(), "acme").quotes) == 2

    fake.replies.extend([Scripted(200, OK_BODY, delay=0.6), Scripted(200, OK_BODY, delay=0.6)])
    started = time.monotonic()
    with pytest.raises(ProviderError, match="timed out after 2 attempts"):
        adapter(url, session, read_timeout=0.3).quote(pricing_request(), "acme")
    assert time.monotonic() - started < 1.5


def test_no_retry_once_the_budget_is_spent(provider: tuple[FakeProvider, str], session: requests.Session) -> None:
    fake, url = provider
    fake.replies.extend([Scripted(200, OK_BODY, delay=0.6), Scripted(200, OK_BODY)])
    with pytest.raises(ProviderError, match=r"timed out after 1 attempt$"):
        adapter(url, session, read_timeout=0.3, budget=0.4).quote(pricing_request(), "acme")
    assert len(fake.seen) == 1


def test_a_4xx_is_a_provider_error_with_the_message_and_no_retry(
    provider: tuple[FakeProvider, str], session: requests.Session
) -> None:
    fake, url = provider
    fake.replies.append(Scripted(401, {"metadata": {"errors": [{"code": 802, "message": "API key invalid"}]}}))
    with pytest.raises(ProviderError, match="refused the request: HTTP 401: API key invalid"):
        adapter(url, session).quote(pricing_request(), "acme")
    assert len(fake.seen) == 1


@pytest.mark.parametrize("body", ["<html>oops</html>", "[1, 2]", {"data": {"pricings": "many"}}, {"metadata": {}}])
def test_bad_json_is_a_provider_error(provider: tuple[FakeProvider, str], session: requests.Session, body: Any) -> None:
    fake, url = provider
    fake.replies.append(Scripted(200, body))
    with pytest.raises(ProviderError, match="Shipper logistics: the response"):
        adapter(url, session).quote(pricing_request(), "acme")


def test_an_unreadable_price_entry_becomes_a_pricing_error(provider: tuple[FakeProvider, str], session: requests.Session) -> None:
    fake, url = provider
    fake.replies.append(
        Scripted(200, {"data": {"pricings": [shipper_pricing(4, "JNE", None), shipper_pricing(6, "SiCepat", 9000)]}})
    )
    answer = adapter(url, session).quote(pricing_request(), "acme")
    assert [q.final_price for q in answer.quotes] == [9000]
    assert answer.errors[0].code == 803 and "unreadable price" in answer.errors[0].message


def test_an_unreachable_provider_is_a_provider_error(session: requests.Session) -> None:
    with pytest.raises(ProviderError, match=r"unreachable \(ConnectionError\) after 2 attempts"):
        adapter("http://127.0.0.1:9", session).quote(pricing_request(), "acme")
