"""AWS calls per API operation (counted on the hub's own DynamoDB client, against in-process moto).

python -m benchmarks.api_calls
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from benchmarks.common import use_in_process_aws


def main() -> int:
    use_in_process_aws()
    from moto import mock_aws

    with mock_aws():
        from functions.orders_api.app import lambda_handler
        from local_stack.harness import FakeContext, api_event, build_tables, seed_tenant
        from order_hub.adapters.aws import dynamodb_client

        build_tables()
        key = seed_tenant("bench", ["WH-TGR04"])
        calls: Counter[str] = Counter()
        dynamodb_client().meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.update([model.name]))

        def measure(label: str, event: dict[str, Any], expect: int) -> None:
            calls.clear()
            response = lambda_handler(event, FakeContext())
            assert response["statusCode"] == expect, response
            total = sum(calls.values())
            detail = ", ".join(f"{name} x{count}" for name, count in sorted(calls.items())) or "none"
            print(f"  {label:44s} {total} call(s): {detail}")

        def op(name: str, **kw: Any) -> Callable[[], dict[str, Any]]:
            return lambda: api_event(f"orders_api/{name}", key, **kw)

        detail = {"warehouse_id": "WH-TGR04", "order_no": "SO-2026-0001"}
        print("DynamoDB calls per request:")
        measure("create (cold auth cache)", op("create_order")(), 200)
        measure("create replay, same body (warm)", op("create_order")(), 200)
        measure("create, new order (warm)", api_event("orders_api/create_order", key, body=_other_order()), 200)
        measure("update (warm)", op("update_order")(), 200)
        measure("detail OMS (warm)", op("detail_oms", path_parameters=detail)(), 200)
        measure("list OMS, 2 orders (warm)", op("list_orders")(), 200)
        measure("cancel (warm)", op("cancel_order")(), 200)
        measure("cancel again, refused (warm)", op("cancel_order")(), 400)
    return 0


def _other_order() -> dict[str, Any]:
    from local_stack.testkit import order_body

    return order_body(so_number="SO-2026-0002")


if __name__ == "__main__":
    raise SystemExit(main())
