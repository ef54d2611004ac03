"""The local stack's snapshot keeps every attribute type, binary ones included (the compressed order doc)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from local_stack.persistence import read_snapshot, restore, take_snapshot, write_snapshot

REGION = "us-east-1"


def _table(client: object, name: str) -> None:
    client.create_table(  # type: ignore[attr-defined]
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def test_a_snapshot_round_trips_binary_attributes(tmp_path: Path) -> None:
    item: dict[str, Any] = {
        "pk": {"S": "ORDER#1"},
        "doc": {"B": b"\x78\x9c\x00\xff binary"},
        "n": {"N": "3"},
        "tags": {"SS": ["a", "b"]},
    }
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        _table(client, "snap-Orders")
        client.put_item(TableName="snap-Orders", Item=item)
        write_snapshot(tmp_path / "state.json.gz", take_snapshot(REGION, {"Orders": "snap-Orders"}, {}, {}))

    snapshot = read_snapshot(tmp_path / "state.json.gz")
    assert snapshot is not None
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        _table(client, "snap-Orders")
        restore(REGION, snapshot, {"Orders": "snap-Orders"}, {})
        assert client.get_item(TableName="snap-Orders", Key={"pk": {"S": "ORDER#1"}})["Item"] == item


def test_unread_stream_records_are_saved_and_come_back(tmp_path: Path) -> None:
    """Stream records carry their creation time (a datetime in moto): a snapshot with unread records
    is written (it failed with "datetime is not JSON serializable") and restores them."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName="snap-Events",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        client.put_item(TableName="snap-Events", Item={"pk": {"S": "EVENT#1"}})
        write_snapshot(tmp_path / "state.json.gz", take_snapshot(REGION, {"Events": "snap-Events"}, {}, {}))

    snapshot = read_snapshot(tmp_path / "state.json.gz")
    assert snapshot is not None
    (record,) = snapshot.streams["Events"]
    assert record["dynamodb"]["NewImage"] == {"pk": {"S": "EVENT#1"}}
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName="snap-Events",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        restore(REGION, snapshot, {"Events": "snap-Events"}, {})
        from moto.dynamodb.models import dynamodb_backends

        shard = dynamodb_backends["123456789012"][REGION].tables["snap-Events"].stream_shard
        assert shard is not None
        (restored,) = [item.to_json() for item in shard.items]
        assert restored["dynamodb"]["NewImage"] == {"pk": {"S": "EVENT#1"}}
        assert restored["dynamodb"]["ApproximateCreationDateTime"] == record["dynamodb"]["ApproximateCreationDateTime"]


def test_a_snapshot_is_written_piece_by_piece(tmp_path: Path) -> None:
    """Writing the state file never holds the whole document in memory (it held it three times over:
    the stack's RSS grew with its tables): the peak stays near the write chunk while the file is
    several times bigger, and everything comes back."""
    import tracemalloc

    from local_stack.persistence import WRITE_CHUNK

    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        _table(client, "snap-Big")
        for n in range(3000):
            client.put_item(TableName="snap-Big", Item={"pk": {"S": f"ORDER#{n:05d}"}, "text": {"S": f"{n:05d}" * 400}})
        snapshot = take_snapshot(REGION, {"Big": "snap-Big"}, {}, {})
        tracemalloc.start()
        try:
            write_snapshot(tmp_path / "state.json.gz", snapshot)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    import gzip

    document_size = len(gzip.decompress((tmp_path / "state.json.gz").read_bytes()))
    assert document_size > 20 * WRITE_CHUNK
    assert peak < max(document_size / 4, 4 * WRITE_CHUNK), f"writing {document_size} bytes of items took {peak} bytes of memory"
    restored = read_snapshot(tmp_path / "state.json.gz")
    assert restored is not None
    assert len(restored.tables["Big"]) == 3000
    assert restored.tables["Big"][1234] == {"pk": {"S": "ORDER#01234"}, "text": {"S": "01234" * 400}}
