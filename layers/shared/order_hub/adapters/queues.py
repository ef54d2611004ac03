"""SQS: the work queues between the outbox dispatcher and the workers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from order_hub.lifecycle import per_container

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from pydantic import BaseModel

MAX_VISIBILITY = 12 * 60 * 60


@per_container
def sqs_client() -> SQSClient:
    import boto3
    from botocore.config import Config

    return boto3.client("sqs", config=Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3}))


def send_bodies(queue_url: str, bodies: Sequence[str], delay_seconds: int = 0) -> None:
    """Send messages in batches of 10; raise if any could not be sent (the stream record is then retried)."""
    client = sqs_client()
    delay: dict[str, Any] = {"DelaySeconds": max(0, min(delay_seconds, 900))} if delay_seconds else {}
    for start in range(0, len(bodies), 10):
        entries: list[Any] = [{"Id": str(n), "MessageBody": body, **delay} for n, body in enumerate(bodies[start : start + 10])]
        response = client.send_message_batch(QueueUrl=queue_url, Entries=entries)
        if response.get("Failed"):
            raise RuntimeError(f"SQS refused {len(response['Failed'])} message(s): {response['Failed'][0].get('Code')}")


def retry_later(queue_url: str, receipt_handle: str, seconds: int) -> None:
    """Hide a failed message for ``seconds`` before SQS delivers it again (backoff without sleeping)."""
    sqs_client().change_message_visibility(
        QueueUrl=queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=max(0, min(seconds, MAX_VISIBILITY))
    )


def receive_raw(queue_url: str, wait_seconds: int = 1, visibility: int = 60) -> list[tuple[str, str]]:
    """Up to 10 messages as (receipt handle, body)."""
    response = sqs_client().receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds, VisibilityTimeout=visibility
    )
    return [(m["ReceiptHandle"], m["Body"]) for m in response.get("Messages", [])]


def delete_message(queue_url: str, receipt_handle: str) -> None:
    sqs_client().delete_message(QueueUrl=queue_url, ReceiptHandle=receipt_handle)


class SqsQueue:
    """The ``MessageQueue`` port on one SQS queue: models go out as their JSON."""

    def __init__(self, url: str) -> None:
        self.url = url

    def send(self, messages: Sequence[BaseModel], delay_seconds: int = 0) -> None:
        send_bodies(self.url, [message.model_dump_json() for message in messages], delay_seconds)

    def retry_later(self, receipt_handle: str, seconds: int) -> None:
        retry_later(self.url, receipt_handle, seconds)

    def receive(self) -> list[tuple[str, str]]:
        return receive_raw(self.url)

    def delete(self, receipt_handle: str) -> None:
        delete_message(self.url, receipt_handle)
