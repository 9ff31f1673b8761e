"""A big table read on several connections at once, all holding the same snapshot.

The server formats every row (chunks.py), and one query runs on one server thread, so on a large table
that thread is what the dump waits for, and a single one leaves the server's other cores idle while
it waits on the network. The table's key span (its first primary-key column, an integer) is cut into
ranges, and each connection takes the next range as it finishes one, so none waits on another
however the keys are spread. Their INSERT statements go into the table's frame as they come: each
covers its own key range, so the interleaving changes nothing that loads.

Each connection is read in a thread of its own (pymysql's reads release the GIL while they wait on
the socket) and hands its statements over through a small bounded queue, so memory stays flat.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any, Final, TypeVar

import pymysql

from cloudbackup.mysql.chunks import KeySpan
from cloudbackup.mysql.server_text import text

# Below this much data a second query saves less than it costs to set up.
SPLIT_MIN_BYTES = 64 << 20
JOBS = 4  # connections reading a big table at once: the server formats rows on as many threads
RANGES_PER_JOB = 8  # enough that the connections end within a short range of each other
HANDOVER_DEPTH = 4
STOP_POLL_SECONDS = 0.1
UNKNOWN_SYSTEM_VARIABLE = 1193

T = TypeVar("T")
_DONE: Final = object()


def split_span(span: KeySpan, parts: int) -> list[KeySpan]:
    """`span` cut into up to `parts` consecutive spans of equal width; together they hold it once."""
    width = span.high - span.low
    edges = sorted({span.low + width * i // parts for i in range(parts + 1)})
    return [replace(span, low=low, high=high) for low, high in itertools.pairwise(edges)]


class RangeQueue:
    """The spans left to read, taken one at a time by whichever connection is free."""

    def __init__(self, spans: list[KeySpan]):
        self._left = iter(spans)
        self._lock = threading.Lock()

    def take(self) -> KeySpan | None:
        with self._lock:
            return next(self._left, None)


def big_tables(cur: Any, database: str, min_bytes: int = SPLIT_MIN_BYTES) -> set[str]:
    """The InnoDB tables of `database` that hold at least `min_bytes` of data (the server's estimate)."""
    fresh_table_statistics(cur)
    cur.execute(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND ENGINE = 'InnoDB'"
        " AND DATA_LENGTH >= %s",
        (database, min_bytes),
    )
    return {text(name) for (name,) in cur.fetchall()}


def fresh_table_statistics(cur: Any) -> None:
    """Let information_schema.TABLES show sizes as they are now, not as cached for a day.

    MySQL 8.0+ keeps a table's DATA_LENGTH and TABLE_ROWS for `information_schema_stats_expiry`
    seconds (24 hours by default): a table filled since it was last looked at shows as empty and
    would be read on one connection. MariaDB (and older MySQL) have no such cache or variable.
    """
    try:
        cur.execute("SET SESSION information_schema_stats_expiry = 0")
    except pymysql.err.OperationalError as exc:
        if not exc.args or exc.args[0] != UNKNOWN_SYSTEM_VARIABLE:
            raise


def read_ranges(
    connection: Any, ranges: RangeQueue, read: Callable[[Any, KeySpan], Iterator[T]]
) -> Iterator[T]:
    """`read(connection, span)` for each span this connection takes, until none is left."""
    while (span := ranges.take()) is not None:
        yield from read(connection, span)


def merge(readers: list[Iterator[T]], interrupt: Callable[[], None]) -> Iterator[T]:
    """Every item of every reader, each read in a thread of its own, in the order they are ready.

    An error in any reader is raised here, and the others stop. `interrupt` is called when this stops
    early (an error, or the consumer closing it) while readers may still be reading. It must wake
    them, for example by shutting their connections' sockets.
    """
    handover: queue.Queue[object] = queue.Queue(maxsize=HANDOVER_DEPTH * len(readers))
    stop = threading.Event()
    threads = [
        threading.Thread(target=_read_in_thread, args=(reader, handover, stop), daemon=True)
        for reader in readers
    ]
    for thread in threads:
        thread.start()
    running, finished = len(threads), False
    try:
        while running:
            ready = handover.get()
            if ready is _DONE:
                running -= 1
            else:
                yield _unwrap(ready)
        finished = True
    finally:
        if not finished:
            stop.set()
            interrupt()
        for thread in threads:
            thread.join()


def _unwrap(item: object) -> Any:
    if isinstance(item, BaseException):
        raise item
    return item


def _read_in_thread(reader: Iterator[T], handover: queue.Queue[object], stop: threading.Event) -> None:
    try:
        for item in reader:
            if not _hand_over(handover, item, stop):
                return
        _hand_over(handover, _DONE, stop)
    except BaseException as exc:  # handed to the consumer, which raises it
        _hand_over(handover, exc, stop)
    finally:
        _close(reader)


def _close(items: Iterator[Any]) -> None:
    """Close a generator (its `finally` runs now, in this thread); a plain iterator has nothing to close."""
    close = getattr(items, "close", None)
    if close is not None:
        close()


def _hand_over(handover: queue.Queue[object], item: object, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            handover.put(item, timeout=STOP_POLL_SECONDS)
            return True
        except queue.Full:
            continue
    return False
