"""The event source pumps against moto in-process (no sockets): DynamoDB streams, SQS, schedules.

Pumps are driven step by step with ``poll_once()`` where ordering matters, and as real threads
where the point is that they run and stop. Handlers are small recorders; one test goes through
the lazy import of a module-level handler, like the stack does for the template's functions.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from local_stack.lambdas import FunctionRuntime
from local_stack.pumps import (
    DynamoStreamPump,
    Pumps,
    SchedulePump,
    SqsPump,
    build_pumps,
)
from local_stack.template import (
    DynamoStreamEvent,
    FunctionSpec,
    LocalResources,
    QueueInfo,
    ScheduleEvent,
    SqsEvent,
    create_queues,
    create_tables,
    function_specs,
    load_template,
    loads_template,
    table_stream_arns,
)
from order_hub.adapters.secrets import store_secret

REGION = "us-east-1"
DISPATCHER_PATTERN = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"entity": {"S": ["event"]}}}}
WAIT_S = 10.0

# -- a module-level handler, imported lazily by a FunctionRuntime like the template's functions --

RECEIVED: list[dict[str, Any]] = []


def recorder(event: dict[str, Any], context: Any) -> None:
    RECEIVED.append({"event": event, "function_name": context.function_name})


# -- helpers ----------------------------------------------------------------------------------------


@dataclass
class Recorder:
    """A handler that records each event and answers with ``respond(event)`` (or raises from it)."""

    respond: Callable[[dict[str, Any]], Any] = lambda event: None
    events: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.events.append(json.loads(json.dumps(event)))  # what Lambda delivers is JSON
        return self.respond(event)

    def batches(self, key: Callable[[dict[str, Any]], Any]) -> list[list[Any]]:
        return [[key(record) for record in event["Records"]] for event in self.events]


def spec(logical_id: str = "Recorder", module: str = "not.imported", handler: str = "handler") -> FunctionSpec:
    return FunctionSpec(logical_id, module, handler, "unused/", {}, timeout=5)


def runtime(handler: Callable[[dict[str, Any], Any], Any], logical_id: str = "Recorder") -> FunctionRuntime:
    return FunctionRuntime(spec(logical_id), REGION, handler)


def wait_until(condition: Callable[[], bool], timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


class ObservedLock:
    """A lock that tells when someone had to wait for it (``contended``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.contended = threading.Event()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self._lock.acquire(blocking=False):
            return True
        self.contended.set()
        return self._lock.acquire(blocking, timeout) if blocking else False

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def pump_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("pump ")]


QUEUES_TEMPLATE = """
Resources:
  Work:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 0
      RedrivePolicy: {deadLetterTargetArn: !GetAtt WorkDLQ.Arn, maxReceiveCount: 2}
  WorkDLQ:
    Type: AWS::SQS::Queue
  Failures:
    Type: AWS::SQS::Queue
"""


@dataclass
class Aws:
    dynamodb: Any
    streams: Any
    sqs: Any
    tables: dict[str, str]
    stream_arns: dict[str, str]
    queues: dict[str, QueueInfo]

    @property
    def orders_table(self) -> str:
        return self.tables["OrdersTable"]

    @property
    def orders_stream(self) -> str:
        return self.stream_arns["OrdersTable"]

    def put(self, pk: str, entity: str = "event", **extra: str) -> None:
        item = {"pk": {"S": pk}, "sk": {"S": "0"}, "entity": {"S": entity}}
        item.update({name: {"S": value} for name, value in extra.items()})
        self.dynamodb.put_item(TableName=self.orders_table, Item=item)

    def messages(self, logical_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.queues[logical_id].url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                return found
            found.extend(batch)

    def queue_depth(self, logical_id: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queues[logical_id].url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def stream_pump(self, handler: Recorder | FunctionRuntime, **source: Any) -> DynamoStreamPump:
        source.setdefault("table", "OrdersTable")
        source.setdefault("starting_position", "TRIM_HORIZON")
        return DynamoStreamPump(
            handler if isinstance(handler, FunctionRuntime) else runtime(handler),
            DynamoStreamEvent(event_id="Stream", **source),
            self.orders_stream,
            self.streams,
            region=REGION,
            sqs_client=self.sqs,
            failure_queue_url=self.queues["Failures"].url,
            poll_seconds=0.02,
            retry_seconds=0.0,
        )

    def sqs_pump(self, handler: Recorder, **source: Any) -> SqsPump:
        source.setdefault("queue", "Work")
        return SqsPump(runtime(handler), SqsEvent(event_id="Queue", **source), self.queues[source["queue"]], self.sqs)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        tables = create_tables(dynamodb, load_template(), name_prefix="pumps")
        yield Aws(
            dynamodb=dynamodb,
            streams=boto3.client("dynamodbstreams", region_name=REGION, config=Config(account_id_endpoint_mode="disabled")),
            sqs=sqs,
            tables=tables,
            stream_arns=table_stream_arns(dynamodb, tables),
            queues=create_queues(sqs, loads_template(QUEUES_TEMPLATE), name_prefix="pumps", region=REGION),
        )
    assert not pump_threads(), "a test left a pump thread running"


# -- DynamoDB streams -------------------------------------------------------------------------------


def test_stream_records_reach_the_handler_as_lambda_events_with_the_filter_applied(aws: Aws) -> None:
    handler = Recorder()
    pump = aws.stream_pump(handler, filter_patterns=(DISPATCHER_PATTERN,))
    aws.put("e1")
    aws.put("o1", entity="order")  # another entity: filtered out
    aws.put("e1", status="changed")  # MODIFY of an event item: filtered out
    aws.put("e2")

    pump.poll_once()

    assert handler.batches(lambda r: r["dynamodb"]["Keys"]["pk"]["S"]) == [["e1", "e2"]]
    record = handler.events[0]["Records"][0]
    assert set(record) == {
        "eventID",
        "eventName",
        "eventVersion",
        "eventSource",
        "awsRegion",
        "dynamodb",
        "eventSourceARN",
    }
    assert record["eventName"] == "INSERT"
    assert record["eventSource"] == "aws:dynamodb"
    assert record["awsRegion"] == REGION
    assert record["eventSourceARN"] == aws.orders_stream
    stream = record["dynamodb"]
    assert set(stream) == {
        "ApproximateCreationDateTime",
        "Keys",
        "NewImage",
        "SequenceNumber",
        "SizeBytes",
        "StreamViewType",
    }
    assert stream["Keys"] == {"pk": {"S": "e1"}, "sk": {"S": "0"}}
    assert stream["NewImage"]["entity"] == {"S": "event"}
    assert stream["StreamViewType"] == "NEW_IMAGE"
    assert abs(stream["ApproximateCreationDateTime"] - time.time()) < 60
    assert isinstance(stream["SizeBytes"], int)

    pump.poll_once()  # nothing new: no invocation
    assert len(handler.events) == 1


def test_stream_records_are_batched_in_order_up_to_the_batch_size(aws: Aws) -> None:
    handler = Recorder()
    pump = aws.stream_pump(handler, batch_size=2)
    for index in range(5):
        aws.put(f"e{index}")

    pump.poll_once()

    assert handler.batches(lambda r: r["dynamodb"]["Keys"]["pk"]["S"]) == [["e0", "e1"], ["e2", "e3"], ["e4"]]
    numbers = [int(r["dynamodb"]["SequenceNumber"]) for event in handler.events for r in event["Records"]]
    assert numbers == sorted(numbers)


def test_latest_skips_what_was_in_the_stream_before_the_pump_started(aws: Aws) -> None:
    aws.put("before")
    handler = Recorder()
    pump = aws.stream_pump(handler, starting_position="LATEST")
    pump.poll_once()
    aws.put("after")

    pump.poll_once()

    assert handler.batches(lambda r: r["dynamodb"]["Keys"]["pk"]["S"]) == [["after"]]


def test_batch_item_failures_are_retried_from_the_first_failure_then_sent_to_the_failure_queue(aws: Aws) -> None:
    def fail_e2(event: dict[str, Any]) -> dict[str, Any]:
        failed = [r for r in event["Records"] if r["dynamodb"]["Keys"]["pk"]["S"] == "e2"]
        return {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in failed]}

    handler = Recorder(fail_e2)
    pump = aws.stream_pump(handler, maximum_retry_attempts=2, report_batch_item_failures=True)
    for name in ("e1", "e2", "e3"):
        aws.put(name)

    for _ in range(5):
        pump.poll_once()
    aws.put("e4")
    pump.poll_once()

    assert handler.batches(lambda r: r["dynamodb"]["Keys"]["pk"]["S"]) == [
        ["e1", "e2", "e3"],  # e1 succeeds: checkpointed
        ["e2", "e3"],  # retry 1
        ["e2", "e3"],  # retry 2, then the retries are exhausted
        ["e4"],  # the pump moved on
    ]
    (message,) = aws.messages("Failures")
    failure = json.loads(message["Body"])
    sequence = [r["dynamodb"]["SequenceNumber"] for r in handler.events[1]["Records"]]
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 3
    assert failure["requestContext"]["functionArn"].endswith(":function:hub-local-Recorder")
    assert "functionError" not in failure["responseContext"]
    assert failure["version"] == "1.0"
    info = failure["DDBStreamBatchInfo"]
    assert info["startSequenceNumber"] == sequence[0]
    assert info["endSequenceNumber"] == sequence[-1]
    assert info["batchSize"] == 2
    assert info["streamArn"] == aws.orders_stream
    assert info["shardId"]


def test_a_handler_exception_retries_the_whole_batch(aws: Aws, caplog: pytest.LogCaptureFixture) -> None:
    calls = {"n": 0}

    def flaky(event: dict[str, Any]) -> None:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise RuntimeError("database hiccup")

    handler = Recorder(flaky)
    pump = aws.stream_pump(handler, maximum_retry_attempts=5)
    aws.put("e1")
    aws.put("e2")

    with caplog.at_level("ERROR", logger="local_stack.pumps"):
        for _ in range(4):
            pump.poll_once()

    assert handler.batches(lambda r: r["dynamodb"]["Keys"]["pk"]["S"]) == [["e1", "e2"]] * 3
    assert aws.messages("Failures") == []
    tracebacks = [record for record in caplog.records if record.exc_info]
    assert len(tracebacks) == 2
    assert all("database hiccup" in str(record.exc_info[1]) for record in tracebacks if record.exc_info)


def test_an_exhausted_exception_is_reported_as_unhandled_and_bisecting_isolates_the_bad_record(aws: Aws) -> None:
    def poison(event: dict[str, Any]) -> None:
        if any(r["dynamodb"]["Keys"]["pk"]["S"] == "bad" for r in event["Records"]):
            raise ValueError("cannot handle this one")

    handler = Recorder(poison)
    pump = aws.stream_pump(handler, maximum_retry_attempts=3, bisect_batch_on_function_error=True)
    for name in ("e1", "e2", "bad", "e4"):
        aws.put(name)

    for _ in range(10):
        pump.poll_once()

    assert handler.batches(lambda r: r["dynamodb"]["Keys"]["pk"]["S"]) == [
        ["e1", "e2", "bad", "e4"],  # fails as a whole: bisect
        ["e1", "e2"],  # delivered
        ["bad", "e4"],  # fails as a whole again (attempt 1 of the new head): bisect
        ["bad"],  # attempts 2, 3, 4: 3 retries exhausted
        ["bad"],
        ["bad"],
        ["e4"],  # the pump moved on
    ]
    (message,) = aws.messages("Failures")
    failure = json.loads(message["Body"])
    assert failure["responseContext"]["functionError"] == "Unhandled"
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 1  # only the bad record was given up


def test_the_pump_keeps_reading_after_moto_rolls_back_a_failed_transaction(aws: Aws) -> None:
    """moto replaces the table's stream shard object when a transaction is cancelled; iterators
    obtained before then never see new records, so the pump takes a fresh one each poll."""
    handler = Recorder()
    pump = aws.stream_pump(handler)
    aws.put("e1")
    pump.poll_once()
    with pytest.raises(aws.dynamodb.exceptions.TransactionCanceledException):
        aws.dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": aws.orders_table,
                        "Item": {"pk": {"S": "e1"}, "sk": {"S": "0"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            ]
        )
    aws.put("e2")

    pump.poll_once()

    assert handler.batches(lambda r: r["dynamodb"]["Keys"]["pk"]["S"]) == [["e1"], ["e2"]]


def test_moto_does_not_accumulate_the_pumps_shard_iterators(aws: Aws) -> None:
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    pump = aws.stream_pump(Recorder())
    for index in range(20):
        aws.put(f"e{index}")
        pump.poll_once()

    assert len(dynamodbstreams_backends["123456789012"][REGION].shard_iterators) == 0


def test_a_pump_waits_for_the_function_lock_shared_with_the_api(aws: Aws) -> None:
    handler = Recorder()
    shared = runtime(handler)
    lock = ObservedLock()
    shared.lock = cast(Any, lock)
    pump = aws.stream_pump(shared)
    aws.put("e1")
    lock.acquire()  # an API request of the same function is running
    try:
        pump.start()
        assert lock.contended.wait(WAIT_S), "the pump never tried to invoke"
        assert handler.events == []  # it holds the record and waits for the lock
    finally:
        lock.release()
    wait_until(lambda: len(handler.events) == 1)
    assert pump.stop()


def test_a_running_stream_pump_delivers_and_stops(aws: Aws) -> None:
    handler = Recorder()
    pump = aws.stream_pump(handler)
    pump.start()
    assert pump.running
    aws.put("e1")

    wait_until(lambda: len(handler.events) == 1)
    started = time.monotonic()
    assert pump.stop()

    assert time.monotonic() - started < 1.0
    assert not pump.running
    assert not pump_threads()


# -- SQS ------------------------------------------------------------------------------------------------


def test_messages_are_delivered_as_lambda_sqs_events_and_deleted_on_success(aws: Aws) -> None:
    handler = Recorder()
    pump = aws.sqs_pump(handler)
    aws.sqs.send_message(
        QueueUrl=aws.queues["Work"].url,
        MessageBody='{"order": 1}',
        MessageAttributes={"tenant": {"DataType": "String", "StringValue": "acme"}},
    )
    aws.sqs.send_message(QueueUrl=aws.queues["Work"].url, MessageBody="plain text")

    assert pump.poll_once(wait_seconds=0) == 2

    (event,) = handler.events
    first, second = event["Records"]
    assert set(first) == {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "md5OfMessageAttributes",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert first["body"] == '{"order": 1}'
    assert first["eventSource"] == "aws:sqs"
    assert first["eventSourceARN"] == aws.queues["Work"].arn
    assert first["awsRegion"] == REGION
    assert first["attributes"]["ApproximateReceiveCount"] == "1"
    assert first["attributes"]["SentTimestamp"].isdigit()
    assert first["messageAttributes"] == {
        "tenant": {"stringValue": "acme", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    }
    assert second["body"] == "plain text"
    assert second["messageAttributes"] == {}
    assert "md5OfMessageAttributes" not in second
    assert aws.queue_depth("Work") == 0


def test_only_reported_batch_item_failures_stay_on_the_queue(aws: Aws) -> None:
    def fail_b(event: dict[str, Any]) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "b"]}

    handler = Recorder(fail_b)
    pump = aws.sqs_pump(handler, report_batch_item_failures=True)
    for body in ("a", "b", "c"):
        aws.sqs.send_message(QueueUrl=aws.queues["Work"].url, MessageBody=body)

    pump.poll_once(wait_seconds=0)
    pump.poll_once(wait_seconds=0)  # visibility timeout 0: "b" comes back at once

    assert handler.batches(lambda r: r["body"]) == [["a", "b", "c"], ["b"]]
    assert handler.events[1]["Records"][0]["attributes"]["ApproximateReceiveCount"] == "2"


def test_an_invalid_batch_item_failures_response_keeps_every_message(aws: Aws) -> None:
    handler = Recorder(lambda event: {"batchItemFailures": [{"itemIdentifier": "not-in-the-batch"}]})
    pump = aws.sqs_pump(handler, report_batch_item_failures=True)
    aws.sqs.send_message(QueueUrl=aws.queues["Work"].url, MessageBody="a")

    pump.poll_once(wait_seconds=0)

    assert aws.queue_depth("Work") == 1


def test_failing_messages_stay_until_sqs_redrives_them_to_the_dead_letter_queue(aws: Aws) -> None:
    def always_fail(event: dict[str, Any]) -> None:
        raise RuntimeError("WMS down")

    handler = Recorder(always_fail)
    pump = aws.sqs_pump(handler)
    aws.sqs.send_message(QueueUrl=aws.queues["Work"].url, MessageBody="doomed")

    for _ in range(4):
        pump.poll_once(wait_seconds=0)

    # maxReceiveCount 2: delivered twice, then moto moves it to the DLQ on the next receive.
    assert handler.batches(lambda r: (r["body"], r["attributes"]["ApproximateReceiveCount"])) == [
        [("doomed", "1")],
        [("doomed", "2")],
    ]
    assert aws.queue_depth("Work") == 0
    (dead,) = aws.messages("WorkDLQ")
    assert dead["Body"] == "doomed"


def test_sqs_filter_criteria_drop_and_delete_messages_that_do_not_match(aws: Aws) -> None:
    handler = Recorder()
    pump = aws.sqs_pump(handler, filter_patterns=({"body": {"kind": ["keep"]}},))
    for body in ('{"kind": "keep"}', '{"kind": "drop"}', "not json"):
        aws.sqs.send_message(QueueUrl=aws.queues["Work"].url, MessageBody=body)

    pump.poll_once(wait_seconds=0)

    assert handler.batches(lambda r: r["body"]) == [['{"kind": "keep"}']]
    assert aws.queue_depth("Work") == 0


def test_a_running_sqs_pump_delivers_and_stops_within_its_long_poll(aws: Aws) -> None:
    handler = Recorder()
    pump = aws.sqs_pump(handler)
    pump.start()
    aws.sqs.send_message(QueueUrl=aws.queues["Work"].url, MessageBody="hello")

    # at least once: the Work queue's visibility timeout is 0, so a second concurrent poll may take the
    # message again before the first deletes it (== 1 raced with that and left the pump running)
    wait_until(lambda: len(handler.events) >= 1)
    started = time.monotonic()
    assert pump.stop()

    assert time.monotonic() - started < 2.5  # one WaitTimeSeconds=1 long poll at most
    assert not pump_threads()


# -- schedules -----------------------------------------------------------------------------------------


def test_a_schedule_fires_its_input_on_its_period_and_stops() -> None:
    handler = Recorder(lambda event: "done")
    schedule = ScheduleEvent("Poll", "rate(1 minute)", '{"source": "schedule", "job": "poll-wms"}')
    pump = SchedulePump(runtime(handler), schedule, period_seconds=0.05)

    pump.start()
    wait_until(lambda: len(handler.events) >= 3)
    assert pump.stop()

    assert all(event == {"source": "schedule", "job": "poll-wms"} for event in handler.events)
    assert not pump_threads()


def test_fire_triggers_a_schedule_now_and_returns_the_outcome() -> None:
    handler = Recorder(lambda event: {"polled": True})
    pumps = Pumps([SchedulePump(runtime(handler, "Poller"), ScheduleEvent("Poll", "rate(1 hour)", None), 3600.0)])
    pumps.start()
    try:
        outcome = pumps.fire("Poller")
        with pytest.raises(KeyError, match="no schedule for Nobody"):
            pumps.fire("Nobody")
    finally:
        assert pumps.stop(timeout=2)

    assert outcome.ok and outcome.result == {"polled": True}
    assert handler.events == [{}]  # no Input: an empty object
    assert not pump_threads()


def test_a_handler_module_is_imported_on_the_first_firing() -> None:
    RECEIVED.clear()
    module = __name__
    lazy = FunctionRuntime(spec("Lazy", module=module, handler="recorder"), REGION)
    missing = FunctionRuntime(spec("Missing", module="functions.does_not_exist.app"), REGION)
    pumps = Pumps(
        [
            SchedulePump(lazy, ScheduleEvent("Tick", "rate(1 minute)", '{"n": 1}'), None),
            SchedulePump(missing, ScheduleEvent("Tick", "rate(1 minute)", None), None),
        ]
    )

    assert pumps.fire("Lazy").ok
    failed = pumps.fire("Missing")  # a handler module that does not exist (yet): an error, not a crash

    assert not failed.ok and isinstance(failed.error, ModuleNotFoundError)
    received = importlib.import_module(module).RECEIVED
    assert received == [{"event": {"n": 1}, "function_name": "hub-local-Lazy"}]


# -- the template, wired end to end ---------------------------------------------------------------------


def test_the_templates_pumps_carry_an_order_event_from_the_table_to_the_forwarder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    template = load_template()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        queues = create_queues(sqs, template, name_prefix="wired", region=REGION)
        tables = create_tables(dynamodb, template, name_prefix="wired")
        resources = LocalResources(tables=tables, stream_arns=table_stream_arns(dynamodb, tables), queues=queues)
        specs = function_specs(template, resources.refs(), region=REGION, attributes=resources.attributes(REGION))
        by_id = {s.logical_id: s for s in specs}
        forward_url = by_id["DispatcherFunction"].environment["WMS_FORWARD_QUEUE_URL"]

        def dispatch(event: dict[str, Any]) -> dict[str, Any]:
            for record in event["Records"]:
                sqs.send_message(QueueUrl=forward_url, MessageBody=json.dumps(record["dynamodb"]["Keys"]))
            return {"batchItemFailures": []}

        dispatcher, forwarder, poller = Recorder(dispatch), Recorder(), Recorder()
        handlers = {"DispatcherFunction": dispatcher, "WmsForwarderFunction": forwarder, "StatusPollerFunction": poller}
        runtimes = {s.logical_id: FunctionRuntime(s, REGION, handlers.get(s.logical_id, Recorder())) for s in specs}
        pumps = build_pumps(specs, runtimes, resources, region=REGION, schedule_seconds=0.2)

        assert pumps.describe() == [
            "stream OrdersTable -> DispatcherFunction",
            "queue WmsForwardQueue (up to 10 batches at once) -> WmsForwarderFunction",
            "queue DeliveryQueue (up to 20 batches at once) -> DeliveryWorkerFunction",
            "schedule Poll rate(1 minute) (every 0.2 s) -> StatusPollerFunction",
        ]
        stream_pump = next(p for p in pumps if isinstance(p, DynamoStreamPump))
        assert stream_pump.failure_queue_url == queues["DispatchFailuresQueue"].url
        pumps.start()
        try:
            for entity, pk in (("order", "ORDER#1"), ("event", "EVENT#1")):
                item = {"pk": {"S": pk}, "sk": {"S": "0"}, "entity": {"S": entity}}
                dynamodb.put_item(TableName=tables["OrdersTable"], Item=item)
            wait_until(lambda: len(forwarder.events) == 1 and len(poller.events) >= 1)
        finally:
            assert pumps.stop()
        assert not pump_threads()

    assert dispatcher.batches(lambda r: r["dynamodb"]["Keys"]["pk"]["S"]) == [["ORDER#1"]]  # the filter: orders only
    assert json.loads(forwarder.events[0]["Records"][0]["body"]) == {"pk": {"S": "ORDER#1"}, "sk": {"S": "0"}}
    assert poller.events[0] == {"source": "schedule", "job": "poll-wms"}


def test_the_stream_pump_polls_fast_while_records_flow_and_at_lambdas_rate_when_idle(aws: Aws) -> None:
    pump = DynamoStreamPump(
        runtime(Recorder()),
        DynamoStreamEvent("Stream", "OrdersTable"),
        aws.orders_stream,
        aws.streams,
        poll_seconds=0.01,
        idle_poll_seconds=0.5,
    )
    aws.put("e1")

    assert pump.step() == 0.01
    pump._active_at -= 60  # nothing for a minute
    assert pump.step() == 0.5
    aws.put("e2")
    assert pump.step() == 0.01


# -- Secrets Manager ---------------------------------------------------------------------------------


def test_store_secret_creates_then_replaces_a_json_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("secretsmanager", region_name=REGION)

        created = store_secret(client, "hub/acme/wms", {"api_key": "one"})
        replaced = store_secret(client, "hub/acme/wms", {"api_key": "two"})

        assert created == replaced
        assert created.startswith(f"arn:aws:secretsmanager:{REGION}:123456789012:secret:hub/acme/wms-")
        value = client.get_secret_value(SecretId="hub/acme/wms")["SecretString"]
    assert json.loads(value) == {"api_key": "two"}
