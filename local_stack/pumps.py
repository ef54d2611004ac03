"""Event source pumps: what Lambda's event source mappings and EventBridge Scheduler do, locally.

Every pump is a daemon thread that feeds one event source of template.yaml to its function's
``FunctionRuntime`` (shared with the API server: one invocation of a function at a time):

- ``DynamoStreamPump`` (``Type: DynamoDB``) polls the table's stream through the DynamoDB Streams
  API every 100 ms while records flow (after 2 s without any, at Lambda's own base rate of 4 polls
  a second, which keeps an idle stack's CPU low), applies ``FilterCriteria`` (records no pattern
  matches are dropped as processed), and invokes the function with Lambda's DynamoDB event in batches of up to
  ``BatchSize``, shard by shard, in order. A failed batch (handler exception, or, with
  ``ReportBatchItemFailures``, the records from the first reported failure on) is retried with a
  short backoff; ``BisectBatchOnFunctionError`` halves a batch that failed as a whole. After
  ``MaximumRetryAttempts`` retries (-1: forever) the failed records' metadata is sent to the
  ``OnFailure`` SQS queue (Lambda's invocation record with ``DDBStreamBatchInfo``) and the pump
  moves on.
- ``SqsPump`` (``Type: SQS``) long-polls the queue (``WaitTimeSeconds`` 1, up to ``BatchSize``
  messages), invokes the function with Lambda's SQS event and deletes the messages that
  succeeded: all of them, all but the ``batchItemFailures``, or none if the handler raised.
  Like Lambda, it runs several batches at once, up to the event source's
  ``ScalingConfig.MaximumConcurrency`` (5 when the template sets none, Lambda's initial number of
  pollers): one receiver takes a batch whenever a container is free and hands it to that container
  (``FunctionRuntime.another_container``: its own handler module and lock), so a slow batch holds
  up no other batch.
  Visibility timeouts, ``DelaySeconds`` and the redrive to a dead-letter queue are left to SQS
  (moto implements them).
- ``SchedulePump`` (``Type: ScheduleV2`` / ``Schedule``) fires the function with the ``Input``
  JSON every period of its ``rate(...)`` expression (``cron(...)`` fires every 60 s, ``at(...)``
  never by itself), or every ``schedule_seconds`` when that override is given. The first firing
  comes one period after the start; ``fire()`` triggers one now.

Handler errors are logged with their traceback and never stop a pump; nor do AWS errors (the pump
waits a second and carries on).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import re
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from local_stack import moto_patches
from local_stack.event_filter import matches_any
from local_stack.lambdas import FunctionRuntime, ms_since
from local_stack.template import (
    DEFAULT_REGION,
    DynamoStreamEvent,
    FunctionSpec,
    LocalResources,
    QueueInfo,
    ScheduleEvent,
    SqsEvent,
    TemplateError,
)

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

log = logging.getLogger(__name__)

STREAM_POLL_SECONDS = 0.1
STREAM_IDLE_POLL_SECONDS = 0.25  # Lambda polls a stream shard 4 times a second
STREAM_IDLE_AFTER_SECONDS = 2.0
SHARD_LIST_SECONDS = 5.0  # how long the pump trusts the stream's shard list
SQS_WAIT_SECONDS = 1
CRON_FALLBACK_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 3.0  # then in-flight work is abandoned, as a frozen Lambda would be
ERROR_PAUSE_SECONDS = 1.0
GET_RECORDS_LIMIT = 1000
SQS_MAX_RECEIVE = 10  # ReceiveMessage's MaxNumberOfMessages limit
SQS_DEFAULT_CONCURRENCY = 5  # Lambda's initial pollers for an SQS event source without ScalingConfig

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(second|seconds|minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


# --------------------------------------------------------------------------------------------
# Invocation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Invocation:
    """The outcome of one invocation: ``ok`` with the handler's ``result``, or the ``error`` it raised."""

    ok: bool
    result: Any = None
    error: BaseException | None = None


def invoke(runtime: FunctionRuntime, event: dict[str, Any], source: str) -> Invocation:
    """Invoke through the function's runtime (its lock); log the outcome, with a traceback on error."""
    started = time.perf_counter()
    try:
        result = runtime.invoke(event)
    except (Exception, SystemExit) as error:  # a handler calling sys.exit() is a failed invocation too
        log.error(
            "%s <- %s: the handler raised (%.0f ms)",
            runtime.spec.logical_id,
            source,
            ms_since(started),
            exc_info=True,
        )
        return Invocation(ok=False, error=error)
    log.info("%s <- %s: ok (%.0f ms)", runtime.spec.logical_id, source, ms_since(started))
    return Invocation(ok=True, result=result)


def batch_item_failures(result: Any, identifiers: Sequence[str]) -> set[str] | None:
    """The identifiers a ``ReportBatchItemFailures`` response names, or None if it fails the whole batch.

    Lambda's rules: no response, an empty response or an empty/null ``batchItemFailures`` is full
    success; a malformed response, or an ``itemIdentifier`` that is missing, empty or not in the
    batch, is a failure of the whole batch.
    """
    if result is None:
        return set()
    if not isinstance(result, Mapping):
        return None
    failures = result.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return None
    known = set(identifiers)
    failed: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
        if not isinstance(identifier, str) or identifier not in known:
            return None
        failed.add(identifier)
    return failed


# --------------------------------------------------------------------------------------------
# Pump base
# --------------------------------------------------------------------------------------------


class Pump:
    """A daemon thread running ``step()`` until stopped; ``step`` returns how long to wait next."""

    kind = "pump"

    def __init__(self, runtime: FunctionRuntime, name: str) -> None:
        self.runtime = runtime
        self.name = name
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def function(self) -> str:
        return self.runtime.spec.logical_id

    def describe(self) -> str:
        return f"{self.name} -> {self.function}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"pump {self.describe()}", daemon=True)
            self._thread.start()

    def request_stop(self) -> None:
        self._stopping.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True if it has (or never started)."""
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return False
            self._thread = None
        return True

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> bool:
        self.request_stop()
        return self.join(timeout)

    def step(self) -> float:  # pragma: no cover - every pump overrides it
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                delay = self.step()
            except Exception:
                log.exception("pump %s failed; retrying in %.0f s", self.describe(), ERROR_PAUSE_SECONDS)
                delay = ERROR_PAUSE_SECONDS
            if delay > 0:
                self._stopping.wait(delay)


# --------------------------------------------------------------------------------------------
# DynamoDB streams
# --------------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    """Attribute values as Lambda's JSON has them: binary (bytes from botocore) becomes base64 text."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(item) for item in value]
    return value


def _epoch_seconds(value: Any) -> int | float:
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, int | float):
        return value
    return int(time.time())


def lambda_stream_record(raw: Mapping[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A GetRecords record in the shape Lambda delivers it in a DynamoDB stream event."""
    stream = dict(raw.get("dynamodb") or {})
    stream["ApproximateCreationDateTime"] = _epoch_seconds(stream.get("ApproximateCreationDateTime"))
    for key in ("Keys", "NewImage", "OldImage"):
        if key in stream:
            stream[key] = _jsonable(stream[key])
    record: dict[str, Any] = {
        "eventID": raw.get("eventID") or uuid.uuid4().hex,
        "eventName": raw.get("eventName"),
        "eventVersion": raw.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": stream,
        "eventSourceARN": stream_arn,
    }
    if raw.get("userIdentity"):
        record["userIdentity"] = dict(raw["userIdentity"])
    return record


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _forget_moto_shard_iterators(iterators: Iterable[str | None]) -> None:
    """moto keeps every shard iterator it ever handed out; with one poll every 100 ms that grows by
    megabytes an hour. When moto runs in this process, drop the ones this pump is done with."""
    models = sys.modules.get("moto.dynamodbstreams.models")
    if models is None:
        return
    try:
        for account in list(models.dynamodbstreams_backends.values()):
            for backend in list(account.values()):
                for arn in iterators:
                    if arn:
                        backend.shard_iterators.pop(arn, None)
    except Exception:  # pragma: no cover - moto internals changed: only memory is at stake
        log.debug("could not prune moto's shard iterators", exc_info=True)


class DynamoStreamPump(Pump):
    kind = "stream"

    def __init__(
        self,
        runtime: FunctionRuntime,
        source: DynamoStreamEvent,
        stream_arn: str,
        streams_client: Any,
        *,
        region: str = DEFAULT_REGION,
        sqs_client: SQSClient | None = None,
        failure_queue_url: str | None = None,
        poll_seconds: float = STREAM_POLL_SECONDS,
        idle_poll_seconds: float = STREAM_IDLE_POLL_SECONDS,
        retry_seconds: float = 0.1,
        max_retry_seconds: float = 1.0,
    ) -> None:
        super().__init__(runtime, f"stream {source.table}")
        self.source = source
        self.stream_arn = stream_arn
        self.streams = streams_client
        self.region = region
        self.sqs = sqs_client
        self.failure_queue_url = failure_queue_url
        self.poll_seconds = poll_seconds
        self.idle_poll_seconds = max(poll_seconds, idle_poll_seconds)
        self.retry_seconds = retry_seconds
        self.max_retry_seconds = max_retry_seconds
        self._positioned = False
        self._positions: dict[str, str] = {}  # shard id -> last sequence number read
        self._pending: dict[str, list[dict[str, Any]]] = {}  # read, kept by the filter, not done yet
        self._attempts: dict[str, int] = {}  # shard id -> failed invocations of the pending head
        self._limit: dict[str, int] = {}  # shard id -> batch size after bisecting
        self._retry_at: dict[str, float] = {}  # shard id -> monotonic time of the next attempt
        self._shards: tuple[float, list[str]] | None = None  # (monotonic time listed, shard ids)
        self._active_at = time.monotonic()  # when records last arrived (or were pending)
        self.table_name = stream_arn.split(":", 5)[-1].split("/")[1] if ":table/" in stream_arn else source.table
        self.reader_id = f"{runtime.spec.logical_id}/{source.event_id}"
        moto_patches.register_stream_reader(self.table_name, self.reader_id)

    def step(self) -> float:
        if self.poll_once() or any(self._pending.values()):
            self._active_at = time.monotonic()
        idle = time.monotonic() - self._active_at > STREAM_IDLE_AFTER_SECONDS
        return self.idle_poll_seconds if idle else self.poll_seconds

    def poll_once(self) -> int:
        """Read every shard's new records and deliver what is due; return how many records were read
        (tests call this directly)."""
        if not self._positioned:
            self._position()
        read = 0
        for shard_id in self._shard_ids():
            read += self._read(shard_id)
            self._drain(shard_id)
        return read

    # -- reading ------------------------------------------------------------------------------
    def _shard_ids(self) -> list[str]:
        now = time.monotonic()
        if self._shards is None or now - self._shards[0] > SHARD_LIST_SECONDS:
            self._shards = (now, self._list_shards())
        return self._shards[1]

    def _list_shards(self) -> list[str]:
        shards: list[dict[str, Any]] = []
        arguments: dict[str, Any] = {"StreamArn": self.stream_arn}
        while True:
            description = self.streams.describe_stream(**arguments)["StreamDescription"]
            shards.extend(description.get("Shards") or [])
            last = description.get("LastEvaluatedShardId")
            if not last:
                break
            arguments["ExclusiveStartShardId"] = last
        known = {shard["ShardId"] for shard in shards}
        ordered: list[str] = []
        while len(ordered) < len(shards):  # parents before children
            progressed = False
            for shard in shards:
                shard_id, parent = shard["ShardId"], shard.get("ParentShardId")
                if shard_id not in ordered and (parent not in known or parent in ordered):
                    ordered.append(shard_id)
                    progressed = True
            if not progressed:  # pragma: no cover - a parent cycle cannot happen
                ordered.extend(shard["ShardId"] for shard in shards if shard["ShardId"] not in ordered)
        return ordered

    def _position(self) -> None:
        """LATEST: skip what is in the stream now; TRIM_HORIZON: start from the oldest record."""
        if self.source.starting_position == "LATEST":
            for shard_id in self._list_shards():
                for raw in self._records_after(shard_id):
                    self._positions[shard_id] = raw["dynamodb"]["SequenceNumber"]
        self._positioned = True

    def _records_after(self, shard_id: str) -> Iterator[dict[str, Any]]:
        """Every record after the shard's position. A fresh iterator each time: moto replaces a
        table's stream shard when a transaction fails, and old iterators then see nothing new."""
        position = self._positions.get(shard_id)
        arguments: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": shard_id}
        if position is None:
            arguments["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            arguments.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=position)
        iterator: str | None = self.streams.get_shard_iterator(**arguments)["ShardIterator"]
        used: list[str | None] = [iterator]
        try:
            while iterator:
                response = self.streams.get_records(ShardIterator=iterator, Limit=GET_RECORDS_LIMIT)
                iterator = response.get("NextShardIterator")
                used.append(iterator)
                if not response.get("Records"):
                    break
                yield from response["Records"]
        finally:
            _forget_moto_shard_iterators(used)

    def _read(self, shard_id: str) -> int:
        pending = self._pending.setdefault(shard_id, [])
        read = 0
        for raw in self._records_after(shard_id):
            read += 1
            self._positions[shard_id] = raw["dynamodb"]["SequenceNumber"]
            record = lambda_stream_record(raw, self.stream_arn, self.region)
            if matches_any(self.source.filter_patterns, record):
                pending.append(record)
        if read:
            self._release(shard_id)
        return read

    def _release(self, shard_id: str) -> None:
        """Tell moto which records this pump is done with (delivered, or not matching its filter):
        once every reader is done with a record, moto drops it. Pending ones stay (and are snapshotted)."""
        position = self._positions.get(shard_id)
        if position is None:
            return
        pending = self._pending.get(shard_id)
        done = int(pending[0]["dynamodb"]["SequenceNumber"]) - 1 if pending else int(position)
        moto_patches.release_stream_records(self.table_name, self.reader_id, done)

    # -- delivering ---------------------------------------------------------------------------
    def _drain(self, shard_id: str) -> None:
        pending = self._pending.get(shard_id) or []
        while pending and not self.stopping:
            if time.monotonic() < self._retry_at.get(shard_id, 0.0):
                return
            batch = pending[: self._limit.get(shard_id, self.source.batch_size)]
            outcome = invoke(self.runtime, {"Records": batch}, f"{self.name} ({len(batch)} records)")
            failed_from, whole_batch = self._failed(outcome, batch)
            if failed_from is None:
                del pending[: len(batch)]
                self._reset(shard_id)
                self._release(shard_id)
                continue
            del pending[:failed_from]  # what precedes the first failure is done (Lambda checkpoints)
            failed = batch[failed_from:]
            attempts = 1 if failed_from else self._attempts.get(shard_id, 0) + 1
            retries = self.source.maximum_retry_attempts
            if 0 <= retries < attempts:
                self._give_up(shard_id, failed, attempts, outcome)
                del pending[: len(failed)]
                self._reset(shard_id)
                self._release(shard_id)
                continue
            self._attempts[shard_id] = attempts
            if whole_batch and self.source.bisect_batch_on_function_error and len(batch) > 1:
                self._limit[shard_id] = (len(batch) + 1) // 2
            delay = min(self.retry_seconds * 2 ** (attempts - 1), self.max_retry_seconds)
            self._retry_at[shard_id] = time.monotonic() + delay
            log.warning(
                "%s <- %s: %d record(s) from sequence number %s failed (attempt %d, %s); retrying in %.1f s",
                self.function,
                self.name,
                len(failed),
                failed[0]["dynamodb"]["SequenceNumber"],
                attempts,
                "retrying forever" if retries < 0 else f"at most {retries} retries",
                delay,
            )
            return

    def _reset(self, shard_id: str) -> None:
        self._attempts.pop(shard_id, None)
        self._limit.pop(shard_id, None)
        self._retry_at.pop(shard_id, None)

    def _failed(self, outcome: Invocation, batch: list[dict[str, Any]]) -> tuple[int | None, bool]:
        """(index of the first record to retry or None if all succeeded, whether the batch failed as a whole)."""
        if not outcome.ok:
            return 0, True
        if not self.source.report_batch_item_failures:
            return None, False
        sequence_numbers = [record["dynamodb"]["SequenceNumber"] for record in batch]
        failed = batch_item_failures(outcome.result, sequence_numbers)
        if failed is None:
            log.error(
                "%s <- %s: invalid batchItemFailures response %r; the whole batch failed",
                self.function,
                self.name,
                outcome.result,
            )
            return 0, True
        if not failed:
            return None, False
        return min(index for index, number in enumerate(sequence_numbers) if number in failed), False

    def _give_up(self, shard_id: str, failed: list[dict[str, Any]], attempts: int, outcome: Invocation) -> None:
        first, last = failed[0]["dynamodb"], failed[-1]["dynamodb"]
        if self.sqs is None or self.failure_queue_url is None:
            log.error(
                "%s <- %s: retries exhausted, %d record(s) %s..%s discarded (no OnFailure destination)",
                self.function,
                self.name,
                len(failed),
                first["SequenceNumber"],
                last["SequenceNumber"],
            )
            return
        response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if not outcome.ok:
            response_context["functionError"] = "Unhandled"
        document = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.runtime.arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": response_context,
            "version": "1.0",
            "timestamp": _iso(time.time()),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(first["ApproximateCreationDateTime"]),
                "approximateArrivalOfLastRecord": _iso(last["ApproximateCreationDateTime"]),
                "batchSize": len(failed),
                "streamArn": self.stream_arn,
            },
        }
        try:
            self.sqs.send_message(QueueUrl=self.failure_queue_url, MessageBody=json.dumps(document))
        except Exception:
            log.exception("%s <- %s: could not send the failure record to the OnFailure queue", self.function, self.name)
            return
        log.error(
            "%s <- %s: retries exhausted after %d attempt(s); %d record(s) %s..%s sent to the OnFailure queue",
            self.function,
            self.name,
            attempts,
            len(failed),
            first["SequenceNumber"],
            last["SequenceNumber"],
        )


# --------------------------------------------------------------------------------------------
# SQS
# --------------------------------------------------------------------------------------------


def _lambda_message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = _jsonable(value["BinaryValue"])
    attribute["stringListValues"] = list(value.get("StringListValues") or [])
    attribute["binaryListValues"] = _jsonable(list(value.get("BinaryListValues") or []))
    attribute["dataType"] = value.get("DataType", "String")
    return attribute


def lambda_sqs_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """A ReceiveMessage message in the shape Lambda delivers it in an SQS event."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": {
            name: _lambda_message_attribute(value) for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _filter_view(record: Mapping[str, Any]) -> dict[str, Any]:
    """What SQS filter patterns see: the body parsed when it is JSON, else the body text."""
    view = dict(record)
    with contextlib.suppress(TypeError, ValueError):
        view["body"] = json.loads(record["body"])
    return view


class SqsPump(Pump):
    kind = "queue"

    def __init__(
        self,
        runtime: FunctionRuntime,
        source: SqsEvent,
        queue: QueueInfo,
        sqs_client: SQSClient,
        *,
        region: str = DEFAULT_REGION,
        wait_seconds: int = SQS_WAIT_SECONDS,
        concurrency: int | None = None,
    ) -> None:
        super().__init__(runtime, f"queue {source.queue}")
        self.source = source
        self.queue = queue
        self.sqs = sqs_client
        self.region = region
        self.wait_seconds = wait_seconds
        self.concurrency = max(1, concurrency or source.maximum_concurrency or SQS_DEFAULT_CONCURRENCY)
        self._containers: list[FunctionRuntime] = [runtime]  # created as the load needs them
        self._free: list[FunctionRuntime] = [runtime]
        self._free_changed = threading.Condition()
        self.in_flight = 0
        self.peak_in_flight = 0

    def describe(self) -> str:
        return f"{self.name} (up to {self.concurrency} batches at once) -> {self.function}"

    def step(self) -> float:
        if self.concurrency == 1:
            self.poll_once()
            return 0.0  # the long poll paces the loop
        container = self._take_container()
        if container is None:
            return 0.0  # stopping, or still all busy: look again
        try:
            messages = self._receive(self.wait_seconds)
        except BaseException:
            self._give_back(container)
            raise
        if not messages or self.stopping:
            self._give_back(container)  # messages received while stopping reappear after their visibility timeout
            return 0.0
        with self._free_changed:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        threading.Thread(
            target=self._run_batch, args=(container, messages), name=f"{self.describe()} #{container.container}", daemon=True
        ).start()
        return 0.0

    def _take_container(self) -> FunctionRuntime | None:
        with self._free_changed:
            while not self._free and len(self._containers) >= self.concurrency:
                if self.stopping:
                    return None
                self._free_changed.wait(0.25)
            if self._free:
                return self._free.pop()
            container = self.runtime.another_container(len(self._containers))
            self._containers.append(container)
            return container

    def _give_back(self, container: FunctionRuntime) -> None:
        with self._free_changed:
            self._free.append(container)
            self._free_changed.notify()

    def _run_batch(self, container: FunctionRuntime, messages: list[MessageTypeDef]) -> None:
        try:
            self._deliver(messages, container)
        except Exception:
            log.exception("pump %s failed on a batch; its messages come back after their visibility timeout", self.describe())
        finally:
            with self._free_changed:
                self.in_flight -= 1
            self._give_back(container)

    def join(self, timeout: float | None = None) -> bool:
        """The receiver has ended and so has every batch in flight (within ``timeout``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if not super().join(timeout):
            return False
        with self._free_changed:
            while self.in_flight:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._free_changed.wait(remaining if remaining is None else min(remaining, 0.25))
        return True

    def poll_once(self, wait_seconds: int | None = None) -> int:
        """Receive one batch and deliver it (in this thread); return how many messages were received."""
        messages = self._receive(self.wait_seconds if wait_seconds is None else wait_seconds)
        if not messages or self.stopping:
            return len(messages)  # messages received while stopping reappear after their visibility timeout
        self._deliver(messages, self.runtime)
        return len(messages)

    def _deliver(self, messages: list[MessageTypeDef], runtime: FunctionRuntime) -> None:
        records = [lambda_sqs_record(message, self.queue.arn, self.region) for message in messages]
        kept = [record for record in records if matches_any(self.source.filter_patterns, _filter_view(record))]
        kept_ids = {record["messageId"] for record in kept}
        self._delete([record for record in records if record["messageId"] not in kept_ids])  # filtered out
        if not kept:
            return
        outcome = invoke(runtime, {"Records": kept}, f"{self.name} ({len(kept)} messages)")
        if not outcome.ok:
            log.warning(
                "%s <- %s: %d message(s) stay on the queue (visible again after the visibility timeout)",
                self.function,
                self.name,
                len(kept),
            )
            return
        failed: set[str] = set()
        if self.source.report_batch_item_failures:
            reported = batch_item_failures(outcome.result, [record["messageId"] for record in kept])
            if reported is None:
                log.error(
                    "%s <- %s: invalid batchItemFailures response %r; no message is deleted",
                    self.function,
                    self.name,
                    outcome.result,
                )
                return
            failed = reported
        if failed:
            log.warning(
                "%s <- %s: %d of %d message(s) reported failed stay on the queue",
                self.function,
                self.name,
                len(failed),
                len(kept),
            )
        self._delete([record for record in kept if record["messageId"] not in failed])

    def _receive(self, wait_seconds: int) -> list[MessageTypeDef]:
        messages: list[MessageTypeDef] = []
        wait = wait_seconds
        while len(messages) < self.source.batch_size and not self.stopping:
            wanted = min(SQS_MAX_RECEIVE, self.source.batch_size - len(messages))
            received = self.sqs.receive_message(
                QueueUrl=self.queue.url,
                MaxNumberOfMessages=wanted,
                WaitTimeSeconds=wait,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            messages.extend(received)
            if len(received) < wanted:
                break
            wait = 0  # gather a bigger batch from what is already there, without waiting
        return messages

    def _delete(self, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), 10):
            chunk = records[start : start + 10]
            response = self.sqs.delete_message_batch(
                QueueUrl=self.queue.url,
                Entries=[{"Id": str(index), "ReceiptHandle": r["receiptHandle"]} for index, r in enumerate(chunk)],
            )
            for failure in response.get("Failed", []):
                log.warning("%s: could not delete a message: %s", self.name, failure.get("Message", failure))


# --------------------------------------------------------------------------------------------
# Schedules
# --------------------------------------------------------------------------------------------


def rate_seconds(expression: str) -> float | None:
    """The period of a ``rate(N unit)`` expression; None for anything else (cron, at).

    ``ValueError`` for a malformed or zero rate.
    """
    text = expression.strip()
    if not text.startswith("rate("):
        return None
    match = _RATE.match(text)
    if match is None or int(match.group(1)) < 1:
        raise ValueError(f"{expression!r} is not a rate(N minute[s]|second[s]|hour[s]|day[s]) expression")
    return float(int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")])


def schedule_period(expression: str, override: float | None = None) -> float | None:
    """Seconds between firings: the override, the rate, 60 s for cron; None (never) for at(...)."""
    period = rate_seconds(expression)
    if override is not None:
        return override
    if period is not None:
        return period
    if expression.strip().startswith("cron("):
        return CRON_FALLBACK_SECONDS
    return None


class SchedulePump(Pump):
    kind = "schedule"

    def __init__(self, runtime: FunctionRuntime, source: ScheduleEvent, period_seconds: float | None) -> None:
        super().__init__(runtime, f"schedule {source.event_id} {source.expression}")
        self.source = source
        self.period_seconds = period_seconds
        self.fired = 0

    def describe(self) -> str:
        every = "never by itself" if self.period_seconds is None else f"every {self.period_seconds:g} s"
        return f"{self.name} ({every}) -> {self.function}"

    def fire(self) -> Invocation:
        self.fired += 1
        return invoke(self.runtime, self.source.event(), self.name)

    def _run(self) -> None:
        period = self.period_seconds
        if period is None:
            self._stopping.wait()
            return
        next_at = time.monotonic() + period
        while not self._stopping.wait(max(0.0, next_at - time.monotonic())):
            try:
                self.fire()
            except Exception:  # pragma: no cover - invoke() already catches handler errors
                log.exception("pump %s failed", self.describe())
            next_at = max(next_at + period, time.monotonic())  # no burst to catch up after a slow run


# --------------------------------------------------------------------------------------------
# All pumps of a stack
# --------------------------------------------------------------------------------------------


class Pumps:
    """The pumps of a stack: started together, stopped together (all signalled, then joined)."""

    def __init__(self, pumps: Iterable[Pump] = ()) -> None:
        self.pumps = list(pumps)

    def __iter__(self) -> Iterator[Pump]:
        return iter(self.pumps)

    def __len__(self) -> int:
        return len(self.pumps)

    def describe(self) -> list[str]:
        return [pump.describe() for pump in self.pumps]

    def start(self) -> None:
        for pump in self.pumps:
            pump.start()

    def request_stop(self) -> None:
        """Tell every pump to take no new work (returns at once; ``stop`` waits for them)."""
        for pump in self.pumps:
            pump.request_stop()

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> bool:
        """Stop every pump; True if all threads ended within ``timeout`` (shared)."""
        self.request_stop()
        deadline = time.monotonic() + timeout
        stopped = True
        for pump in self.pumps:
            if not pump.join(max(0.0, deadline - time.monotonic())):
                log.warning("pump %s is still busy in its handler; leaving it behind", pump.describe())
                stopped = False
        return stopped

    def fire(self, logical_id: str, event_id: str | None = None) -> Invocation:
        """Fire a schedule of function ``logical_id`` now (its first one, or ``event_id``), in this thread."""
        for pump in self.pumps:
            if (
                isinstance(pump, SchedulePump)
                and pump.function == logical_id
                and (event_id is None or pump.source.event_id == event_id)
            ):
                return pump.fire()
        raise KeyError(f"no schedule for {logical_id}" + (f" event {event_id}" if event_id else ""))


def build_pumps(
    specs: Iterable[FunctionSpec],
    runtimes: Mapping[str, FunctionRuntime],
    resources: LocalResources,
    *,
    region: str = DEFAULT_REGION,
    schedule_seconds: float | None = None,
    session: boto3.session.Session | None = None,
    stream_poll_seconds: float = STREAM_POLL_SECONDS,
    sqs_wait_seconds: int = SQS_WAIT_SECONDS,
) -> Pumps:
    """One pump per emulated event source of ``specs`` (not started). AWS clients come from
    ``session`` (default: a new one, so the environment's endpoint and credentials apply)."""
    import boto3
    from botocore.config import Config

    session = session or boto3.session.Session()
    # The default account-based endpoint (<account>.streams-ddb...) is one moto does not serve.
    streams_config = Config(account_id_endpoint_mode="disabled")
    pumps: list[Pump] = []
    for spec in specs:
        runtime = runtimes[spec.logical_id]
        for stream_event in spec.stream_events:
            stream_arn = resources.stream_arns.get(stream_event.table)
            if stream_arn is None:
                log.warning("%s: table %s has no stream; event not emulated", spec.logical_id, stream_event.table)
                continue
            failure = resources.queues[stream_event.on_failure_queue] if stream_event.on_failure_queue else None
            pumps.append(
                DynamoStreamPump(
                    runtime,
                    stream_event,
                    stream_arn,
                    session.client("dynamodbstreams", region_name=region, config=streams_config),
                    region=region,
                    sqs_client=session.client("sqs", region_name=region) if failure else None,
                    failure_queue_url=failure.url if failure else None,
                    poll_seconds=stream_poll_seconds,
                )
            )
        for sqs_event in spec.sqs_events:
            pumps.append(
                SqsPump(
                    runtime,
                    sqs_event,
                    resources.queues[sqs_event.queue],
                    session.client("sqs", region_name=region),
                    region=region,
                    wait_seconds=sqs_wait_seconds,
                )
            )
        for schedule in spec.schedule_events:
            try:
                period = schedule_period(schedule.expression, schedule_seconds)
            except ValueError as error:
                raise TemplateError(f"{spec.logical_id}.Events.{schedule.event_id}: {error}") from None
            if schedule_seconds is None and rate_seconds(schedule.expression) is None:
                log.warning(
                    "%s: %s is not a rate expression; %s",
                    spec.logical_id,
                    schedule.expression,
                    "firing it every 60 s" if period == CRON_FALLBACK_SECONDS else "it only fires on demand",
                )
            pumps.append(SchedulePump(runtime, schedule, period))
    return Pumps(pumps)
