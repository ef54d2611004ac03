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


MAX_BATCH_ENTRIES = 10
MAX_BATCH_BYTES = 256 * 1024
"""SendMessageBatch limits: 10 entries, and 256 KiB for all the entries' bodies together."""


def batches_of(bodies: Sequence[str]) -> list[range]:
    """Consecutive index ranges of ``bodies``, each one SendMessageBatch call (<= 10 entries, <= 256 KiB)."""
    found: list[range] = []
    start, size = 0, 0
    for n, body in enumerate(bodies):
        length = len(body.encode())
        if n > start and (n - start >= MAX_BATCH_ENTRIES or size + length > MAX_BATCH_BYTES):
            found.append(range(start, n))
            start, size = n, 0
        size += length
    if start < len(bodies):
        found.append(range(start, len(bodies)))
    return found


def send_accepted(queue_url: str, bodies: Sequence[str], delays: Sequence[int] | None = None) -> int:
    """Send ``bodies`` in as few SendMessageBatch calls as SQS allows, in order, each with its own
    delay (seconds, at most 900). Returns how many leading bodies SQS accepted: ``len(bodies)`` when
    all were; at the first refused one (or a call that failed) it stops, and nothing after it counts
    as sent (a caller sends those again; the consumers take a duplicate)."""
    client = sqs_client()
    for chunk in batches_of(bodies):
        entries: list[Any] = []
        for n in chunk:
            delay = max(0, min(delays[n], 900)) if delays else 0
            entries.append({"Id": str(n), "MessageBody": bodies[n], **({"DelaySeconds": delay} if delay else {})})
        try:
            response = client.send_message_batch(QueueUrl=queue_url, Entries=entries)
        except Exception:
            from order_hub.observability import logger

            logger.exception("SendMessageBatch failed", extra={"entries": len(entries)})
            return chunk.start
        refused = sorted(int(failed["Id"]) for failed in response.get("Failed", []))
        if refused:
            from order_hub.observability import logger

            logger.warning("SQS refused messages", extra={"refused": len(refused), "code": response["Failed"][0].get("Code")})
            return refused[0]
    return len(bodies)


def send_bodies(queue_url: str, bodies: Sequence[str], delay_seconds: int = 0) -> None:
    """Send messages in batches (10 entries, 256 KiB); raise if any could not be sent."""
    accepted = send_accepted(queue_url, bodies, [delay_seconds] * len(bodies))
    if accepted < len(bodies):
        raise RuntimeError(f"SQS did not accept {len(bodies) - accepted} of {len(bodies)} message(s)")


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

    def send_accepted(self, messages: Sequence[BaseModel]) -> int:
        return send_accepted(self.url, [message.model_dump_json() for message in messages])

    def retry_later(self, receipt_handle: str, seconds: int) -> None:
        retry_later(self.url, receipt_handle, seconds)

    def receive(self) -> list[tuple[str, str]]:
        return receive_raw(self.url)

    def delete(self, receipt_handle: str) -> None:
        delete_message(self.url, receipt_handle)
