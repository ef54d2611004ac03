"""What the tests and the benchmarks share: sample request bodies and one moto-backed hub.

``moto_hub`` is the one way to stand the hub up in-process: moto (``mock_aws``), every table and
queue of template.yaml, the hub's settings variables pointing at them, tenants with API keys and
secrets. The variables go through ``setenv`` (tests pass ``monkeypatch.setenv``, so nothing
outlives the test; scripts let them default to ``os.environ``). See ``local_stack.harness`` for the
lower-level pieces (events, the Lambda context, signed webhooks).
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from local_stack.harness import REGION, create_resources, put_secret, seed_tenant

_ORDER: dict[str, Any] = {
    "warehouse_id": "WH-TGR04",
    "customer_id": "CS674",
    "so_number": "SO-2026-0001",
    "order_type": "SO",
    "order_source": "",
    "platform": "SHOPEE",
    "order_identification_code": 1,
    "internal_order_status": "Pending",
    "express_code": "JNE YES",
    "tenant_name": "Matahari",
    "consignee": "Budi Santoso",
    "consignee_phone": "+62 812-3456-7890",
    "consignee_email": "budi@example.co.id",
    "consignee_full_address": "Jl. Jend. Sudirman No. 1, Senayan, Jakarta Selatan",
    "consignee_province": "DKI Jakarta",
    "consignee_city": "Jakarta Selatan",
    "zipcode": "12190",
    "order_time": "2026-11-23T09:15:00+07:00",
    "notes": "leave at the front desk",
    "payment": {
        "method": "COD",
        "currency": "IDR",
        "total_amount": 185000,
        "total_discount": 15000,
        "buyer_paid_shipping_fee": 10000,
        "cod_amount": 185000,
    },
    "items": [
        {"sku": "TSHIRT-BLK-M", "name": "T-shirt black M", "qty": 2, "unit_price": 75000},
        {"line_id": "L-2", "sku": "CAP-RED", "name": "Cap red", "qty": 1, "unit_price": 40000, "discount": 5000},
    ],
}


def order_body(**overrides: Any) -> dict[str, Any]:
    """A valid create body (order SO-2026-0001 in WH-TGR04), top-level fields replaced by ``overrides``."""
    body = copy.deepcopy(_ORDER)
    body.update(overrides)
    return body


def cancel_body(
    order_no: str = "SO-2026-0001", warehouse_id: str = "WH-TGR04", reason: str = "buyer cancelled"
) -> dict[str, Any]:
    return {"data": {"cancellation": {"order_no": order_no, "warehouse_id": warehouse_id, "cancel_reason": reason}}}


def wait_until(condition: Callable[[], object], timeout: float = 10.0, what: str = "condition", every: float = 0.02) -> None:
    """Poll ``condition`` until it holds; ``AssertionError`` naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met after {timeout} s")
        time.sleep(every)


@dataclass
class MotoHub:
    """A hub under moto: resource names, the settings variables set, and each seeded tenant's API key."""

    resources: dict[str, str]
    environment: dict[str, str]
    api_keys: dict[str, str] = field(default_factory=dict)

    @property
    def tables(self) -> dict[str, str]:
        """Logical id -> table name or queue URL (the same mapping as ``resources``)."""
        return self.resources

    def dynamodb(self) -> Any:
        import boto3

        return boto3.client("dynamodb", region_name=REGION)

    def partition(self, pk: str, table: str = "OrdersTable") -> list[dict[str, Any]]:
        """Every raw item of one partition (e.g. an order's rows: order, events, inbox)."""
        response = self.dynamodb().query(
            TableName=self.resources[table],
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}},
        )
        items: list[dict[str, Any]] = response["Items"]
        return items


MotoHubFactory = Callable[..., MotoHub]
"""The tests' ``moto_hub_factory`` fixture: ``moto_hub`` options in, a started hub out (stopped after the test)."""


@contextmanager
def moto_hub(
    *,
    tenants: Mapping[str, list[str]] | None = None,
    secrets: Mapping[str, dict[str, Any]] | None = None,
    settings: Mapping[str, str] | None = None,
    setenv: Callable[[str, str], None] | None = None,
    name_prefix: str = "it",
) -> Iterator[MotoHub]:
    """Inside ``mock_aws``: tables and queues from template.yaml, ``settings`` and the resource
    variables set through ``setenv`` (default: into ``os.environ``), ``tenants`` ({id: warehouses})
    seeded with an API key each, ``secrets`` ({name: JSON value}) stored. Caches of the hub's wiring
    are reset on the way in and out. ``AWS_ENDPOINT_URL`` must be unset (or moto does not intercept).
    """
    from moto import mock_aws

    from order_hub import wiring

    set_variable = setenv or os.environ.__setitem__
    with mock_aws():
        resources, variables = create_resources(name_prefix)
        for name, value in {**dict(settings or {}), **variables}.items():
            set_variable(name, value)
        wiring.reset()
        try:
            hub = MotoHub(resources=resources, environment=variables)
            for tenant_id, warehouse_ids in (tenants or {}).items():
                hub.api_keys[tenant_id] = seed_tenant(tenant_id, warehouse_ids)
            for secret_name, secret in (secrets or {}).items():
                put_secret(secret_name, secret)
            yield hub
        finally:
            wiring.reset()
