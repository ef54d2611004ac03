"""The local stack's embedded DynamoDB: a failed transaction undoes only its own items, never another
thread's committed write; failed updates leave nothing behind; streams keep counting when trimmed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local_stack import moto_patches

TABLE = "patched"


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    moto_patches.install()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        yield client


def _item(pk: str, sk: str = "A", **extra: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}, **{name: {"S": value} for name, value in extra.items()}}


def _exists(client: Any, pk: str, sk: str = "A") -> bool:
    return "Item" in client.get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True)


def _stream_records(client: Any) -> list[dict[str, Any]]:
    """Every record the table's stream holds, read the way GetRecords reads them (TRIM_HORIZON)."""
    from moto.dynamodb.models import dynamodb_backends

    shard = dynamodb_backends["123456789012"]["us-east-1"].get_table(TABLE).stream_shard
    assert shard is not None
    records: list[dict[str, Any]] = shard.get(shard.starting_sequence_number, 1000)
    return records


def test_failed_transaction_keeps_a_concurrent_write(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Transaction A (put X, then a failing condition on Y) runs while thread B puts Z. moto 5.2.5
    restored A's table copy and erased Z; now A undoes X only and Z survives."""
    from moto.dynamodb.models import DynamoDBBackend

    dynamodb.put_item(TableName=TABLE, Item=_item("Y", state="OPEN"))
    original_get_item = DynamoDBBackend.get_item
    writer_started = threading.Event()
    writer_errors: list[BaseException] = []

    def write_concurrently() -> None:
        writer_started.set()
        try:
            dynamodb.put_item(TableName=TABLE, Item=_item("Z", state="committed"))
        except BaseException as error:  # pragma: no cover - reported below
            writer_errors.append(error)

    writer = threading.Thread(target=write_concurrently)

    def get_item_then_let_b_write(self: Any, table_name: str, keys: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        if keys.get("pk") == {"S": "Y"} and not writer.is_alive() and not writer_started.is_set():
            writer.start()  # B writes in the middle of A (X already applied)
            writer_started.wait(2)
            time.sleep(0.2)
        return original_get_item(self, table_name, keys, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "get_item", get_item_then_let_b_write)
    with pytest.raises(ClientError) as caught:
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": _item("X", state="new")}},
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": {"pk": {"S": "Y"}, "sk": {"S": "A"}},
                        "ConditionExpression": "#s = :closed",
                        "ExpressionAttributeNames": {"#s": "state"},
                        "ExpressionAttributeValues": {":closed": {"S": "CLOSED"}},
                    }
                },
            ]
        )
    writer.join(5)
    monkeypatch.setattr(DynamoDBBackend, "get_item", original_get_item)
    assert caught.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert not writer_errors
    assert _exists(dynamodb, "Z"), "B's committed write was erased by A's rollback"
    assert not _exists(dynamodb, "X"), "A's put survived its failed transaction"
    assert _exists(dynamodb, "Y")
    # The stream shows what was committed: Y and Z inserted, nothing of the failed transaction.
    keys = [record["dynamodb"]["Keys"]["pk"]["S"] for record in _stream_records(dynamodb)]
    assert keys == ["Y", "Z"]


def test_failed_transaction_restores_updated_and_deleted_items(dynamodb: Any) -> None:
    dynamodb.put_item(TableName=TABLE, Item=_item("U", state="before"))
    dynamodb.put_item(TableName=TABLE, Item=_item("D", state="kept"))
    with pytest.raises(ClientError):
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": {"pk": {"S": "U"}, "sk": {"S": "A"}},
                        "UpdateExpression": "SET #s = :after",
                        "ExpressionAttributeNames": {"#s": "state"},
                        "ExpressionAttributeValues": {":after": {"S": "after"}},
                    }
                },
                {"Delete": {"TableName": TABLE, "Key": {"pk": {"S": "D"}, "sk": {"S": "A"}}}},
                {
                    "Put": {
                        "TableName": TABLE,
                        "Item": _item("U2"),
                        "ConditionExpression": "attribute_exists(pk)",  # fails: U2 does not exist
                    }
                },
            ]
        )
    stored = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "U"}, "sk": {"S": "A"}})["Item"]
    assert stored["state"] == {"S": "before"}
    assert _exists(dynamodb, "D")
    assert not _exists(dynamodb, "U2")
    assert [record["eventName"] for record in _stream_records(dynamodb)] == ["INSERT", "INSERT"]


def test_update_that_fails_after_applying_leaves_the_item_unchanged(dynamodb: Any) -> None:
    dynamodb.put_item(TableName=TABLE, Item=_item("BIG", note="small"))
    with pytest.raises(ClientError) as caught:
        dynamodb.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "BIG"}, "sk": {"S": "A"}},
            UpdateExpression="SET note = :huge",
            ExpressionAttributeValues={":huge": {"S": "x" * 410_000}},
        )
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    stored = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "BIG"}, "sk": {"S": "A"}})["Item"]
    assert stored["note"] == {"S": "small"}
    assert len(_stream_records(dynamodb)) == 1


def test_released_stream_records_are_dropped_and_sequence_numbers_keep_counting(dynamodb: Any) -> None:
    moto_patches.register_stream_reader(TABLE, "a")
    moto_patches.register_stream_reader(TABLE, "b")
    for index in range(5):
        dynamodb.put_item(TableName=TABLE, Item=_item(f"S{index}"))
    numbers = [int(record["dynamodb"]["SequenceNumber"]) for record in _stream_records(dynamodb)]
    assert moto_patches.release_stream_records(TABLE, "a", numbers[2]) == 0  # b has read nothing yet
    assert moto_patches.release_stream_records(TABLE, "b", numbers[3]) == 3  # both have read up to numbers[2]
    assert moto_patches.stream_length(TABLE) == 2
    dynamodb.put_item(TableName=TABLE, Item=_item("S5"))
    after = [int(record["dynamodb"]["SequenceNumber"]) for record in _stream_records(dynamodb)]
    assert after == [numbers[3], numbers[4], numbers[4] + 1]


def test_query_reads_the_partition_and_answers_like_moto(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Query starts from its partition (or, on an index, from the unsorted items), never from the whole
    table sorted, and answers what moto answers: same items, same order, same pages."""
    from moto.dynamodb.models.table import Table

    dynamodb.update_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "g", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": "by-g",
                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            }
        ],
    )
    for n in range(30):
        dynamodb.put_item(TableName=TABLE, Item=_item(f"P{n % 3}", f"S{n:03d}", g=f"G{n % 2}"))

    def pages(**arguments: Any) -> list[list[tuple[str, str]]]:
        found: list[list[tuple[str, str]]] = []
        while True:
            answer = dynamodb.query(TableName=TABLE, Limit=4, **arguments)
            found.append([(item["pk"]["S"], item["sk"]["S"]) for item in answer["Items"]])
            if "LastEvaluatedKey" not in answer:
                return found
            arguments["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    queries: list[dict[str, Any]] = [
        {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "P1"}}},
        {
            "KeyConditionExpression": "pk = :p AND sk > :s",
            "ExpressionAttributeValues": {":p": {"S": "P2"}, ":s": {"S": "S010"}},
            "ScanIndexForward": False,
        },
        {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "nobody"}}},
        {"IndexName": "by-g", "KeyConditionExpression": "g = :g", "ExpressionAttributeValues": {":g": {"S": "G0"}}},
    ]
    patched = [pages(**dict(query)) for query in queries]

    sorted_whole_table: list[int] = []
    original_all_items = Table.all_items

    def counting_all_items(self: Table) -> list[Any]:
        sorted_whole_table.append(1)
        return original_all_items(self)

    monkeypatch.setattr(Table, "all_items", counting_all_items)
    assert [pages(**dict(query)) for query in queries] == patched
    assert sorted_whole_table == []  # not once

    unpatched = Table.query.__wrapped__  # type: ignore[attr-defined]
    monkeypatch.setattr(Table, "query", unpatched)
    assert [pages(**dict(query)) for query in queries] == patched  # moto's own answers
    assert sorted_whole_table  # which sorted the whole table each time
    assert patched[0][0] == [("P1", "S001"), ("P1", "S004"), ("P1", "S007"), ("P1", "S010")]
    assert patched[2] == [[]]
    assert sum(len(page) for page in patched[3]) == 15


def test_moto_keeps_no_copy_of_the_objects_it_made(dynamodb: Any) -> None:
    """moto's models appended every object they created to a class-level list, for its dashboard:
    every item (each Query and UpdateItem makes deep copies), stream record and message, forever.
    After many writes and reads, the items alive are the table's own (and nothing is tracked)."""
    import gc

    from moto.dynamodb.models.dynamo_type import Item

    for n in range(200):
        dynamodb.put_item(TableName=TABLE, Item=_item("P", f"S{n:03d}", state="new"))
        dynamodb.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "P"}, "sk": {"S": f"S{n:03d}"}},
            UpdateExpression="SET #s = :s",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={":s": {"S": "done"}},
        )
    for _ in range(20):
        dynamodb.query(TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "P"}})
    gc.collect()

    assert moto_patches.tracked_instances() == 0
    alive = sum(1 for thing in gc.get_objects() if type(thing) is Item)
    assert alive <= 200 + 10, f"{alive} moto items alive for 200 stored"


def test_an_update_expression_is_parsed_once_and_applied_with_each_call_s_values(dynamodb: Any) -> None:
    """The parsed tree is shared between calls: each UpdateItem still applies its own values, names
    and conditions, and a bad expression is still refused."""
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

    expression = "SET #s = :s, hits = if_not_exists(hits, :zero) + :one REMOVE gone"
    misses_before = UpdateExpressionParser.parsed.cache_info().misses
    for n in range(5):
        dynamodb.put_item(TableName=TABLE, Item=_item(f"U{n}", gone="x"))
        for state in ("a", f"b{n}"):
            dynamodb.update_item(
                TableName=TABLE,
                Key={"pk": {"S": f"U{n}"}, "sk": {"S": "A"}},
                UpdateExpression=expression,
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":s": {"S": state}, ":zero": {"N": "0"}, ":one": {"N": "1"}},
            )
    assert UpdateExpressionParser.parsed.cache_info().misses == misses_before + 1
    for n in range(5):
        item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": f"U{n}"}, "sk": {"S": "A"}})["Item"]
        assert item == {"pk": {"S": f"U{n}"}, "sk": {"S": "A"}, "state": {"S": f"b{n}"}, "hits": {"N": "2"}}
    with pytest.raises(ClientError, match="ValidationException"):
        dynamodb.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "U0"}, "sk": {"S": "A"}},
            UpdateExpression="SET = :x",
            ExpressionAttributeValues={":x": {"S": "x"}},
        )
