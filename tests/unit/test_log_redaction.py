"""PII never reaches a log line in clear: the redaction rules and the shared logger that applies them."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from order_hub.models.api import CreateOrderRequest
from order_hub.observability import RedactingFormatter, logger
from order_hub.redaction import EMAIL_MASK, MASK, PHONE_MASK, is_pii_key, redact, scrub
from tests.logcapture import logger_output
from tests.payloads import order_body

NAME, PHONE, EMAIL, STREET = "Budi Santoso", "+62 812-3456-7890", "budi@example.co.id", "Sudirman"
PII = (NAME, "812-3456-7890", "8123456789", EMAIL, STREET, "12190")


def _assert_clean(text: str) -> None:
    leaked = [value for value in PII if value in text]
    assert not leaked, f"PII {leaked} in {text!r}"


# --- keys ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "consignee",
        "consignee_name",
        "consignee_phone",
        "consignee_email",
        "consignee_full_address",
        "Consignee-Phone",
        "consigneePhone",
        "CONSIGNEE_EMAIL",
        "phone",
        "mobile",
        "email",
        "full_address",
        "address",
        "line1",
        "Line2",
        "line_3",
        "zipcode",
        "zip",
        "pincode",
        "billing_address",
        "shipping_address",
        "shippingAddress",
        "billingAddress",
        "buyer_phone",
        "first_name",
        "input_value",
    ],
)
def test_pii_keys_are_recognised_whatever_the_case(key: str) -> None:
    assert is_pii_key(key)


@pytest.mark.parametrize(
    "key",
    ["name", "order_no", "so_number", "warehouse_id", "tenant_id", "sku", "qty", "consignor", "city", "status", "reason", 3],
)
def test_ordinary_keys_are_kept(key: Any) -> None:
    assert not is_pii_key(key)


def test_name_is_pii_only_inside_a_person_object() -> None:
    assert is_pii_key("name", parent="billing") and is_pii_key("name", parent="Shipping")
    assert not is_pii_key("name", parent="items") and not is_pii_key("name")


def test_nested_dicts_and_lists_are_masked_at_any_depth() -> None:
    record: dict[str, Any] = {
        "order_no": "SO-2026-0001",
        "order": {
            "consignee": {"name": NAME, "phone": PHONE},
            "ConsigneeEmail": EMAIL,
            "items": [{"sku": "CAP-RED", "name": "Cap red", "qty": 1}],
            "billing": {"name": NAME, "street": "Jl. Sudirman 1", "country": "ID"},
            "shipments": [{"shippingAddress": {"line1": "Jl. Sudirman 1", "zipcode": "12190"}, "awb": "JNE100000000001"}],
            "zipcode": 12190,
            "total_amount": 185000,
            "cancelled_at": None,
        },
        "tags": ("x", {"mobile": "0812345678901"}),
        "consignee_phone": None,
    }

    out = redact(record)

    assert out == {
        "order_no": "SO-2026-0001",
        "order": {
            "consignee": MASK,
            "ConsigneeEmail": MASK,
            "items": [{"sku": "CAP-RED", "name": "Cap red", "qty": 1}],
            "billing": {"name": MASK, "street": MASK, "country": "ID"},
            "shipments": [{"shippingAddress": MASK, "awb": "JNE100000000001"}],
            "zipcode": MASK,
            "total_amount": 185000,
            "cancelled_at": None,
        },
        "tags": ["x", {"mobile": MASK}],
        "consignee_phone": None,
    }
    assert record["order"]["consignee"]["name"] == NAME  # the caller's object is not touched


def test_values_that_are_not_json_become_scrubbed_text() -> None:
    assert redact(ValueError(f"no such phone {PHONE}")) == f"no such phone {PHONE_MASK}"
    assert redact({"notes": f"call {PHONE} or mail {EMAIL}"}) == {"notes": f"call {PHONE_MASK} or mail {EMAIL_MASK}"}


# --- free text -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "+62 812-3456-7890",
        "+628123456789",
        "+1 (415) 555-0132",
        "0812345678901",
        "0812-3456-7890",
        "(021) 5550-1234",
        "9999999999",
        "628123456789",
        "812-3456-7890",
        "812 3456 7890",
    ],
)
def test_phone_numbers_in_text_are_masked(phone: str) -> None:
    assert scrub(f"call {phone}, please") == f"call {PHONE_MASK}, please"
    assert scrub(phone) == PHONE_MASK


@pytest.mark.parametrize("email", ["budi@example.co.id", "budi.santoso+shop@mail.example.com", "B_S@EXAMPLE.ID"])
def test_email_addresses_in_text_are_masked(email: str) -> None:
    assert scrub(f"sent to <{email}>.") == f"sent to <{EMAIL_MASK}>."


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-23T09:15:00+07:00",
        "2026-11-23T02:15:00.123456Z",
        "2026-11-23 09:15:00,123+0700",
        "2026-11-23 09:15:00",
        "123e4567-e89b-12d3-a456-426614174000",
        "00000000-0000-0000-0000-000000000001",
        "1-5759e988-bd862e3fe1be46a994272793",
        "SO-2026-0001",
        "SO-2026-000123",
        "ORDER#acme#WH-TGR04#SO-2026-0001",
        "JNE100000000001",
        "AWB JNE100000000001 picked up",
        "185000",
        "total 185000 IDR, discount 15000, cod 185000.00",
        "1767225600",
        "1767225600123",
        "seq 000000000012",
        "EVENT#000000000012",
        "Invalid Input. consignee_phone: String should have at most 40 characters",
        "order created",
        "version 3 of 5",
    ],
)
def test_ordinary_text_is_not_mangled(text: str) -> None:
    assert scrub(text) == text


def test_key_value_pairs_in_text_are_masked() -> None:
    assert scrub("{'consignee': 'Budi Santoso', 'zipcode': '12190', 'sku': 'CAP'}") == (
        "{'consignee': '***', 'zipcode': '***', 'sku': 'CAP'}"
    )
    assert scrub('{"consignee_full_address": "Jl. Jend. Sudirman No. 1, Senayan", "qty": 2}') == (
        '{"consignee_full_address": "***", "qty": 2}'
    )
    assert scrub("Order(consignee='Budi Santoso' notes='x')") == "Order(consignee='***' notes='x')"
    assert scrub("consignee=Budi Santoso, qty=2") == "consignee=***, qty=2"


def _validation_error(**overrides: Any) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        CreateOrderRequest.model_validate(order_body(**overrides))
    return caught.value


@pytest.mark.parametrize(
    "overrides",
    [
        {"consignee_phone": PHONE * 5},  # too long
        {"consignee_phone": 8123456789},  # wrong type
        {"consignee_email": f"{EMAIL} {EMAIL}"},  # bad pattern
        {"consignee": NAME * 20},  # too long
        {"consignee_full_address": ["Jl. Jend. Sudirman No. 1"]},  # wrong type
        {"zipcode": {"code": "12190"}},
    ],
)
def test_pydantic_validation_error_text_loses_its_input_values(overrides: dict[str, Any]) -> None:
    error = _validation_error(**overrides)
    text = str(error)
    assert "input_value=" in text  # the risky part is there...

    clean = scrub(text)

    _assert_clean(clean)  # ...and gone once scrubbed
    assert "input_value='***'" in clean and "input_type=" in clean
    assert "validation error" in clean and next(iter(overrides)) in clean  # still says which field failed


def test_pydantic_errors_list_loses_its_inputs() -> None:
    errors = _validation_error(consignee_phone=PHONE * 5).errors()
    _assert_clean(json.dumps(redact(errors), default=str))


# --- the installed logger --------------------------------------------------------------------------------------


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the shared logger's own handler writes, with the level lowered to DEBUG."""
    with logger_output() as buffer:
        yield buffer
    logger.remove_keys(["consignee", "consignee_email"])


def _records(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_the_shared_logger_uses_the_redacting_formatter() -> None:
    assert isinstance(logger.registered_formatter, RedactingFormatter)


def test_extra_keys_appended_keys_and_messages_are_masked(log_lines: io.StringIO) -> None:
    logger.append_keys(consignee=NAME, order_no="SO-2026-0001")
    logger.info("x", extra={"consignee_phone": PHONE, "order": {"consignee_email": EMAIL, "items": [{"name": "Cap"}]}})
    logger.debug(f"created for {EMAIL} / {PHONE}")
    logger.info("%s at %s", "mailed", EMAIL)
    logger.warning({"shipping_address": {"line1": "Jl. Sudirman 1"}, "amount": 185000})
    logger.info(json.dumps({"consignee_email": EMAIL, "so_number": "SO-2026-0001"}))

    text = log_lines.getvalue()
    _assert_clean(text)
    first, second, third, fourth, fifth = _records(log_lines)
    assert first["consignee_phone"] == MASK and first["consignee"] == MASK and first["order_no"] == "SO-2026-0001"
    assert first["order"] == {"consignee_email": MASK, "items": [{"name": "Cap"}]}
    assert second["message"] == f"created for {EMAIL_MASK} / {PHONE_MASK}" and second["level"] == "DEBUG"
    assert third["message"] == f"mailed at {EMAIL_MASK}"
    assert fourth["message"] == {"shipping_address": MASK, "amount": 185000}
    assert fifth["message"] == {"consignee_email": MASK, "so_number": "SO-2026-0001"}
    assert first["service"] == "outbound-order-hub" and first["timestamp"][:2] == "20"


def test_exceptions_and_stack_traces_are_scrubbed(log_lines: io.StringIO) -> None:
    try:
        CreateOrderRequest.model_validate(order_body(consignee_phone=PHONE * 5, consignee=NAME * 20))
    except ValidationError:
        logger.exception("create refused")
    try:
        raise LookupError(f"no consignee {EMAIL} at {PHONE}")
    except LookupError as error:
        logger.error("unexpected error", exc_info=error)

    text = log_lines.getvalue()
    _assert_clean(text)
    refused, unexpected = _records(log_lines)
    assert refused["exception_name"] == "ValidationError" and "consignee_phone" in refused["exception"]
    assert "input_value='***'" in refused["stack_trace"]["value"]
    assert unexpected["exception"].endswith(f"LookupError: no consignee {EMAIL_MASK} at {PHONE_MASK}")
    assert unexpected["stack_trace"]["frames"][0]["function"] == "test_exceptions_and_stack_traces_are_scrubbed"
