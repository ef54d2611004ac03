from __future__ import annotations

from order_hub.errors import InvalidInput
from order_hub.http_api import field_path, hub_error_errors, request_id_from, validation_errors
from order_hub.rendering.envelope import envelope, pagination_block


def test_field_paths_read_like_json_paths() -> None:
    assert field_path(("body", "items", 0, "qty")) == "items[0].qty"
    assert field_path(("query", "limit")) == "limit"
    assert field_path(()) == "body"


def test_validation_errors_use_code_810_and_name_the_field() -> None:
    errors = validation_errors([{"loc": ("body", "so_number"), "type": "missing", "msg": "Field required"}])
    assert errors == [{"code": 810, "message": "Invalid Input. so_number: is mandatory", "field": "so_number"}]
    assert validation_errors([])[0]["code"] == 810


def test_hub_errors_keep_their_field() -> None:
    assert hub_error_errors(InvalidInput("nope", field="warehouse_id")) == [
        {"code": 810, "message": "nope", "field": "warehouse_id"}
    ]


def test_request_ids_are_echoed_only_when_well_formed() -> None:
    assert request_id_from({"X-Request-Id": "abc-123"}) == "abc-123"
    assert request_id_from({"x-request-id": "bad id with spaces"}, "gw-id") == "gw-id"
    assert len(request_id_from(None)) == 36


def test_envelope_and_pagination_follow_shipper() -> None:
    body = envelope("/v3/x", 400, errors=[{"code": 810, "message": "m"}])
    assert body["metadata"]["http_status"] == "Bad Request" and isinstance(body["metadata"]["timestamp"], int)
    assert "data" not in body and "pagination" not in body
    assert pagination_block(page=2, limit=20, current=5, total=25) == {
        "current_page": 2,
        "current_elements": 5,
        "total_pages": 2,
        "total_elements": 25,
        "total_exact": True,
    }
    assert pagination_block(page=1, limit=20, current=20, total=40, exact=False)["total_exact"] is False


def test_every_domain_error_has_its_http_status_in_one_place() -> None:
    from order_hub import errors
    from order_hub.http_api import HTTP_STATUS, http_status_of

    domain = {kind for kind in vars(errors).values() if isinstance(kind, type) and issubclass(kind, errors.HubError)}
    assert domain - {errors.HubError} == set(HTTP_STATUS)
    assert not any(hasattr(kind, "http_status") for kind in domain)  # errors.py knows nothing of HTTP
    assert http_status_of(errors.UnsupportedMediaType("x")) == 415  # the nearest class wins over InvalidInput's 400
    assert http_status_of(errors.NotFound("x")) == 404 and http_status_of(errors.InvalidInput("x")) == 400
    assert http_status_of(errors.HubError("x")) == 500
