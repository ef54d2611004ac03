"""Pure parts of the event source emulation: filter patterns, schedules, Lambda event shapes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from local_stack.event_filter import FilterPatternError, matches, matches_any, parse_pattern
from local_stack.pumps import (
    CRON_FALLBACK_SECONDS,
    batch_item_failures,
    lambda_sqs_record,
    lambda_stream_record,
    rate_seconds,
    schedule_period,
)

DISPATCHER = parse_pattern('{"eventName": ["INSERT", "MODIFY"], "dynamodb": {"NewImage": {"entity": {"S": ["order"]}}}}')


def stream_record(event_name: str = "INSERT", entity: str | None = "order") -> dict[str, Any]:
    image = {"pk": {"S": "ORDER#1"}}
    if entity is not None:
        image["entity"] = {"S": entity}
    return {"eventName": event_name, "dynamodb": {"Keys": {"pk": {"S": "ORDER#1"}}, "NewImage": image}}


# -- filter patterns --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (stream_record(), True),
        (stream_record(event_name="MODIFY"), True),
        (stream_record(event_name="REMOVE"), False),
        (stream_record(entity="event"), False),
        (stream_record(entity=None), False),
        ({"eventName": "INSERT"}, False),
        ({"eventName": "INSERT", "dynamodb": "not an object"}, False),
    ],
    ids=["insert-order", "modify", "remove", "other-entity", "no-entity", "no-dynamodb", "scalar-where-object"],
)
def test_the_dispatchers_pattern(record: dict[str, Any], expected: bool) -> None:
    assert matches(DISPATCHER, record) is expected


@pytest.mark.parametrize(
    ("pattern", "record", "expected"),
    [
        ({"a": ["x", "y"]}, {"a": "y"}, True),
        ({"a": ["x"]}, {"a": ["z", "x"]}, True),  # an array value matches if any element does
        ({"a": [5]}, {"a": 5.0}, True),
        ({"a": [5]}, {"a": "5"}, False),
        ({"a": [True]}, {"a": 1}, False),
        ({"a": [None]}, {"a": None}, True),
        ({"a": [None]}, {}, False),
        ({"a": [{"prefix": "ORDER#"}]}, {"a": "ORDER#1"}, True),
        ({"a": [{"prefix": "ORDER#"}]}, {"a": "EVENT#1"}, False),
        ({"a": [{"prefix": {"equals-ignore-case": "order#"}}]}, {"a": "ORDER#1"}, True),
        ({"a": [{"suffix": ".json"}]}, {"a": "x.json"}, True),
        ({"a": [{"equals-ignore-case": "Acme"}]}, {"a": "ACME"}, True),
        ({"a": [{"wildcard": "order-*-done"}]}, {"a": "order-42-done"}, True),
        ({"a": [{"wildcard": "order-*"}]}, {"a": "event-1"}, False),
        ({"a": [{"exists": True}]}, {"a": "anything"}, True),
        ({"a": [{"exists": True}]}, {}, False),
        ({"a": [{"exists": False}]}, {}, True),
        ({"a": [{"exists": False}]}, {"a": 1}, False),
        ({"a": [{"anything-but": "x"}]}, {"a": "y"}, True),
        ({"a": [{"anything-but": ["x", "y"]}]}, {"a": "y"}, False),
        ({"a": [{"anything-but": "x"}]}, {}, False),
        ({"a": [{"anything-but": {"prefix": "tmp"}}]}, {"a": "tmp-1"}, False),
        ({"a": [{"numeric": [">", 0, "<=", 5]}]}, {"a": 5}, True),
        ({"a": [{"numeric": [">", 0, "<=", 5]}]}, {"a": 6}, False),
        ({"a": [{"numeric": ["=", 1]}]}, {"a": "1"}, False),
        ({"a": [{"cidr": "10.0.0.0/24"}]}, {"a": "10.0.0.7"}, True),
        ({"a": [{"cidr": "10.0.0.0/24"}]}, {"a": "10.0.1.7"}, False),
        ({"a": {"b": ["x"]}}, {"a": [{"b": "y"}, {"b": "x"}]}, True),
        ({"a": [True]}, {"a": [1, 0]}, False),  # literals compare strictly, also inside arrays
        ({"a": ["x", {"prefix": "y"}]}, {"a": "yes"}, True),  # a literal or a content filter
        ({"a": [{"exists": True}]}, {"a": None}, True),  # null is a value
        ({"a": [{"exists": True}]}, {"a": {"b": 1}}, False),  # content filters apply to leaves
        ({"a": [{"suffix": {"equals-ignore-case": ".JSON"}}]}, {"a": "x.json"}, True),
        ({"a": [{"wildcard": "a\\*b"}]}, {"a": "a*b"}, True),  # an escaped star is a star
        ({"a": [{"wildcard": "a\\*b"}]}, {"a": "axxb"}, False),
        ({"a": [{"numeric": [">=", 1.5]}]}, {"a": [1, 2]}, True),  # any element of an array
        ({"a": [{"anything-but": [1, 2]}]}, {"a": 3}, True),
        ({"a": [{"cidr": "2001:db8::/32"}]}, {"a": "2001:db8::1"}, True),
        ({"a": ["x"], "b": ["y"]}, {"a": "x", "b": "z"}, False),  # every field must match
    ],
)
def test_content_filters(pattern: dict[str, Any], record: dict[str, Any], expected: bool) -> None:
    assert matches(parse_pattern(pattern), record) is expected


def test_patterns_are_ored_and_no_pattern_keeps_everything() -> None:
    inserts, removes = parse_pattern({"eventName": ["INSERT"]}), parse_pattern({"eventName": ["REMOVE"]})

    assert matches_any([inserts, removes], {"eventName": "REMOVE"})
    assert not matches_any([inserts, removes], {"eventName": "MODIFY"})
    assert matches_any([], {"eventName": "MODIFY"})


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("{", "not JSON"),
        ("[]", "non-empty JSON object"),
        ("{}", "non-empty JSON object"),
        ('{"a": "x"}', "must be in a list"),
        ('{"a": []}', "empty list"),
        ('{"a": {}}', "empty object"),
        ('{"a": [{"prefix": 1}]}', "prefix takes a string"),
        ('{"a": [{"exists": "yes"}]}', "exists takes true or false"),
        ('{"a": [{"numeric": [">>", 1]}]}', "is not a comparison"),
        ('{"a": [{"numeric": [">"]}]}', "numeric takes"),
        ('{"a": [{"anything-but": {"numeric": [">", 1]}}]}', "anything-but takes values"),
        ('{"a": [{"cidr": "nope"}]}', "is not a network"),
        ('{"a": [{"cidr": "10.0.0.7/24"}]}', "host bits zero"),
        ('{"a": [{"suffix": {"prefix": "x"}}]}', "suffix takes a string or"),
        ('{"a": [{"anything-but": [true]}]}', "anything-but lists only strings or numbers"),
        ('{"a": [{"anything-but": null}]}', "anything-but takes a string"),
        ('{"a": [{"regex": "x"}]}', "not supported"),
        ('{"a": [{"prefix": "x", "suffix": "y"}]}', "single content filter"),
        ('{"a": [["nested"]]}', "single content filter"),
    ],
)
def test_invalid_patterns_are_refused(pattern: str, message: str) -> None:
    with pytest.raises(FilterPatternError, match=message):
        parse_pattern(pattern)


# -- schedules ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60.0),
        ("rate(5 minutes)", 300.0),
        ("rate(30 seconds)", 30.0),
        ("rate(1 second)", 1.0),
        ("rate(2 hours)", 7200.0),
        ("rate(1 day)", 86400.0),
        ("cron(0 * * * ? *)", None),
        ("at(2030-01-01T00:00:00)", None),
    ],
)
def test_rate_expressions(expression: str, seconds: float | None) -> None:
    assert rate_seconds(expression) == seconds


@pytest.mark.parametrize("expression", ["rate(0 minutes)", "rate(1 fortnight)", "rate(minute)", "rate(-1 hours)"])
def test_malformed_rates_are_refused(expression: str) -> None:
    with pytest.raises(ValueError, match="is not a rate"):
        rate_seconds(expression)


def test_schedule_periods_and_the_override() -> None:
    assert schedule_period("rate(1 minute)") == 60.0
    assert schedule_period("rate(1 minute)", override=2.0) == 2.0
    assert schedule_period("cron(0/5 * * * ? *)") == CRON_FALLBACK_SECONDS
    assert schedule_period("cron(0/5 * * * ? *)", override=2.0) == 2.0
    assert schedule_period("at(2030-01-01T00:00:00)") is None


# -- batch item failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        ({"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "c"}]}, {"a", "c"}),
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, None),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, None),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, None),
        ({"batchItemFailures": [{"id": "a"}]}, None),
        ({"batchItemFailures": "a"}, None),
        ("not an object", None),
    ],
)
def test_batch_item_failures_follow_lambdas_rules(result: Any, expected: set[str] | None) -> None:
    assert batch_item_failures(result, ["a", "b", "c"]) == expected


# -- Lambda event shapes ------------------------------------------------------------------------------------


def test_a_stream_record_becomes_lambdas_json_shape() -> None:
    created = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    raw = {
        "eventID": "abc",
        "eventName": "INSERT",
        "eventVersion": "1.0",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": created,
            "Keys": {"pk": {"S": "a"}},
            "NewImage": {"pk": {"S": "a"}, "blob": {"B": b"\x00\xff"}, "blobs": {"BS": [b"\x01"]}},
            "SequenceNumber": "100",
            "SizeBytes": 42,
            "StreamViewType": "NEW_IMAGE",
        },
    }

    record = lambda_stream_record(raw, "arn:stream", "eu-west-1")

    assert record == {
        "eventID": "abc",
        "eventName": "INSERT",
        "eventVersion": "1.0",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": {
            "ApproximateCreationDateTime": int(created.timestamp()),
            "Keys": {"pk": {"S": "a"}},
            "NewImage": {
                "pk": {"S": "a"},
                "blob": {"B": base64.b64encode(b"\x00\xff").decode()},
                "blobs": {"BS": [base64.b64encode(b"\x01").decode()]},
            },
            "SequenceNumber": "100",
            "SizeBytes": 42,
            "StreamViewType": "NEW_IMAGE",
        },
        "eventSourceARN": "arn:stream",
    }


def test_an_sqs_message_becomes_lambdas_json_shape() -> None:
    message = {
        "MessageId": "m1",
        "ReceiptHandle": "r1",
        "MD5OfBody": "md5",
        "Body": "{}",
        "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000"},
        "MD5OfMessageAttributes": "md5a",
        "MessageAttributes": {
            "s": {"DataType": "String", "StringValue": "v"},
            "b": {"DataType": "Binary", "BinaryValue": b"\x00"},
        },
    }

    record = lambda_sqs_record(message, "arn:aws:sqs:us-east-1:123456789012:q", "us-east-1")

    assert record == {
        "messageId": "m1",
        "receiptHandle": "r1",
        "body": "{}",
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000"},
        "messageAttributes": {
            "s": {"stringValue": "v", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
            "b": {"binaryValue": "AA==", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"},
        },
        "md5OfBody": "md5",
        "md5OfMessageAttributes": "md5a",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
        "awsRegion": "us-east-1",
    }


# -- command line ---------------------------------------------------------------------------------------


def test_the_pump_flags() -> None:
    from local_stack.__main__ import parse_args

    assert parse_args([]).no_pumps is False
    assert parse_args([]).poll_seconds is None
    assert parse_args(["--no-pumps"]).no_pumps is True
    assert parse_args(["--poll-seconds", "2"]).poll_seconds == 2.0
    assert parse_args(["--poll-seconds", "0.5"]).poll_seconds == 0.5


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_an_invalid_poll_period_is_a_usage_error(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    from local_stack.__main__ import parse_args

    with pytest.raises(SystemExit) as exited:
        parse_args(["--poll-seconds", value])

    assert exited.value.code == 2
    assert "--poll-seconds" in capsys.readouterr().err


def test_the_schedule_period_can_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from local_stack.__main__ import _default_schedule_seconds

    monkeypatch.delenv("HUB_SCHEDULE_SECONDS", raising=False)
    assert _default_schedule_seconds() is None
    monkeypatch.setenv("HUB_SCHEDULE_SECONDS", "3")
    assert _default_schedule_seconds() == 3.0
    monkeypatch.setenv("HUB_SCHEDULE_SECONDS", "never")
    with pytest.raises(SystemExit):
        _default_schedule_seconds()
