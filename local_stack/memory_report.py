"""Diagnostics of the local stack's memory: what the process holds, written on demand.

``kill -USR1 <stack pid>`` (the pid is in ``<state-dir>/stack.lock``) appends a report to
``<state-dir>/memory.txt``: RSS, glibc's and Python's allocators, the biggest object types, what moto
keeps (items and stream records per table, messages and remembered receipt handles per queue) and,
for a sample of moto's items, what holds them. ``HUB_TRACEMALLOC=N`` adds allocation sites
(``tracemalloc``, see ``local_stack.__main__``)."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import sys
import threading
import time
from pathlib import Path
from typing import Any


def rss_mb() -> float:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")
    ]


def malloc_summary() -> str:
    """glibc's view of the heap: bytes in use, free inside the arenas, and mmap'd."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        info = libc.mallinfo2()
        return (
            f"malloc: in use {info.uordblks / 1e6:.0f} MB, free in arenas {info.fordblks / 1e6:.0f} MB, "
            f"arenas {info.arena / 1e6:.0f} MB, mmap'd {info.hblkhd / 1e6:.0f} MB ({info.hblks} blocks)"
        )
    return "malloc: n/a"


def objects_by_type() -> list[tuple[str, int, int]]:
    """(type, count, shallow bytes) of every object the garbage collector tracks, biggest first."""
    counts: dict[str, list[int]] = {}
    for thing in gc.get_objects():
        kind = type(thing)
        entry = counts.setdefault(f"{getattr(kind, '__module__', '?')}.{getattr(kind, '__qualname__', '?')}", [0, 0])
        entry[0] += 1
        entry[1] += sys.getsizeof(thing, 0)
    return sorted(((name, n, size) for name, (n, size) in counts.items()), key=lambda row: -row[2])


def moto_summary() -> list[str]:
    lines: list[str] = []
    dynamodb = sys.modules.get("moto.dynamodb.models")
    if dynamodb is not None:
        for account in list(dynamodb.dynamodb_backends.values()):
            for backend in list(account.values()):
                for name, table in list(backend.tables.items()):
                    shard = table.stream_shard
                    lines.append(
                        f"table {name}: {sum(1 for _ in table.all_items())} items, "
                        f"{len(shard.items) if shard is not None else 0} stream records kept"
                    )
    sqs = sys.modules.get("moto.sqs.models")
    if sqs is not None:
        for account in list(sqs.sqs_backends.values()):
            for backend in list(account.values()):
                for name, queue in list(backend.queues.items()):
                    lines.append(
                        f"queue {name}: {len(queue._messages)} messages, {len(queue._pending_messages)} in flight, "
                        f"{len(queue.deleted_messages)} deleted receipt handles"
                    )
    return lines


def holders(kind_name: str) -> list[str]:
    """The containers (lists, dicts, sets) that hold objects of type ``kind_name``, biggest first, each
    with what refers to it (a frame names its function and line)."""
    containers: list[Any] = []
    for container in gc.get_objects():
        if isinstance(container, list | set | dict) and container:
            values = container.values() if isinstance(container, dict) else container
            if type(next(iter(values))).__qualname__ == kind_name:
                containers.append(container)
    containers.sort(key=len, reverse=True)
    lines = [f"  {len(containers)} containers hold {sum(map(len, containers))} of them; the biggest:"]
    for container in containers[:8]:
        owners = [_label(owner) for owner in gc.get_referrers(container)[:4] if not _is_object_list(owner)]
        lines.append(f"  {len(container):7d}  {_label(container)} <- {'; '.join(owners)}")
    return lines


def _is_object_list(thing: Any) -> bool:
    return isinstance(thing, list) and len(thing) > 20000


def _label(thing: Any) -> str:
    kind = type(thing)
    text = f"{kind.__module__}.{kind.__qualname__}"
    if isinstance(thing, list | set | tuple):
        text += f"(len {len(thing)}: {', '.join(sorted({type(x).__name__ for x in list(thing)[:20]}))})"
    elif isinstance(thing, dict):
        text += f"(len {len(thing)}, keys {', '.join(repr(k)[:30] for k in list(thing)[:4])})"
    elif type(thing).__name__ == "frame":
        text += f"[{thing.f_code.co_name} {thing.f_code.co_filename}:{thing.f_lineno}]"
    elif hasattr(thing, "__name__"):
        text += f"[{getattr(thing, '__name__', '')}]"
    return text


def write_report(path: Path) -> None:
    """Append one report to ``path`` (call it on the main thread: it walks every object)."""
    started = time.perf_counter()
    before = rss_mb()
    lines = [f"== {time.strftime('%H:%M:%S')} RSS {before:.0f} MB  threads {threading.active_count()}  {malloc_summary()}"]
    lines.extend(moto_summary())
    items = sum(1 for thing in gc.get_objects() if type(thing).__qualname__ == "Item")
    unreachable = gc.collect()
    items_after = sum(1 for thing in gc.get_objects() if type(thing).__qualname__ == "Item")
    lines.append(f"moto Item objects: {items} ({items_after} after a full collection, which freed {unreachable} objects)")
    lines.append("objects by type (count, shallow MB):")
    lines.extend(f"  {count:9d} {size / 1e6:8.1f}  {name}" for name, count, size in objects_by_type()[:15])
    lines.append("what holds moto Items (sample):")
    lines.extend(holders("Item"))
    lines.append(f"(report took {time.perf_counter() - started:.1f} s; RSS now {rss_mb():.0f} MB)")
    with path.open("a") as out:
        out.write("\n".join(lines) + "\n")
