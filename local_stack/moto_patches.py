"""Make moto's embedded DynamoDB safe to share between threads, and keep its memory flat.

moto 5.x serves each request on its own thread without any locking, and undoes a failed
``TransactWriteItems`` by putting back a deep copy of every touched table taken when the
transaction began: whatever other threads committed in between is erased (acknowledged orders
vanished, outbox events were skipped), and every transaction copies whole tables. Its streams
also keep every record forever. ``install()`` (idempotent, called by the local stack before moto
serves) changes three things:

- every DynamoDB and DynamoDB Streams request runs under one lock (``DYNAMODB_LOCK``), from
  parsing to the serialized response, so a reader never sees a half-applied write and writes are
  linearizable, as DynamoDB promises for single items and transactions;
- ``TransactWriteItems`` and ``UpdateItem`` undo a failure item by item: the items the request
  touched get their prior state back and the stream records it emitted are withdrawn, nothing else;
- SQS: ``ReceiveMessage`` no longer recomputes every queue attribute (counting the whole queue) for
  each message it returns, and the receipt handles of deleted messages are not kept forever;
- stream records that every registered reader has read are dropped (``release_stream_records``),
  with sequence numbers that keep counting, so streams do not grow without bound;
- Query starts from the queried partition instead of sorting the whole table on every call;
- moto no longer keeps every model object it ever created (``instances_tracked``, for its dashboard);
- an UpdateExpression string is parsed once, not twice per UpdateItem, and the validator's copy of
  the tree is unpickled instead of deep-copied.
"""

from __future__ import annotations

import copy
import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

DYNAMODB_LOCK = threading.RLock()

_installed = False
_install_lock = threading.Lock()
# stream shard id(table) -> reader name -> last sequence number the reader has taken
_readers: dict[str, dict[str, int]] = {}


def install() -> None:
    """Apply the patches to the imported moto (once per process)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        from moto.dynamodb.models import DynamoDBBackend
        from moto.dynamodb.models.table import StreamShard, Table
        from moto.dynamodb.responses import DynamoHandler
        from moto.dynamodbstreams.models import ShardIterator
        from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

        for handler in (DynamoHandler, DynamoDBStreamsHandler):
            handler.call_action = _locked(handler.call_action)  # type: ignore[method-assign]
        DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
        DynamoDBBackend.update_item = _undo_on_failure(DynamoDBBackend.update_item)  # type: ignore[method-assign]
        DynamoDBBackend.put_item = _locked(DynamoDBBackend.put_item)  # type: ignore[method-assign]
        DynamoDBBackend.delete_item = _locked(DynamoDBBackend.delete_item)  # type: ignore[method-assign]
        Table.query = _query_candidates(Table.query)  # type: ignore[method-assign]
        StreamShard.add = _shard_add  # type: ignore[method-assign]
        StreamShard.get = _shard_get  # type: ignore[method-assign]
        ShardIterator.__init__ = _iterator_init(ShardIterator.__init__)  # type: ignore[method-assign]
        _patch_sqs()
        _patch_server()
        _stop_tracking_instances()
        _cache_update_expressions()
        _installed = True


def _locked(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with DYNAMODB_LOCK:
            return method(*args, **kwargs)

    return wrapper


# -- moto's instance tracking ---------------------------------------------------------------------


def _stop_tracking_instances() -> None:
    """moto's ``BaseModel.__new__`` appends every model object it ever creates to its class's
    ``instances_tracked`` list, for its dashboard (``/moto-api/data.json``): every DynamoDB ``Item``
    (each Query result and each UpdateItem makes deep copies), every ``StreamRecord``, every SQS
    ``Message``, kept for the life of the process. That list was most of the local stack's growth:
    40,000 items held for 3,300 stored after 400 orders. Objects are no longer tracked (the dashboard
    lists nothing; the stack does not serve it) and what was tracked is let go."""
    from moto.core.common_models import BaseModel
    from moto.core.model_instances import model_data

    def __new__(cls: Any, *args: Any, **kwargs: Any) -> Any:
        return super(BaseModel, cls).__new__(cls)

    BaseModel.__new__ = __new__  # type: ignore[method-assign]
    for models in model_data.values():
        for model in models.values():
            tracked = getattr(model, "instances_tracked", None)
            if isinstance(tracked, list):
                tracked.clear()


def tracked_instances() -> int:
    """How many model objects moto's dashboard lists keep (0 once installed; diagnostics and tests)."""
    from moto.core.model_instances import model_data

    return sum(len(getattr(model, "instances_tracked", ())) for models in model_data.values() for model in models.values())


# -- UpdateItem: each expression parsed once ----------------------------------------------------

UPDATE_EXPRESSIONS_CACHED = 512


def _cache_update_expressions() -> None:
    """moto parses an UpdateExpression twice per UpdateItem (the handler and the backend each call
    ``UpdateExpressionParser.make``), and its validator then deep-copies the tree (``copy.deepcopy``,
    slower than the parse) to work on. The hub's expressions are a few fixed strings with
    placeholders, and the parsed tree is never changed in place (the validator works on its copy; the
    handler only reads it): each string is parsed once, pickled once, and the validator's copy is
    unpickled (a fifth of the deep copy's time)."""
    import pickle

    from moto.dynamodb.parsing import expressions, validators

    UpdateExpressionParser: Any = expressions.UpdateExpressionParser  # type: ignore[attr-defined]
    parse = UpdateExpressionParser.make.__func__

    @functools.lru_cache(maxsize=UPDATE_EXPRESSIONS_CACHED)
    def parsed(expression: str) -> Any:
        tree = parse(UpdateExpressionParser, expression)
        tree.__dict__[_PICKLED] = pickle.dumps(tree, pickle.HIGHEST_PROTOCOL)  # its copies do not carry it
        return tree

    def make(cls: Any, expression: str) -> Any:
        if cls is UpdateExpressionParser and isinstance(expression, str):
            return parsed(expression)
        return parse(cls, expression)

    def copy_tree(tree: Any) -> Any:
        data = getattr(tree, "__dict__", {}).get(_PICKLED)
        return pickle.loads(data) if data is not None else copy.deepcopy(tree)

    original_init = validators.Validator.__init__

    def init(self: Any, expression: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, _NO_TREE, *args, **kwargs)  # everything but the copy of the tree
        self.node_to_validate = copy_tree(expression)

    UpdateExpressionParser.make = classmethod(make)
    UpdateExpressionParser.parsed = parsed  # cache_info() for tests
    validators.Validator.__init__ = init  # type: ignore[method-assign]


_PICKLED = "_hub_pickled_tree"
_NO_TREE = None  # what moto's Validator.__init__ deep-copies instead of the tree (cheap)


# -- Query: the partition, not the whole table sorted ----------------------------------------------


def query_candidates(table: Any, hash_key: Any, index_name: str | None) -> list[Any]:
    """The items a Query can match: a table query's partition, or (a GSI/LSI query) every item, unsorted."""
    if index_name is None and hash_key is not None:
        bucket = table.items.get(hash_key)  # a defaultdict: ``get`` adds no empty partition
        if bucket is None:
            return []
        return list(bucket.values()) if table.range_key_attr else [bucket]
    if table.range_key_attr:
        return [item for bucket in list(table.items.values()) for item in bucket.values()]
    return list(table.items.values())


def _query_candidates(query: Callable[..., Any]) -> Callable[..., Any]:
    """moto's ``Table.query`` starts from ``all_items()``: every item of the table, sorted, for each
    call, even for one partition; it then filters and sorts the matches itself. With thousands of
    orders every Query (a delivery's earlier deliveries, an order's events, a page of the list) cost
    a sort of the whole table. It now starts from the partition (or, for an index, the unsorted
    items). The result is the same: moto sorts what matched."""

    @functools.wraps(query)
    def wrapper(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        with DYNAMODB_LOCK:
            candidates = query_candidates(self, hash_key, index_name)
            self.all_items = lambda: candidates  # this call only (every DynamoDB request holds the lock)
            try:
                return query(self, hash_key, *args, **kwargs)
            finally:
                del self.all_items

    return wrapper


# -- undo per item -------------------------------------------------------------------------------


@dataclass
class _Prior:
    table: Any
    hash_key: Any
    range_key: Any
    item: Any  # a deep copy of the item before the request, or None if it did not exist


class _UndoLog:
    """The prior state of each item a request may touch, and each stream's length before it."""

    def __init__(self) -> None:
        self.priors: list[_Prior] = []
        self.streams: dict[int, tuple[Any, int]] = {}

    def remember(self, table: Any, hash_key: Any, range_key: Any) -> None:
        current = table.get_item(hash_key, range_key)
        self.priors.append(_Prior(table, hash_key, range_key, copy.deepcopy(current)))
        shard = table.stream_shard
        if shard is not None and id(shard) not in self.streams:
            self.streams[id(shard)] = (shard, len(shard.items))

    def undo(self) -> None:
        for prior in reversed(self.priors):
            table, hash_key, range_key = prior.table, prior.hash_key, prior.range_key
            if table.has_range_key:
                bucket = table.items[hash_key]
                if prior.item is None:
                    bucket.pop(range_key, None)
                    if not bucket:
                        table.items.pop(hash_key, None)
                else:
                    bucket[range_key] = prior.item
            elif prior.item is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = prior.item
        for shard, length in self.streams.values():
            del shard.items[length:]  # the records of writes that did not happen


def _key_of(backend: Any, op_type: str, op: dict[str, Any]) -> tuple[Any, Any, Any] | None:
    """(table, hash key, range key) an operation targets, or None when moto will reject it anyway."""
    table = backend.tables.get(op.get("TableName"))
    if table is None:
        return None
    try:
        key = op["Key"] if op_type != "Put" else op["Item"]
        return (table, *backend.get_keys_value(table, key))
    except Exception:
        return None


@contextmanager
def _undo_scope(undo: _UndoLog) -> Iterator[None]:
    try:
        yield
    except BaseException:
        undo.undo()
        raise


def _undo_on_failure(update_item: Callable[..., Any]) -> Callable[..., Any]:
    """moto applies an update expression to the stored item in place; if it then fails (e.g. the
    item grows over 400 KB) the item stays changed. Put it back."""

    @functools.wraps(update_item)
    def wrapper(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        with DYNAMODB_LOCK:
            undo = _UndoLog()
            target = _key_of(self, "Update", {"TableName": table_name, "Key": key})
            if target is not None:
                undo.remember(*target)
            with _undo_scope(undo):
                return update_item(self, table_name, key, *args, **kwargs)

    return wrapper


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto's TransactWriteItems, undone item by item instead of by restoring table copies."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    with DYNAMODB_LOCK:
        undo = _UndoLog()
        for entry in transact_items:
            if len(entry) == 1:
                op_type, op = next(iter(entry.items()))
                target = _key_of(self, op_type, op)
                if target is not None and op_type != "ConditionCheck":
                    undo.remember(*target)
        target_items: set[tuple[str, str]] = set()
        errors: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
        for entry in transact_items:
            original_item: dict[str, Any] | None = None
            if len(list(entry.keys())) > 1:
                undo.undo()
                raise TransactWriteSingleOpException
            try:
                op_type, op = next(iter(entry.items()))
                if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                    raise ValueError("Unsupported transaction operation")
                table_name = op["TableName"]
                condition_expression = op.get("ConditionExpression")
                names = op.get("ExpressionAttributeNames")
                values = op.get("ExpressionAttributeValues")
                if op_type == "Put":
                    attrs = op["Item"]
                    table = self.get_table(table_name)
                    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = attrs[table.range_key_attr]
                else:
                    key = op["Key"]
                unique = (str(table_name), str(dict(sorted(key.items()))))
                if unique in target_items:
                    raise MultipleTransactionsException()
                target_items.add(unique)
                current = self.get_item(table_name, key)
                if condition_expression is not None:
                    condition = get_filter_expression(condition_expression, names, values)
                    if not condition.expr(current):
                        if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                            original_item = current.to_json()["Attributes"]
                        raise ConditionalCheckFailed(item=original_item)
                common = {
                    "condition_expression": condition_expression,
                    "expression_attribute_names": names,
                    "expression_attribute_values": values,
                }
                if op_type == "Put":
                    self.put_item(table_name, op["Item"], **common)
                elif op_type == "Delete":
                    self.delete_item(table_name, key, **common)
                elif op_type == "Update":
                    self.update_item(table_name, key, update_expression=op["UpdateExpression"], **common)
                errors.append((None, None, None))
            except (MultipleTransactionsException, MockValidationException):
                undo.undo()
                raise
            except ConditionalCheckFailed as error:
                errors.append(("ConditionalCheckFailed", str(error.message), original_item))
            except Exception as error:
                errors.append((type(error).__name__, str(error), original_item))
        if any(code is not None for code, _, _ in errors):
            undo.undo()
            raise TransactionCanceledException(errors)


# -- the HTTP server: keep-alive, and no directory listing per request ------------------------------

KEEP_ALIVE_MAX_BODY = 16 * 1024 * 1024  # a request body this large or larger is read as werkzeug does


def _patch_server() -> None:
    """Two costs of moto's server paid on every call, which the stack makes thousands of a minute.

    - werkzeug's development server answers every request with ``Connection: close`` (http.server
      cannot drain a body the application left unread), so each AWS call opened a new TCP
      connection and a new server thread. The handler now reads a request's whole body (when it has
      a ``Content-Length``: every AWS SDK request) before the application runs, so nothing is left
      unread, and keeps the connection for the SDK's next call. werkzeug's drain after the response
      (``rfile.read(10_000_000)`` while the socket is readable) would swallow that next request: on
      a kept connection it reads nothing.
    - moto finds a request's service by listing its own package directory (``os.listdir`` and one
      ``isdir`` per service) on every request; that list never changes while the process runs.
    """
    import io
    import socket

    from moto import backends
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules

    original_setup = MotoRequestHandler.setup
    original_make_environ = MotoRequestHandler.make_environ
    original_send_header = MotoRequestHandler.send_header

    class _Input:
        """The connection's reader; its drain read is empty while the current request keeps it open."""

        def __init__(self, handler: Any, raw: Any) -> None:
            self._handler = handler
            self._raw = raw

        def read(self, size: int = -1) -> bytes:
            if size == _WERKZEUG_DRAIN and getattr(self._handler, "_hub_keep_alive", False):
                return b""
            return bytes(self._raw.read(size))

        def __getattr__(self, name: str) -> Any:
            return getattr(self._raw, name)

    def setup(self: Any) -> None:
        original_setup(self)
        # headers and body go out in separate writes: without this, a kept connection waits for
        # the client's delayed ACK (40 ms) before each response's second write
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile = _Input(self, self.rfile)

    def make_environ(self: Any) -> dict[str, Any]:
        self._hub_keep_alive = False
        environ: dict[str, Any] = original_make_environ(self)
        length = environ.get("CONTENT_LENGTH") or "0"
        if "chunked" not in (environ.get("HTTP_TRANSFER_ENCODING") or "").lower() and length.isdigit():
            size = int(length)
            if size < KEEP_ALIVE_MAX_BODY:
                body = self.rfile.read(size) if size else b""
                environ["wsgi.input"] = io.BytesIO(body)
                self._hub_keep_alive = len(body) == size and not self.close_connection
        return environ

    def send_header(self: Any, keyword: str, value: str) -> None:
        if keyword.lower() == "connection" and value.lower() == "close" and getattr(self, "_hub_keep_alive", False):
            return  # the body was read whole: the connection can serve the next request
        original_send_header(self, keyword, value)

    MotoRequestHandler.setup = setup  # type: ignore[method-assign]
    MotoRequestHandler.make_environ = make_environ  # type: ignore[method-assign]
    MotoRequestHandler.send_header = send_header  # type: ignore[method-assign]


_WERKZEUG_DRAIN = 10_000_000  # the size werkzeug's post-response drain reads with


# -- in-process calls: no HTTP between the functions and moto -------------------------------------

_in_process: dict[str, Any] = {}  # moto endpoint ("http://127.0.0.1:port") -> its WSGI application
_in_process_lock = threading.Lock()


def serve_in_process(endpoint: str, application: Any) -> None:
    """AWS calls this process makes to ``endpoint`` go straight to moto's WSGI ``application``.

    The functions run in the same process as moto: over HTTP each call paid for a request written
    and parsed on both sides, a socket and a server thread, more than moto's own work. botocore's
    ``before-send`` event (what moto's ``mock_aws`` uses) hands the signed request to the
    application here instead; everything from the request on (moto's routing, its responses,
    the IAM check on the client side) is what it was. Other processes (tests, ``hub-admin``) still
    use the HTTP endpoint."""
    from botocore.handlers import BUILTIN_HANDLERS

    with _in_process_lock:
        _in_process[endpoint.rstrip("/")] = application
        if ("before-send", _send_in_process) not in BUILTIN_HANDLERS:
            BUILTIN_HANDLERS.append(("before-send", _send_in_process))  # every session created from now on
            import boto3

            if boto3.DEFAULT_SESSION is not None:  # and clients of the default session made from now on
                boto3.DEFAULT_SESSION.events.register("before-send", _send_in_process)


def stop_serving_in_process(endpoint: str) -> None:
    with _in_process_lock:
        _in_process.pop(endpoint.rstrip("/"), None)


def _send_in_process(request: Any, **_: Any) -> Any:
    url = str(request.url)
    for base, application in list(_in_process.items()):
        if url == base or url.startswith(base + "/") or url.startswith(base + "?"):
            return _call_application(application, base, request)
    return None  # not ours: botocore sends it


def _call_application(application: Any, base: str, request: Any) -> Any:
    from urllib.parse import urlsplit

    from botocore.awsrequest import AWSResponse, HTTPHeaders
    from moto.core.botocore_stubber import MockRawResponse
    from werkzeug.test import EnvironBuilder, run_wsgi_app

    body = request.body
    if body is None:
        data = b""
    elif hasattr(body, "read"):
        data = body.read()
    else:
        data = body.encode() if isinstance(body, str) else bytes(body)
    headers = {name: value.decode() if isinstance(value, bytes) else str(value) for name, value in request.headers.items()}
    target = urlsplit(str(request.url))
    environ = EnvironBuilder(
        method=request.method,
        base_url=base,
        path=target.path or "/",
        query_string=target.query,
        headers=headers,
        data=data,
    ).get_environ()
    chunks, status, response_headers = run_wsgi_app(application, environ)
    try:
        content = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    headers_out = HTTPHeaders()
    for name, value in response_headers.items():
        headers_out[name] = value
    return AWSResponse(str(request.url), int(status.split(" ", 1)[0]), headers_out, MockRawResponse(content))


# -- SQS ------------------------------------------------------------------------------------------

DELETED_HANDLES_KEPT = 50_000  # moto remembers deleted receipt handles so that a second delete succeeds


def _patch_sqs() -> None:
    from moto.sqs.models import Queue, SQSBackend

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention + message.sent_timestamp / 1000 > time.time())

    original_delete = Queue.delete_message

    def delete_message(self: Any, receipt_handle: str) -> None:
        original_delete(self, receipt_handle)
        if len(self.deleted_messages) > DELETED_HANDLES_KEPT:
            self.deleted_messages.clear()  # deleting one of those again now fails like an expired handle

    SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period  # type: ignore[method-assign]
    Queue.delete_message = delete_message  # type: ignore[method-assign]
    # SendMessage reads ``queue.attributes`` (for ContentBasedDeduplication only), and moto builds
    # that dict with every approximate count, each counting the whole queue: quadratic in the backlog.
    full_attributes: property = Queue.__dict__["attributes"]
    original_send = SQSBackend.send_message

    def attributes(self: Any) -> dict[str, Any]:
        if getattr(_sending, "active", False):
            value = self.content_based_deduplication
            return {"ContentBasedDeduplication": str(value).lower() if isinstance(value, bool) else value}
        return full_attributes.fget(self)  # type: ignore[misc]

    def send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        _sending.active = True
        try:
            return original_send(self, *args, **kwargs)
        finally:
            _sending.active = False

    Queue.attributes = property(attributes)  # type: ignore[assignment,method-assign]
    SQSBackend.send_message = send_message  # type: ignore[method-assign]


_sending = threading.local()


# -- streams: sequence numbers that survive trimming ---------------------------------------------


def trimmed(shard: Any) -> int:
    """How many records were dropped from the front of ``shard`` (its sequence numbers keep counting)."""
    return int(getattr(shard, "trimmed_records", 0))


def _shard_add(self: Any, old: Any, new: Any) -> None:
    from moto.dynamodb.models.table import StreamRecord

    stream_type = self.table.stream_specification["StreamViewType"]
    event_name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    sequence = self.starting_sequence_number + trimmed(self) + len(self.items)
    self.items.append(StreamRecord(self.table, stream_type, event_name, old, new, sequence))


def _shard_get(self: Any, start: int, quantity: int) -> list[dict[str, Any]]:
    index = max(0, start - self.starting_sequence_number - trimmed(self))  # trimmed: like AWS after 24 h
    return [record.to_json() for record in self.items[index : index + quantity]]


def _iterator_init(init: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(init)
    def wrapper(self: Any, streams_backend: Any, stream_shard: Any, shard_iterator_type: str, *args: Any) -> None:
        init(self, streams_backend, stream_shard, shard_iterator_type, *args)
        if shard_iterator_type == "LATEST":
            self.sequence_number += trimmed(stream_shard)

    return wrapper


def register_stream_reader(table_name: str, reader: str) -> None:
    """Declare that ``reader`` consumes ``table_name``'s stream from now on (from its start): nothing it
    has not released is dropped. Registering again starts that reader over."""
    with DYNAMODB_LOCK:
        _readers.setdefault(table_name, {})[reader] = 0


def release_stream_records(table_name: str, reader: str, sequence_number: int) -> int:
    """``reader`` has taken every record up to ``sequence_number``; drop what all readers have taken.
    Returns how many records were dropped (0 when moto does not run in this process, or runs unpatched:
    its own stream reads would then misnumber the records)."""
    import sys

    models = sys.modules.get("moto.dynamodb.models")
    if models is None or not _installed:
        return 0
    with DYNAMODB_LOCK:
        readers = _readers.setdefault(table_name, {})
        readers[reader] = max(readers.get(reader, 0), sequence_number)
        floor = min(readers.values())
        dropped = 0
        for account in list(models.dynamodb_backends.values()):
            for backend in list(account.values()):
                table = backend.tables.get(table_name)
                shard = getattr(table, "stream_shard", None)
                if shard is None:
                    continue
                count = floor - shard.starting_sequence_number - trimmed(shard) + 1
                count = max(0, min(count, len(shard.items)))
                if count:
                    del shard.items[:count]
                    shard.trimmed_records = trimmed(shard) + count
                    dropped += count
        return dropped


def stream_length(table_name: str) -> int:
    """How many records ``table_name``'s stream keeps now (diagnostics and tests)."""
    import sys

    models = sys.modules.get("moto.dynamodb.models")
    if models is None:
        return 0
    with DYNAMODB_LOCK:
        return sum(
            len(table.stream_shard.items)
            for account in list(models.dynamodb_backends.values())
            for backend in list(account.values())
            if (table := backend.tables.get(table_name)) is not None and table.stream_shard is not None
        )
