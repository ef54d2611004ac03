"""Per-tenant secrets from AWS Secrets Manager, read through Powertools parameters (cached).

Names: ``hub/<tenant_id>/wms`` = {"base_url", "api_key"}; ``hub/<tenant_id>/wms-webhook`` =
{"hmac_secret"} and/or {"token"}. Only names travel in configuration; values never reach logs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from order_hub.config import SecretsSettings, load
from order_hub.lifecycle import per_container
from order_hub.secret_names import wms_secret_name

if TYPE_CHECKING:
    import requests
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    from order_hub.adapters.wms_http import ShipperWmsClient


@per_container
def secrets_provider() -> SecretsProvider:
    """Powertools' Secrets Manager provider (and its cache) on our client.

    The default provider behind ``parameters.get_secret`` makes a boto3 session of its own, which
    loads botocore's endpoint and service data a second time on a cold start (about a sixth of
    the status poller's first invocation) and talks to Secrets Manager without our timeouts.
    """
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=secrets_client())


def read_secret(name: str) -> dict[str, Any] | None:
    """The JSON secret ``name``, or None when it does not exist."""
    from aws_lambda_powertools.utilities import parameters

    try:
        value = secrets_provider().get(name, transform="json", max_age=load(SecretsSettings).SECRETS_CACHE_SECONDS)
    except parameters.exceptions.GetParameterError as error:
        if "ResourceNotFoundException" in repr(error.__cause__) or "ResourceNotFound" in str(error):
            return None
        raise
    return value if isinstance(value, dict) else None


@per_container
def http_session() -> requests.Session:
    """One pooled session per container."""
    import requests

    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=10, pool_maxsize=20, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class SecretsWmsDirectory:
    def __init__(self, timeout: float) -> None:
        self._timeout = timeout

    def client_for(self, tenant_id: str) -> ShipperWmsClient | None:
        from order_hub.adapters.wms_http import ShipperWmsClient

        secret = read_secret(wms_secret_name(tenant_id))
        if not secret or not secret.get("base_url") or not secret.get("api_key"):
            return None
        return ShipperWmsClient(str(secret["base_url"]), str(secret["api_key"]), http_session(), self._timeout)


@per_container
def secrets_client() -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "secretsmanager", config=Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})
    )


def store_secret(client: Any, name: str, value: dict[str, Any]) -> str:
    """Create the JSON secret ``name`` with ``value``, or put a new version if it exists; return its
    ARN. ``client`` is a Secrets Manager client (the local stack and the tests pass their own)."""
    import json

    text = json.dumps(value)
    try:
        arn = client.create_secret(Name=name, SecretString=text)["ARN"]
    except client.exceptions.ResourceExistsException:
        arn = client.put_secret_value(SecretId=name, SecretString=text)["ARN"]
    return str(arn)


def write_secret(name: str, value: dict[str, Any]) -> None:
    """Create or replace the JSON secret ``name`` (admin paths only; values are never logged)."""
    store_secret(secrets_client(), name, value)
    secrets_provider().clear_cache()
