"""register_endpoint: one request model and its ports (tenants, registry, secrets, URL guard), with fakes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from order_hub.errors import InvalidInput, TenantNotFound
from order_hub.models.admin import RegisterEndpointRequest
from order_hub.secret_names import endpoint_secret_name
from order_hub.services.endpoints import EndpointPorts, register_endpoint, registration
from order_hub.services.tenants import create_tenant
from tests.fakes import FakeSecrets, FakeUrlGuard, InMemoryEndpointRegistry, InMemoryTenantDirectory


class Ports:
    def __init__(self) -> None:
        self.tenants = InMemoryTenantDirectory()
        create_tenant(self.tenants, "acme", "Acme", ["WH-TGR04"])
        self.registry = InMemoryEndpointRegistry()
        self.secrets = FakeSecrets()
        self.guard = FakeUrlGuard("10.0.0.5", "169.254.169.254")
        self.ports = EndpointPorts(self.tenants, self.registry, self.secrets.write, endpoint_secret_name, self.guard)

    def register(self, tenant_id: str = "acme", **fields: Any) -> tuple[Any, str | None]:
        base: dict[str, Any] = {"endpoint_id": "erp", "url": "https://erp.example.com/hook", "format": "shipper"}
        return register_endpoint(RegisterEndpointRequest.model_validate({**base, **fields}), tenant_id, self.ports)


@pytest.fixture
def hub() -> Ports:
    return Ports()


def test_a_standard_endpoint_gets_a_generated_secret_shown_once_and_stored_only_as_a_secret(hub: Ports) -> None:
    endpoint, generated = hub.register(format="standard", events=["order.created", "order.shipped"])

    assert generated is not None and generated.startswith("whsec_")
    assert endpoint.auth == "standard_webhooks" and endpoint.secret_name == "hub/acme/endpoint/erp"
    assert hub.secrets.values == {"hub/acme/endpoint/erp": {"secret": generated}}
    assert hub.registry.get_endpoint("acme", "erp") == endpoint
    assert generated not in endpoint.model_dump_json()  # the record holds the secret's name, never its value
    assert endpoint.events == ["order.created", "order.shipped"] and endpoint.created_at <= datetime.now(UTC)


def test_a_given_signing_secret_is_kept_and_not_shown_again(hub: Ports) -> None:
    _, generated = hub.register(format="standard", signing_secret="whsec_c2VjcmV0")
    assert generated is None and hub.secrets.values["hub/acme/endpoint/erp"] == {"secret": "whsec_c2VjcmV0"}


def test_header_and_password_secrets_go_to_the_secret_store(hub: Ports) -> None:
    endpoint, _ = hub.register(auth="headers", headers={"x-api-key": "k-1"})
    assert endpoint.secret_name and hub.secrets.values[endpoint.secret_name] == {"headers": {"x-api-key": "k-1"}}
    pos, _ = hub.register(endpoint_id="pos", format="unicommerce", username="hub", password="pw")
    assert pos.auth == "unicommerce_token" and hub.secrets.values[str(pos.secret_name)] == {"username": "hub", "password": "pw"}


def test_an_endpoint_without_credentials_writes_no_secret(hub: Ports) -> None:
    endpoint, generated = hub.register(settings={"partner_code": "P-1"})
    assert endpoint.secret_name is None and generated is None and hub.secrets.values == {}
    assert endpoint.auth == "none" and endpoint.settings.partner_code == "P-1"


def test_every_url_passes_the_guard(hub: Ports) -> None:
    hub.register(format="increff", auth="increff_credential", credential_url="https://auth.example.com/token")
    assert hub.guard.checked == ["https://erp.example.com/hook", "https://auth.example.com/token"]


INCREFF = {"format": "increff", "auth": "increff_credential"}


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"endpoint_id": "ERP!"}, "endpoint_id", "endpoint id must be"),
        ({"auth": "standard_webhooks"}, "auth", "does not fit format 'shipper'"),
        ({"events": ["order.exploded"]}, "events", "unknown event types"),
        ({"url": "http://erp.example.com/hook"}, "url", "only https"),
        ({"url": "https://169.254.169.254/latest"}, "url", "non-public"),
        (
            {"format": "increff", "auth": "increff_credential", "credential_url": "https://10.0.0.5/t"},
            "credential_url",
            "non-public",
        ),
        (INCREFF, "credential_url", "needs credential_url"),
        ({"timeout_seconds": 60}, "timeout_seconds", r"\(0, 45\]"),
        ({"rate_limit_per_second": 0}, "rate_limit_per_second", "1..1000"),
        ({"format": "unicommerce", "username": "hub"}, "username", "username and a password"),
        ({"format": "standard", "signing_secret": "plain"}, "signing_secret", "whsec_"),
    ],
)
def test_refusals_name_the_field_and_store_nothing(hub: Ports, fields: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as refused:
        hub.register(**fields)
    assert refused.value.field == field
    assert hub.registry.list_endpoints("acme") == [] and hub.secrets.values == {}


def test_a_taken_id_is_refused_before_its_secret_is_overwritten(hub: Ports) -> None:
    hub.register(auth="headers", headers={"x-api-key": "first"})
    with pytest.raises(InvalidInput, match="already exists") as refused:
        hub.register(auth="headers", headers={"x-api-key": "second"})
    assert refused.value.field == "endpoint_id"
    assert hub.secrets.values["hub/acme/endpoint/erp"] == {"headers": {"x-api-key": "first"}}


def test_an_unknown_tenant_is_refused(hub: Ports) -> None:
    with pytest.raises(TenantNotFound):
        hub.register(tenant_id="nobody")
    assert hub.secrets.values == {}


def test_registration_from_loose_values_names_the_invalid_field() -> None:
    request = registration(endpoint_id="erp", url="https://erp.example.com/hook", format="shipper", auth=None)
    assert request.auth is None and request.timeout_seconds == 15.0
    with pytest.raises(InvalidInput) as refused:
        registration(endpoint_id="erp", url="https://erp.example.com/hook", format="fax")
    assert refused.value.field == "format"
    with pytest.raises(InvalidInput) as misspelt:
        registration(endpoint_id="erp", url="https://erp.example.com/hook", format="increff", settings={"partner_cod": "P"})
    assert misspelt.value.field == "settings.partner_cod"
