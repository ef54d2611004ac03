"""The docs site answers its paths from local files only, and leaves every other request to the gateway."""

from __future__ import annotations

import json
from pathlib import Path

from local_stack.apigw import HttpRequest
from local_stack.docs_site import DocsSite


def _get(site: DocsSite, target: str, method: str = "GET") -> tuple[int, dict[str, str], bytes] | None:
    response = site.handle(HttpRequest(method=method, target=target, headers=[], body=b"", source_ip="127.0.0.1"))
    return None if response is None else (response.status, dict(response.headers), response.body)


def test_serves_the_document_with_the_stack_url_and_the_page(tmp_path: Path) -> None:
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps({"openapi": "3.1.0", "servers": [{"url": "http://127.0.0.1:8750"}], "paths": {}}))
    site = DocsSite(lambda: "http://127.0.0.1:9001", document)
    found = _get(site, "/openapi.json?x=1")
    assert found is not None
    assert json.loads(found[2])["servers"] == [{"url": "http://127.0.0.1:9001", "description": "this local stack"}]
    page = _get(site, "/docs")
    assert page is not None and page[1]["Content-Type"].startswith("text/html") and b"/docs/swagger-ui-bundle.js" in page[2]
    bundle = _get(site, "/docs/swagger-ui-bundle.js")
    assert bundle is not None and bundle[0] == 200 and b"SwaggerUIBundle" in bundle[2]
    css = _get(site, "/docs/swagger-ui.css")
    assert css is not None and css[1]["Content-Type"].startswith("text/css") and len(css[2]) > 10_000


def test_other_requests_go_to_the_gateway() -> None:
    site = DocsSite(lambda: "http://127.0.0.1:9001")
    assert _get(site, "/docs", method="POST") is None
    assert _get(site, "/docs/other.js") is None
    assert _get(site, "/v3/fulfillment/outbounds/OMS") is None
