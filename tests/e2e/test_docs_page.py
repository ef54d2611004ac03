"""The local stack serves its API reference: ``/openapi.json`` and a Swagger UI page at ``/docs`` that
loads everything from the stack itself (no CDN, no other origin)."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from openapi_spec_validator import validate

TIMEOUT = 30


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls.extend(value for name, value in attrs if name in ("src", "href", "action", "data") and value is not None)


def test_openapi_json_is_the_document_with_this_stacks_url(stack: dict[str, Any]) -> None:
    response = requests.get(f"{stack['api_url']}/openapi.json", timeout=TIMEOUT)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    document = response.json()
    validate(document)
    assert document["servers"] == [{"url": stack["api_url"], "description": "this local stack"}]
    assert "/v3/fulfillment/outbound/oms" in document["paths"] and "standardEvent" in document["webhooks"]
    assert stack["openapi_url"] == f"{stack['api_url']}/openapi.json"


def test_docs_page_loads_only_local_assets(stack: dict[str, Any]) -> None:
    page = requests.get(stack["docs_url"], timeout=TIMEOUT)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
    parser = _Links()
    parser.feed(page.text)
    assert len(parser.urls) == 3, parser.urls  # the CSS, Swagger UI and the script that starts it
    for url in parser.urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc and url.startswith("/"), f"{url} is not on this stack"
        asset = requests.get(urljoin(stack["docs_url"], url), timeout=TIMEOUT)
        assert asset.status_code == 200 and len(asset.content) > 0, url
        assert asset.headers["content-type"].split(";")[0] in ("text/css", "text/javascript"), url
    init = requests.get(f"{stack['api_url']}/docs/swagger-init.js", timeout=TIMEOUT).text
    assert 'url: "/openapi.json"' in init and "validatorUrl: null" in init
    assert "SwaggerUIBundle" in requests.get(f"{stack['api_url']}/docs/swagger-ui-bundle.js", timeout=TIMEOUT).text


def test_docs_paths_answer_only_get(stack: dict[str, Any]) -> None:
    response = requests.post(f"{stack['api_url']}/openapi.json", timeout=TIMEOUT)
    assert response.status_code == 404 and "x-request-id" in response.headers  # the gateway's own answer
    assert requests.get(f"{stack['api_url']}/docs/nothing.js", timeout=TIMEOUT).status_code == 404
