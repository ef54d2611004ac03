"""The local stack's state on disk: what moto holds, saved into the state folder and read back.

``take_snapshot`` reads the in-process moto backends (the stack's tables with their unread stream
records, its queues' messages, every secret) and ``write_snapshot`` stores them as gzipped JSON,
atomically (``<state-dir>/state.json.gz``), together with the demo set-up (keys, ports, secrets of
the WMS simulator and the demo receiver). ``restore`` puts them into a freshly started moto before
any function runs: items go in without stream records (they were streamed before), unread stream
records and queued messages are put back, secrets are created again.

``StateLock`` holds ``<state-dir>/stack.lock`` (an exclusive ``flock`` with the owner's pid) for the
stack's lifetime: a second stack on the same folder refuses to start instead of clobbering it.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import gzip
import json
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from local_stack import moto_patches

SNAPSHOT_FILE = "state.json.gz"
LOCK_FILE = "stack.lock"
FORMAT_VERSION = 1


class StateLocked(RuntimeError):
    """Another process holds the state folder."""


class StateLock:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_FILE
        self._descriptor: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            owner = os.read(descriptor, 64).decode(errors="replace").strip() or "?"
            os.close(descriptor)
            raise StateLocked(
                f"another local stack (pid {owner}) is using {self.path.parent}; stop it, "
                "or give this one its own folder with --state-dir"
            ) from None
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())
        self._descriptor = descriptor

    def release(self) -> None:
        if self._descriptor is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            os.close(self._descriptor)  # closing drops the flock
            self._descriptor = None


@dataclass
class Snapshot:
    """What ``take_snapshot`` read. Items and stream records it took are ``RawJson`` (their JSON text,
    written as they are); what ``read_snapshot`` gives back are plain dicts."""

    saved_at: float = field(default_factory=time.time)
    tables: dict[str, list[Any]] = field(default_factory=dict)  # logical id -> items (DynamoDB JSON, or RawJson)
    streams: dict[str, list[Any]] = field(default_factory=dict)  # logical id -> unread records (dicts, or RawJson)
    queues: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # logical id -> messages
    secrets: dict[str, str] = field(default_factory=dict)  # name -> SecretString
    demo: dict[str, Any] = field(default_factory=dict)  # the demo set-up (see LocalStack)
    wms: dict[str, Any] = field(default_factory=dict)  # the WMS simulator's orders (WmsSimulator.saved_orders)

    def sections(self) -> dict[str, Any]:
        """The document's top-level fields, as ``write_snapshot`` streams them."""
        return {
            "version": FORMAT_VERSION,
            "saved_at": self.saved_at,
            "tables": self.tables,
            "streams": self.streams,
            "queues": self.queues,
            "secrets": self.secrets,
            "demo": self.demo,
            "wms": self.wms,
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Snapshot:
        if document.get("version") != FORMAT_VERSION:
            raise ValueError(f"unknown state format {document.get('version')!r}")
        return cls(
            saved_at=float(document["saved_at"]),
            tables=document["tables"],
            streams=document.get("streams", {}),
            queues=document["queues"],
            secrets=document["secrets"],
            demo=document.get("demo", {}),
            wms=document.get("wms", {}),
        )

    def describe(self, table_labels: dict[str, str]) -> str:
        """``12 orders, 1 tenants, ...``: how many items per table, messages and secrets."""
        parts = [f"{len(self.tables.get(logical_id, []))} {label}" for logical_id, label in table_labels.items()]
        parts.append(f"{sum(len(messages) for messages in self.queues.values())} queued messages")
        parts.append(f"{len(self.secrets)} secrets")
        if self.wms.get("orders"):
            parts.append(f"{len(self.wms['orders'])} WMS simulator orders")
        return ", ".join(parts)


class RawJson(str):
    """One item or stream record, already JSON text: taken under the lock as text, not as a copy of
    its dicts (a few times smaller), and written to the file as it is."""


def _dumps(value: Any) -> str:
    return value if isinstance(value, RawJson) else json.dumps(value, separators=(",", ":"), default=_encode)


def _encode(value: Any) -> Any:
    """Binary attributes (``B``, e.g. the compressed order ``doc``) as base64 in the JSON file, and
    the times of stream records (``ApproximateCreationDateTime``) as ISO text."""
    if isinstance(value, bytes | bytearray):
        return {"__bytes__": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, datetime):
        return {"__datetime__": value.isoformat()}
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _decode(document: dict[str, Any]) -> Any:
    if len(document) == 1 and "__bytes__" in document:
        return base64.b64decode(document["__bytes__"])
    if len(document) == 1 and "__datetime__" in document:
        return datetime.fromisoformat(document["__datetime__"])
    return document


def _backends(region: str) -> tuple[Any, Any, Any]:
    from moto.dynamodb.models import dynamodb_backends
    from moto.secretsmanager.models import secretsmanager_backends
    from moto.sqs.models import sqs_backends

    from local_stack.template import ACCOUNT_ID

    return (
        dynamodb_backends[ACCOUNT_ID][region],
        sqs_backends[ACCOUNT_ID][region],
        secretsmanager_backends[ACCOUNT_ID][region],
    )


def take_snapshot(region: str, tables: Mapping[str, str], queues: Mapping[str, str], demo: dict[str, Any]) -> Snapshot:
    """Read the stack's tables (logical id -> name) and queues (logical id -> name) from moto."""
    dynamodb, sqs, secretsmanager = _backends(region)
    snapshot = Snapshot(demo=demo)
    records: dict[str, list[Any]] = {}
    with moto_patches.DYNAMODB_LOCK:  # one consistent cut across every table (every DynamoDB call waits)
        for logical_id, name in tables.items():
            table = dynamodb.tables.get(name)
            if table is None:
                continue
            snapshot.tables[logical_id] = [RawJson(_dumps(item.to_json()["Attributes"])) for item in table.all_items()]
            shard = table.stream_shard
            if shard is not None and shard.items:
                records[logical_id] = list(shard.items)  # a record never changes once written: read below
    for logical_id, unread in records.items():
        snapshot.streams[logical_id] = [RawJson(_dumps(record.to_json())) for record in unread]
    for logical_id, name in queues.items():
        queue = sqs.queues.get(name)
        if queue is None:
            continue
        snapshot.queues[logical_id] = [
            {"body": message.body, "attributes": message.message_attributes, "group_id": message.group_id}
            for message in list(queue._messages)
        ]
    for name, secret in list(secretsmanager.secrets.items()):
        text = getattr(secret, "secret_string", None)
        if isinstance(text, str) and not getattr(secret, "deleted_date", None):
            snapshot.secrets[name] = text
    return snapshot


def write_snapshot(path: Path, snapshot: Snapshot) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=3) as stream:
            _write_document(stream, snapshot)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


WRITE_CHUNK = 256 * 1024


def _write_document(stream: Any, snapshot: Snapshot) -> None:
    """The snapshot as one JSON document, written piece by piece: the file is never whole in memory
    (it was, three times over: dicts, text, bytes; the stack's RSS grew with its tables)."""
    buffered: list[str] = []
    size = 0

    def put(text: str) -> None:
        nonlocal size
        buffered.append(text)
        size += len(text)
        if size >= WRITE_CHUNK:
            flush()

    def flush() -> None:
        nonlocal size
        stream.write("".join(buffered).encode())
        buffered.clear()
        size = 0

    put("{")
    for index, (name, value) in enumerate(snapshot.sections().items()):
        put(("," if index else "") + json.dumps(name) + ":")
        if name in ("tables", "streams"):  # logical id -> list of items or records
            put("{")
            for number, (logical_id, entries) in enumerate(value.items()):
                put(("," if number else "") + json.dumps(logical_id) + ":[")
                for position, entry in enumerate(entries):
                    put(("," if position else "") + _dumps(entry))
                put("]")
            put("}")
        else:
            put(_dumps(value))
    put("}")
    flush()


def read_snapshot(path: Path) -> Snapshot | None:
    if not path.exists():
        return None
    with gzip.open(path, "rb") as stream:
        return Snapshot.from_json(json.loads(stream.read(), object_hook=_decode))


class _RestoredRecord:
    """A stream record read back from a snapshot, renumbered for the new stream."""

    def __init__(self, record: dict[str, Any], sequence_number: int) -> None:
        self.record = record
        self.record["dynamodb"]["SequenceNumber"] = str(sequence_number)

    def to_json(self) -> dict[str, Any]:
        return self.record


def restore(region: str, snapshot: Snapshot, tables: Mapping[str, str], queues: Mapping[str, str]) -> None:
    """Put ``snapshot`` into the (empty) tables, streams and queues of moto (the caller restores the
    secrets, through the API)."""
    dynamodb, sqs, _ = _backends(region)
    with moto_patches.DYNAMODB_LOCK:
        for logical_id, items in snapshot.tables.items():
            table = dynamodb.tables.get(tables.get(logical_id, ""))
            if table is None:
                continue
            shard, table.stream_shard = table.stream_shard, None  # restored items were streamed already
            try:
                for attributes in items:
                    table.put_item(attributes)
            finally:
                table.stream_shard = shard
            if shard is not None:
                for record in snapshot.streams.get(logical_id, []):
                    sequence = shard.starting_sequence_number + moto_patches.trimmed(shard) + len(shard.items)
                    shard.items.append(_RestoredRecord(record, sequence))
    for logical_id, messages in snapshot.queues.items():
        name = queues.get(logical_id)
        if name is None or name not in sqs.queues:
            continue
        for message in messages:
            sqs.send_message(
                name,
                message["body"],
                message_attributes=message.get("attributes") or None,
                delay_seconds=0,
                group_id=message.get("group_id"),
                validate_group_id=False,
            )
