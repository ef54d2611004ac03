"""Orders at the edge of DynamoDB's item limit (issue 12 item 2), shared by the size tests.

``issue_line`` is the line of the issue's report: a long name and 20 tax lines (217 of them
answered 500 before the size check; 213 were stored, and then no PGI could be).
``largest_accepted`` finds, with the real DynamoDB adapter's sizing (compressed), the most lines of
one kind the size check admits.
"""

from __future__ import annotations

import functools
import random
import string
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from order_hub.adapters.dynamodb import DynamoOrderRepository
from order_hub.errors import InvalidInput
from order_hub.models.api import CreateOrderRequest
from order_hub.models.tenant import Tenant
from order_hub.services.limits import check_fits
from order_hub.services.orders import create_order, list_view
from tests.fakes import InMemoryOrderRepository
from tests.payloads import order_body

Line = Callable[[int], dict[str, Any]]
_NAME = string.ascii_letters + string.digits + " -/.,()"
SIZING = DynamoOrderRepository("sizing-only", list_view=list_view)  # never calls AWS: stored_size only sizes items
TENANT = Tenant(tenant_id="acme", name="Acme", warehouse_ids=["WH-TGR04"], created_at=datetime(2026, 1, 1, tzinfo=UTC))


def issue_line(n: int) -> dict[str, Any]:
    """A line of the issue's kind: a 200-character name and 20 tax lines, texts that do not repeat
    (seeded random, so they compress as little as real text can). 218 of them fit, 219 do not."""
    pick = random.Random(n)

    def text(alphabet: str, size: int) -> str:
        return "".join(pick.choices(alphabet, k=size))

    taxes = [
        {
            "type": text(string.ascii_uppercase, 20),
            "cost_head": text(string.ascii_uppercase, 38),
            "rate": pick.randint(0, 280) / 10,
            "per_unit": pick.randint(1, 10**7) / 100,
            "total": pick.randint(1, 10**8) / 100,
        }
        for _ in range(20)
    ]
    return {
        "sku": text(string.ascii_uppercase + string.digits, 20),
        "name": text(_NAME, 200).strip() or "name",
        "qty": pick.randint(1, 50),
        "unit_price": pick.randint(100, 10**7) / 100,
        "ext": {"hsn_code": str(pick.randint(10**7, 10**8 - 1)), "tax_lines": taxes},
    }


def deliverable_line(n: int) -> dict[str, Any]:
    """A line every callback format can render (a GST line with HSN code) with every text at its cap,
    none repeating: the largest order of these is the largest the API accepts that all formats deliver."""
    pick = random.Random(f"deliverable-{n}")

    def text(size: int) -> str:
        return "".join(pick.choices(_NAME, k=size)).strip() or "x"

    return {
        "line_id": f"L{n:04d}-" + "".join(pick.choices(string.ascii_uppercase + string.digits, k=54)),
        "sku": f"S{n:04d}-" + "".join(pick.choices(string.ascii_uppercase + string.digits, k=44)),
        "name": text(200),
        "uom": text(20),
        "qty": pick.randint(1, 5),
        "unit_price": pick.randint(10_000, 10**7) / 100,
        "ext": {
            "hsn_code": str(pick.randint(10**7, 10**8 - 1)),
            "barcode": "".join(pick.choices(string.digits, k=64)),
            "channel_sku_code": text(255),
            "tax_lines": [{"type": "IGST", "rate": 11, "per_unit": 1000, "total": 1000}],
        },
    }


def typical_line(n: int) -> dict[str, Any]:
    """A line as the demo orders have them: a short name, one GST line."""
    tax = {"type": "IGST", "rate": 11, "per_unit": 7432.43, "total": 14864.86}
    return {
        "sku": f"SKU-{n:05d}",
        "name": f"T-shirt black M, style {n}",
        "qty": 2,
        "unit_price": 75000,
        "ext": {"hsn_code": "61091000", "tax_lines": [tax]},
    }


def big_order(lines: int, line: Line = issue_line, **overrides: Any) -> dict[str, Any]:
    """A create body with ``lines`` lines of one kind (totals are not checked by the hub)."""
    body = order_body(**overrides)
    body["items"] = [line(n) for n in range(1, lines + 1)]
    return body


class _Sizing(InMemoryOrderRepository):
    def stored_size(self, order: Any, event: Any) -> int:
        return SIZING.stored_size(order, event)


def fits(body: dict[str, Any]) -> bool:
    """Whether the size check admits this create body (tenant acme, the DynamoDB adapter's sizing)."""
    try:
        create_order(TENANT, CreateOrderRequest.model_validate(body), _Sizing())
    except InvalidInput:
        return False
    return True


def most_lines(body_of: Callable[[int], dict[str, Any]]) -> int:
    """The most lines ``body_of(lines)`` may have (binary search over the size check)."""
    low, high = 0, 500
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(body_of(middle)) else (low, middle - 1)
    return low


@functools.cache
def largest_accepted(line: Line = issue_line) -> int:
    """The most lines of this kind the demo order body may have."""
    return most_lines(lambda lines: big_order(lines, line))


def worst_case_size(lines: int, line: Line = issue_line) -> int:
    order = create_order(TENANT, CreateOrderRequest.model_validate(big_order(lines, line)), _Sizing()).order
    return check_fits(order, SIZING)
