"""The committed OpenAPI document is generated from the code and must not drift."""

from __future__ import annotations

import json

from local_stack.openapi import DOCUMENT, build_openapi


def test_committed_openapi_document_is_current() -> None:
    assert DOCUMENT.read_text() == build_openapi(), "docs/openapi.json is stale: run `make openapi`"


def test_every_operation_documents_its_errors_and_auth() -> None:
    document = json.loads(DOCUMENT.read_text())
    assert document["security"] == [{"ApiKey": []}]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert {"200", "400", "401", "500"} <= set(operation["responses"]), f"{method} {path}"
            assert "422" not in operation["responses"]
