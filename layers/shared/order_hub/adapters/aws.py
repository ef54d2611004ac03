"""Lazily created, cached boto3 clients (created on first use, never at import time)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from order_hub.lifecycle import per_container

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


@per_container
def dynamodb_client() -> DynamoDBClient:
    import boto3  # deferred: keeps cold imports of handlers light
    from botocore.config import Config

    return boto3.client(
        "dynamodb", config=Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})
    )
