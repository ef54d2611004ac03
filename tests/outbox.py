"""The outbox as tests see it: the events of an order, rebuilt from the orders table's stream (moto)
the way the dispatcher rebuilds them (every order write carries its change's event)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from order_hub.adapters.dynamodb import event_from_image
from order_hub.models.order import OrderEvent


def stream_images(table: str) -> list[dict[str, Any]]:
    """Every new image in the table's stream, oldest first."""
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    # moto serves the regional endpoint, not the account-based one boto3 picks by default
    streams = boto3.client("dynamodbstreams", region_name="us-east-1", config=Config(account_id_endpoint_mode="disabled"))
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    images: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")[
            "ShardIterator"
        ]
        while iterator:
            response = streams.get_records(ShardIterator=iterator, Limit=1000)
            images.extend(record["dynamodb"]["NewImage"] for record in response["Records"] if "NewImage" in record["dynamodb"])
            if not response["Records"]:
                break
            iterator = response.get("NextShardIterator")
    return images


def order_events(table: str, pk: str) -> list[OrderEvent]:
    """The events of one order (``ORDER#<tenant>#<warehouse>#<order_no>``), in order."""
    events = [event_from_image(image) for image in stream_images(table) if image["pk"]["S"] == pk]
    return sorted((event for event in events if event is not None), key=lambda event: event.seq)


def event_types(table: str, pk: str) -> list[str]:
    return [event.type for event in order_events(table, pk)]
