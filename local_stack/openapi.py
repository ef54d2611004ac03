"""Generate the OpenAPI document of the order API from the code (Powertools resolver + pydantic models).

python -m local_stack.openapi            # rewrite docs/openapi.json
python -m local_stack.openapi --check    # exit 1 if the committed document is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, Server

from order_hub import __version__

DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"

DESCRIPTION = """\
Shipper-compatible outbound (B2C sales order) API of the outbound order hub.

Every response uses Shipper's envelope: `metadata{path, http_status_code, http_status, timestamp,
errors[{code, message, field}]}`; list responses add `pagination`. Error codes: 802 unauthorized
(401), 803 internal error (500), 810 invalid input (400/404/409) with the offending field named.
Every response carries `x-request-id` (echoed when the request sent a well-formed one).

Where Shipper's public pages are cut off (order items, payment, tracking id, update), the shapes
here are the hub's design in Shipper's style. Create is idempotent on (account, warehouse_id,
so_number): the same body returns the original order (`x-idempotent-replay: true`), a different
body is refused with 409. Update (PUT, same body as create) and cancel are accepted only while the
warehouse has not allocated stock (status REGISTERED or CREATED).
"""


def build_openapi() -> str:
    from functions.orders_api.app import app

    document = app.get_openapi_json_schema(
        title="Outbound order hub: Shipper-compatible order API",
        version=__version__,
        description=DESCRIPTION,
        servers=[Server(url="http://127.0.0.1:8750", description="local stack (python -m local_stack)")],
        security_schemes={"ApiKey": APIKey(name="x-api-key", in_=APIKeyIn.header)},
        security=[{"ApiKey": []}],
    )
    return json.dumps(_without_unused_422(json.loads(document)), indent=2, sort_keys=True) + "\n"


def _without_unused_422(document: dict[str, Any]) -> dict[str, Any]:
    """Powertools documents a 422 for validation errors; the hub answers those with 400 / code 810."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        if unused not in json.dumps(document["paths"]):
            schemas.pop(unused, None)
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if docs/openapi.json is not current")
    args = parser.parse_args(argv)
    document = build_openapi()
    if args.check:
        if not DOCUMENT.exists() or DOCUMENT.read_text() != document:
            print(f"{DOCUMENT} is stale: run `python -m local_stack.openapi`", file=sys.stderr)
            return 1
        return 0
    DOCUMENT.parent.mkdir(parents=True, exist_ok=True)
    DOCUMENT.write_text(document)
    print(f"wrote {DOCUMENT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
