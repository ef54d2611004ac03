"""The local stack's memory report (``kill -USR1``): what moto keeps, per table and queue, and the allocators."""

from __future__ import annotations

from pathlib import Path

import boto3
from moto import mock_aws

from local_stack import memory_report, moto_patches


def test_the_report_counts_what_moto_keeps(tmp_path: Path) -> None:
    moto_patches.install()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="report-Orders",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        for n in range(7):
            dynamodb.put_item(TableName="report-Orders", Item={"pk": {"S": f"ORDER#{n}"}})
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue = sqs.create_queue(QueueName="report-Deliveries")["QueueUrl"]
        sqs.send_message(QueueUrl=queue, MessageBody="{}")
        sqs.send_message(QueueUrl=queue, MessageBody="{}")

        memory_report.write_report(tmp_path / "memory.txt")
        memory_report.write_report(tmp_path / "memory.txt")

    text = (tmp_path / "memory.txt").read_text()
    assert text.count("== ") == 2  # appended, one report per signal
    assert "table report-Orders: 7 items, 7 stream records kept" in text
    assert "queue report-Deliveries: 2 messages, 0 in flight, 0 deleted receipt handles" in text
    assert "moto Item objects:" in text and "objects by type" in text and "malloc:" in text
    assert memory_report.rss_mb() > 0
