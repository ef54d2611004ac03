"""The real handlers at DEBUG, fed consignee personal data: every log line they write stays free of it."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from order_hub.observability import logger
from tests.integration.conftest import Hub, Invoke
from tests.logcapture import logger_output
from tests.payloads import cancel_body, order_body

DETAIL = {"warehouse_id": "WH-TGR04", "order_no": "SO-2026-0001"}
PII = ("Budi Santoso", "812-3456-7890", "8123456789", "budi@example.co.id", "Sudirman")


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """Everything the shared logger writes (its own handler, its own formatter), at DEBUG."""
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    with logger_output() as buffer:
        yield buffer


def _lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def _assert_no_pii(buffer: io.StringIO) -> None:
    text = buffer.getvalue()
    leaked = [value for value in PII if value in text]
    assert not leaked, f"PII {leaked} in the logs:\n{text}"


def test_create_invalid_create_cancel_and_read_log_no_pii(hub: Hub, invoke: Invoke, logs: io.StringIO) -> None:
    assert invoke("create_order", body=order_body()).status == 200
    too_long = invoke("create_order", body=order_body(so_number="SO-2026-0002", consignee_phone="+62 812-3456-7890" * 5))
    wrong_type = invoke("create_order", body=order_body(so_number="SO-2026-0003", consignee_phone=8123456789))
    bad_email = invoke("create_order", body=order_body(so_number="SO-2026-0004", consignee_email="budi@example.co.id x"))
    conflict = invoke("create_order", body=order_body(consignee="Budi Santoso Jr"))
    detail = invoke("detail_oms", path_parameters=DETAIL)
    cancel = invoke("cancel_order", body=cancel_body(reason="Budi Santoso asked, call +62 812-3456-7890"))

    assert too_long.status == wrong_type.status == bad_email.status == 400 and "consignee_phone" in too_long.fields
    assert conflict.status == 409
    assert detail.status == 200 and "Budi Santoso" in json.dumps(detail.body)  # the API itself still returns it
    assert cancel.status == 200
    records = _lines(logs)
    messages = [record["message"] for record in records]
    assert "order created" in messages and "order cancelled" in messages
    assert any(record.get("order_no") == "SO-2026-0001" for record in records)  # the logs were captured
    assert "SO-2026-0001" in logs.getvalue()
    _assert_no_pii(logs)


def test_a_logged_validation_error_of_a_create_body_keeps_no_pii(hub: Hub, invoke: Invoke, logs: io.StringIO) -> None:
    """What a handler logging the pydantic error of a bad create body (``logger.exception``) would write."""
    from pydantic import ValidationError

    from order_hub.models.api import CreateOrderRequest

    logger.append_keys(order_no="SO-2026-0001")
    try:
        CreateOrderRequest.model_validate(order_body(consignee_phone="+62 812-3456-7890" * 5, consignee_email=8123456789))
    except ValidationError as error:
        logger.exception("create refused", extra={"errors": error.errors(), "body": order_body()})
    logger.remove_keys(["order_no"])

    (record,) = _lines(logs)
    assert record["order_no"] == "SO-2026-0001" and "consignee_phone" in record["exception"]
    _assert_no_pii(logs)


def test_an_unexpected_error_carrying_pii_is_logged_scrubbed(
    hub: Hub, invoke: Invoke, logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    from order_hub.services import orders

    def explode(*_: Any, **__: Any) -> Any:
        raise RuntimeError("cannot store {'consignee': 'Budi Santoso', 'consignee_phone': '+62 812-3456-7890'}")

    monkeypatch.setattr(orders, "create_order", explode)  # the handler calls orders.create_order

    reply = invoke("create_order", body=order_body())

    assert reply.status == 500
    (record,) = [record for record in _lines(logs) if record.get("exception_name") == "RuntimeError"]
    assert record["message"] == "unexpected error" and "cannot store {'consignee': '***'" in record["exception"]
    _assert_no_pii(logs)
